/**
 * One node of a process cluster: a provisioned TNIC device, a UDP socket,
 * and a queue pair to each configured peer, running the echo protocol
 * (systems/node/echo_message.ts). Every received message is verified on the
 * device before the protocol handles it. Malformed datagrams, malformed queue
 * pair messages and rejected attested messages are counted by reason.
 */

import type { ReceivedMessage, RejectionCounts } from '../../api/connection.ts';
import type { Tnic } from '../../api/tnic_api.ts';
import { QueuePair } from '../../api/verbs.ts';
import { InputError } from '../../sim/errors.ts';
import type { DropReason } from '../../stack/frame.ts';
import { UdpTransport } from '../../stack/udp_transport.ts';
import { decodeEcho, encodeEcho, requestPayload } from './echo_message.ts';
import type { NodeConfig, PeerConfig } from '../../stack/node/node_config.ts';

/** Maximum echo requests sent to one peer without a reply; later requests wait. */
const MAX_OUTSTANDING = 32;
/** Milliseconds a counter gap may stay open before the connection to that peer fails. */
const GAP_TIMEOUT_MS = 10_000;

export interface NodeOutput {
  /** A line of text for the log. */
  log(line: string): void;
  /** One machine-readable event, printed as a JSON line. */
  event(event: Record<string, unknown>): void;
}

export interface PeerStats {
  /** Echo requests sent to the peer. */
  sent: number;
  /** Replies from the peer that matched a request. */
  echoes: number;
  /** Requests from the peer, each returned in a reply. */
  requests: number;
  /** Verified messages that are no echo message, or replies that match no request. */
  unexpected: number;
  /** Verified messages delivered by the connection, of every kind. */
  delivered: number;
  rejected: RejectionCounts;
  /** Queue pair messages that did not parse. */
  malformed: number;
  /** The error that ended the connection; null while it works. */
  error: string | null;
}

export interface NodeStats {
  node: string;
  device: number;
  local: string;
  uptimeMs: number;
  delivered: number;
  rejected: Record<string, number>;
  malformed: number;
  datagrams: { received: number; dropped: Record<DropReason, number> };
  sendErrors: number;
  peers: Record<string, PeerStats>;
}

interface Peer {
  config: PeerConfig;
  qp: QueuePair;
  stats: PeerStats;
  /** Resolves the wait of the request sender when a reply arrives. */
  wake: (() => void) | undefined;
}

export class TnicNode {
  readonly #peers: Peer[];
  readonly #started = Date.now();
  #stopped = false;

  private constructor(
    readonly config: NodeConfig,
    readonly tnic: Tnic,
    readonly transport: UdpTransport,
    private readonly output: NodeOutput,
  ) {
    this.#peers = config.peers.map((peer) => this.#openPeer(peer));
  }

  /** Bind the UDP socket, open a queue pair to each peer and start the echo protocol; `tnic` must be locked. */
  static async start(config: NodeConfig, tnic: Tnic, output: NodeOutput): Promise<TnicNode> {
    const transport = await openTransport(config, output);
    const node = new TnicNode(config, tnic, transport, output);
    output.log(`node ${config.name} (device ${config.device}, ${config.backend}) listening on ${transport.local}`);
    output.event({ event: 'listening', node: config.name, local: transport.local });
    for (const peer of node.#peers) void node.#run(peer);
    return node;
  }

  stats(): NodeStats {
    const rejected: Record<string, number> = {};
    let delivered = 0;
    let malformed = 0;
    const peers: Record<string, PeerStats> = {};
    for (const peer of this.#peers) {
      const stats = this.#peerStats(peer);
      peers[peer.config.name] = stats;
      delivered += stats.delivered;
      malformed += stats.malformed;
      for (const [reason, count] of Object.entries(stats.rejected)) rejected[reason] = (rejected[reason] ?? 0) + count;
    }
    const endpoint = this.transport.stats;
    return {
      node: this.config.name,
      device: this.config.device,
      local: this.transport.local,
      uptimeMs: Date.now() - this.#started,
      delivered,
      rejected,
      malformed,
      datagrams: { received: endpoint.datagrams, dropped: { ...endpoint.dropped } },
      sendErrors: this.transport.sendErrors,
      peers,
    };
  }

  /** Close every connection and the socket; the device stays open for the caller to close. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const peer of this.#peers) peer.wake?.();
    await this.transport.close();
  }

  #openPeer(config: PeerConfig): Peer {
    const channel = this.transport.channel({ address: config.address, port: config.port }, 0, {
      rtoMs: this.config.retransmitTimeoutMs,
      maxRetries: this.config.maxRetries,
    });
    const qp = new QueuePair(this.tnic, channel, {
      session: config.session,
      peerDeviceId: config.device,
      gapTimeoutMs: GAP_TIMEOUT_MS,
    });
    const stats: PeerStats = {
      sent: 0,
      echoes: 0,
      requests: 0,
      unexpected: 0,
      delivered: 0,
      rejected: qp.connection.rejected,
      malformed: 0,
      error: null,
    };
    const peer: Peer = { config, qp, stats, wake: undefined };
    qp.onReadable = () => this.#onReadable(peer);
    return peer;
  }

  #peerStats(peer: Peer): PeerStats {
    return {
      ...peer.stats,
      delivered: peer.qp.connection.delivered,
      rejected: { ...peer.qp.connection.rejected },
      malformed: peer.qp.stats.malformed,
    };
  }

  /** Sync with the peer, then send its echo requests, at most MAX_OUTSTANDING unanswered. */
  async #run(peer: Peer): Promise<void> {
    const { name, send } = peer.config;
    try {
      const info = await peer.qp.sync();
      this.output.log(`peer ${name}: synced with device ${info.device}`);
      for (let index = 0; index < send && !this.#stopped; index++) {
        while (peer.stats.sent - peer.stats.echoes >= MAX_OUTSTANDING && !this.#stopped) {
          await new Promise<void>((resolve) => (peer.wake = resolve));
        }
        if (this.#stopped) return;
        const payload = requestPayload(this.config.device, index, this.config.messageBytes);
        await peer.qp.authSend(encodeEcho({ kind: 'request', index, payload }));
        peer.stats.sent += 1;
      }
    } catch (err) {
      this.#fail(peer, err);
    }
  }

  async #onReadable(peer: Peer): Promise<void> {
    if (this.#stopped) return;
    try {
      for (const m of await peer.qp.poll()) await this.#handle(peer, m);
    } catch (err) {
      this.#fail(peer, err);
    }
  }

  async #handle(peer: Peer, m: ReceivedMessage): Promise<void> {
    let echo;
    try {
      echo = decodeEcho(m.msg);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      peer.stats.unexpected += 1;
      return;
    }

    if (echo.kind === 'request') {
      peer.stats.requests += 1;
      await peer.qp.authSend(encodeEcho({ kind: 'reply', index: echo.index, payload: echo.payload }));
      return;
    }

    // The peer replies to requests in the order they arrive, so replies come in index order.
    const expected = requestPayload(this.config.device, echo.index, this.config.messageBytes);
    const inOrder = echo.index === peer.stats.echoes && echo.index < peer.stats.sent;
    if (!inOrder || Buffer.compare(expected, echo.payload) !== 0) {
      peer.stats.unexpected += 1;
      return;
    }
    peer.stats.echoes += 1;
    peer.wake?.();
    peer.wake = undefined;
    if (peer.stats.echoes === peer.config.send) {
      this.output.log(`peer ${peer.config.name}: all ${peer.config.send} echo replies verified`);
      const { name } = peer.config;
      this.output.event({ event: 'echo-done', node: this.config.name, peer: name, echoes: peer.stats.echoes });
    }
  }

  /** Record the first error of a peer's connection and log it once; later ones repeat it. */
  #fail(peer: Peer, err: unknown): void {
    if (this.#stopped || peer.stats.error !== null) return;
    peer.stats.error = err instanceof Error ? err.message : String(err);
    this.output.log(`peer ${peer.config.name}: ${peer.stats.error}`);
    const { name } = peer.config;
    this.output.event({ event: 'peer-failed', node: this.config.name, peer: name, error: peer.stats.error });
  }
}

async function openTransport(config: NodeConfig, output: NodeOutput): Promise<UdpTransport> {
  try {
    return await UdpTransport.open({
      address: config.address,
      port: config.port,
      onError: (error) => output.log(`udp ${config.address}:${config.port}: ${String(error)}`),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      throw new InputError(
        `config ${config.file}: cannot bind UDP ${config.address}:${config.port} (${code}); ` +
          "choose another 'port' or 'address'",
      );
    }
    throw err;
  }
}

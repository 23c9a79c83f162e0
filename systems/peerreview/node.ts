/**
 * What every stream node of PeerReview does, source and children alike:
 * it logs each stream message it sends and receives in its tamper-evident
 * log, and it responds to the witness's audit requests with pages of that log.
 *
 * A node attests each stream message with localSend, appends the wire
 * bytes to its log and only then sends them, so every message that leaves
 * is in the log. Received messages are verified by the node's Connection
 * (tag and counter) and logged in the order the device accepted them. All
 * handlers run one at a time, so an audit response always shows the log
 * between two handlers, never half of one.
 *
 * NOTE: audit requests and responses travel on the audit session and are
 * not logged, because a response contains the log itself.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { InputError } from '../../api/errors.ts';
import type { Tnic } from '../../api/tnic_api.ts';
import { trySend, type Channel, type Network } from '../replication/network.ts';
import { SerialQueue } from '../replication/serial.ts';
import { decodeJson, encodeJson } from '../replication/wire.ts';
import { TamperEvidentLog, type LogEntry } from './log.ts';
import {
  parseAuditRequest,
  parseStreamMessage,
  toBase64,
  type AuditResponse,
  type StreamMessage,
} from './messages.ts';
import type { StreamContent } from './reference.ts';
import { auditSession, linkSession, neighbours, nodeOf, type Topology } from './topology.ts';

/** Wire bytes of log entries per audit response, by default; the JSON adds about a third for base64. */
export const DEFAULT_MAX_PAGE_BYTES = 16_384;
/** Bounds of maxPageBytes: one entry must fit, and the response must stay under the 64 KiB message limit. */
export const MIN_PAGE_BYTES = 256;
export const MAX_PAGE_BYTES = 32_768;

export function checkPageBytes(maxPageBytes: number): void {
  if (!(Number.isInteger(maxPageBytes) && maxPageBytes >= MIN_PAGE_BYTES && maxPageBytes <= MAX_PAGE_BYTES)) {
    throw new InputError(`maxPageBytes ${maxPageBytes} must be an integer in ${MIN_PAGE_BYTES}..${MAX_PAGE_BYTES}`);
  }
}

export interface StreamNodeOptions {
  topology: Topology;
  name: string;
  tnic: Tnic;
  network: Network;
  maxPageBytes: number;
}

/** Messages a node received and verified but did not act on, by reason. */
export interface IgnoredCounts {
  'not-stream': number;
  'not-audit': number;
  unreachable: number;
}

export abstract class StreamNode {
  /** In host memory: a Byzantine node may change it (TamperEvidentLog.replace). */
  readonly log = new TamperEvidentLog();
  readonly ignored: IgnoredCounts = { 'not-stream': 0, 'not-audit': 0, unreachable: 0 };
  auditsAnswered = 0;

  protected readonly serial = new SerialQueue();
  protected readonly topology: Topology;
  readonly #channels = new Map<string, Channel>();
  readonly #audit: Connection;
  readonly #failed = new Set<Connection>();

  constructor(protected readonly options: StreamNodeOptions) {
    const { topology, name, tnic, network } = options;
    checkPageBytes(options.maxPageBytes);
    this.topology = topology;
    const host = network.node(name);
    for (const peer of neighbours(topology, name)) {
      const channel = host.channel(peer);
      const connection = new Connection(tnic, channel, linkSession(topology, name, peer)!, nodeOf(topology, peer).device);
      this.#channels.set(peer, channel);
      channel.onReadable = () => this.serial.run(() => this.#pollStream(peer, connection));
    }
    const witness = topology.witness;
    const auditChannel = host.channel(witness);
    this.#audit = new Connection(tnic, auditChannel, auditSession(topology, name), nodeOf(topology, witness).device);
    auditChannel.onReadable = () => this.serial.run(() => this.#pollAudit());
  }

  get name(): string {
    return this.options.name;
  }

  /** Handle a verified stream message that is already logged; `message` is undefined when it does not parse. */
  protected abstract onStreamMessage(peer: string, message: StreamMessage | undefined): Promise<void>;

  /** Runs after each audit response, with the first index the response did not cover. */
  protected async afterAuditResponse(_next: number): Promise<void> {}

  /**
   * Attest a stream message with a commitment to the log, log it and send
   * it. With `log` false the message goes out unlogged, which only a
   * Byzantine node does. Returns the log entry, or undefined when unlogged.
   */
  protected async sendStream(peer: string, content: StreamContent, log = true): Promise<LogEntry | undefined> {
    const index = this.log.length;
    const message: StreamMessage = { ...content, log: { index, hash: toBase64(this.log.hashBefore(index)) } };
    const session = linkSession(this.topology, this.name, peer)!;
    const wire = await this.options.tnic.localSend(session, encodeJson(message));
    const entry = log ? this.log.append('send', peer, wire) : undefined;
    if (!trySend(this.#channels.get(peer)!, wire)) this.ignored.unreachable += 1;
    return entry;
  }

  async #poll(connection: Connection): Promise<ReceivedMessage[]> {
    if (this.#failed.has(connection)) return [];
    try {
      return await connection.poll();
    } catch {
      // The channel failed: the peer crashed or the network is partitioned.
      this.#failed.add(connection);
      this.ignored.unreachable += 1;
      return [];
    }
  }

  async #pollStream(peer: string, connection: Connection): Promise<void> {
    for (const m of await this.#poll(connection)) {
      this.log.append('recv', peer, m.bytes);
      const message = parseStreamMessage(decodeJson(m.msg));
      if (message === undefined) this.ignored['not-stream'] += 1;
      await this.onStreamMessage(peer, message);
    }
  }

  async #pollAudit(): Promise<void> {
    for (const m of await this.#poll(this.#audit)) {
      const request = parseAuditRequest(decodeJson(m.msg));
      if (request === undefined) {
        this.ignored['not-audit'] += 1;
        continue;
      }
      // A log shorter than the requested index can only respond from its end.
      const from = Math.min(request.from, this.log.length);
      const page = this.log.page(from, this.options.maxPageBytes);
      const response: AuditResponse = {
        t: 'audit-response',
        nonce: request.nonce,
        from,
        prevHash: toBase64(this.log.hashBefore(from)),
        entries: page.map((e) => ({ kind: e.kind, peer: e.peer, wire: toBase64(e.wire) })),
        more: from + page.length < this.log.length,
      };
      if (this.#audit.error) return; // the witness is unreachable
      await this.#audit.authSend(encodeJson(response));
      this.auditsAnswered += 1;
      await this.afterAuditResponse(from + page.length);
    }
  }
}

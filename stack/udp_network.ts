/**
 * The systems' network over real UDP: every node gets its own socket on
 * 127.0.0.1 (by default), and the nodes exchange real datagrams through the
 * operating system. It offers the simulated network's interface (nodes with
 * host hooks, link faults, partitions, run and runFor), so a fault scenario
 * written for the simulated network runs unchanged over UDP.
 *
 * Faults are drawn from the same seeded fault model as on the simulated
 * network and applied on the sending side, before the datagram reaches the
 * socket. Timing is the machine's own, so a run is not repeatable event for
 * event; only the fault draws follow the seed. Times are wall-clock
 * milliseconds since the network was created.
 *
 * run() without `untilMs` returns once the network is idle: no timer is
 * pending (the reliable channel keeps one while anything is unacknowledged),
 * no readable handler is still running, and no datagram is in flight.
 *
 * Across processes, each process creates its own nodes, usually one bound
 * to a configured port, and names the others with addRemote. A remote node
 * is only an address, reached through the same faults and hooks.
 */

import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';

import { InputError, TnicError } from '../sim/errors.ts';
import { Prng } from '../sim/prng.ts';
import { ChannelTable, type EndpointStats } from './channel_table.ts';
import {
  LinkFaultModel,
  PERFECT_LINK,
  type FrameHook,
  type LinkFaults,
  type NetworkStats,
} from './link_faults.ts';
import type { ReliableOptions } from './reliable_channel.ts';
import { DEFAULT_MAX_EVENTS, HostChannel, type HostHook, type HostNode, type RunOptions } from './sim_network.ts';
import type { Clock } from './transport.ts';
import { bindUdpSocket } from './udp_transport.ts';

/** Loopback already delays each datagram a little, so by default the fault model adds no latency. */
export const UDP_NO_FAULTS: LinkFaults = { ...PERFECT_LINK, minLatencyMs: 0, maxLatencyMs: 0 };

export interface UdpNetworkOptions {
  /** IPv4 address every node binds (default 127.0.0.1). */
  address?: string;
  /** Faults of every link, on top of UDP_NO_FAULTS. */
  faults?: Partial<LinkFaults>;
  /** Wall-clock milliseconds one run() may take before it fails (default 120,000). */
  maxRunMs?: number;
}

/** Poll interval of run(), in wall-clock milliseconds. */
const POLL_MS = 2;
/** The network counts as idle only after this many milliseconds without a datagram or timer. */
const QUIET_MS = 20;
/** A datagram not received this long after the last activity is taken as lost by the OS. */
const LOST_AFTER_MS = 500;

export class UdpNetwork {
  readonly prng: Prng;
  readonly stats: NetworkStats;
  readonly clock: Clock;
  readonly address: string;
  readonly maxRunMs: number;

  #start = performance.now();
  #links: LinkFaultModel;
  #nodes = new Map<string, UdpNode>();
  /** Node name of every local and remote "address:port". */
  #nameOfEndpoint = new Map<string, string>();
  #remotes = new Map<string, { address: string; port: number }>();
  #timers = new Set<NodeJS.Timeout>();
  #pending = new Set<Promise<void>>();
  #failure: unknown;
  #inFlight = 0;
  #lastActivity = 0;
  #events = 0;
  #running = false;
  #closed = false;

  constructor(
    readonly seed: number,
    options: UdpNetworkOptions = {},
  ) {
    this.address = options.address ?? '127.0.0.1';
    this.maxRunMs = options.maxRunMs ?? 120_000;
    if (!(Number.isInteger(this.maxRunMs) && this.maxRunMs > 0)) {
      throw new InputError(`maxRunMs ${this.maxRunMs} must be a positive whole number of milliseconds`);
    }
    this.prng = new Prng(seed);
    this.#links = new LinkFaultModel(this.prng, { ...UDP_NO_FAULTS, ...options.faults });
    this.stats = this.#links.stats;
    this.clock = {
      now: () => this.now,
      setTimer: (delayMs, fn) => this.#setTimer(delayMs, () => this.settle(fn())),
    };
  }

  /** Wall-clock milliseconds since the network was created. */
  get now(): number {
    return performance.now() - this.#start;
  }

  /**
   * Return the node called `name`, creating it and binding its socket on
   * first use, to `port` or else to one the OS picks.
   */
  node(name: string, port = 0): UdpNode {
    if (this.#closed) throw new TnicError('transport-closed', `UDP network is closed; node '${name}' cannot open`);
    if (this.#remotes.has(name)) throw new InputError(`node '${name}' is a remote node of this network, not a local one`);
    let node = this.#nodes.get(name);
    if (!node) {
      if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
        throw new InputError(`UDP port ${port} of node '${name}' must be an integer in 0..65535`);
      }
      node = new UdpNode(name, this, port);
      this.#nodes.set(name, node);
      node.ready.then(
        (bound) => this.#nameOfEndpoint.set(`${this.address}:${bound}`, name),
        (error: unknown) => this.#fail(error),
      );
    }
    return node;
  }

  /** Name node `name` of another process, reached at `address:port`. */
  addRemote(name: string, address: string, port: number): void {
    if (this.#nodes.has(name)) throw new InputError(`node '${name}' is already a local node of this network`);
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new InputError(`UDP port ${port} of remote node '${name}' must be an integer in 1..65535`);
    }
    this.#remotes.set(name, { address, port });
    this.#nameOfEndpoint.set(`${address}:${port}`, name);
  }

  /** Replaceable at any time; called with every datagram after the random faults. */
  get onFrame(): FrameHook | undefined {
    return this.#links.onFrame;
  }

  set onFrame(hook: FrameHook | undefined) {
    this.#links.onFrame = hook;
  }

  setFaults(faults: Partial<LinkFaults>, from?: string, to?: string): void {
    this.#links.setFaults(faults, from, to);
  }

  partition(side: readonly string[], other: readonly string[]): void {
    this.#links.partition(side, other);
  }

  heal(): void {
    this.#links.heal();
  }

  /**
   * Wait until wall-clock time `untilMs`, or without it until the network is
   * idle. Returns the events (timers fired and datagrams received) during the run.
   */
  async run(options: RunOptions = {}): Promise<number> {
    const untilMs = options.untilMs ?? Infinity;
    const maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (this.#running) throw new TnicError('sim-busy', 'UdpNetwork.run is already running; await it first');
    this.#running = true;
    const firstEvent = this.#events;
    const deadline = performance.now() + this.maxRunMs;
    try {
      await Promise.all([...this.#nodes.values()].map((node) => node.ready));
      for (;;) {
        this.#throwFailure();
        const events = this.#events - firstEvent;
        if (events > maxEvents) {
          throw new TnicError(
            'sim-event-limit',
            `UDP network ran ${maxEvents} events and had more at ${this.now.toFixed(0)} ms (seed ${this.seed}); ` +
              'a protocol may loop forever, or raise maxEvents',
          );
        }
        if (Number.isFinite(untilMs) ? this.now >= untilMs : this.#idle()) return events;
        if (performance.now() > deadline) {
          throw new TnicError(
            'udp-run-timeout',
            `UDP network run did not finish within ${this.maxRunMs} ms (${this.#timers.size} timers, ` +
              `${this.#pending.size} handlers, ${this.#inFlight} datagrams in flight; seed ${this.seed}); ` +
              'raise maxRunMs if the workload is large',
          );
        }
        const wait = Number.isFinite(untilMs) ? Math.min(POLL_MS, Math.max(0, untilMs - this.now)) : POLL_MS;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    } finally {
      this.#running = false;
    }
  }

  async runFor(ms: number): Promise<number> {
    return this.run({ untilMs: this.now + ms });
  }

  /** Close every channel and socket and cancel every timer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all([...this.#nodes.values()].map((node) => node.close()));
  }

  /** Send a datagram from node `from` to node `to` through the faults of their link. */
  transmit(from: string, to: string, bytes: Uint8Array): void {
    if (this.#closed) return;
    const target = this.#nodes.get(to) ?? this.#remotes.get(to);
    const source = this.#nodes.get(from);
    if (!target || !source) return;
    for (const arrival of this.#links.transmit(from, to, bytes, this.now)) {
      const delay = arrival.atMs - this.now;
      if (delay <= 0) this.#send(source, target, arrival.bytes);
      else this.#setTimer(delay, () => this.#send(source, target, arrival.bytes));
    }
  }

  /** Track what a readable handler or timer returned; a rejection fails the current or next run. */
  settle(result: void | Promise<void>): void {
    if (!(result instanceof Promise)) return;
    this.#pending.add(result);
    result.then(
      () => this.#pending.delete(result),
      (error: unknown) => {
        this.#pending.delete(result);
        this.#fail(error);
      },
    );
  }

  /** Hand a datagram that `node` received from `address:port` to its channel table. */
  receive(node: UdpNode, address: string, port: number, bytes: Uint8Array): void {
    this.#touch();
    const from = this.#nameOfEndpoint.get(`${address}:${port}`);
    if (from !== undefined) {
      this.#inFlight = Math.max(0, this.#inFlight - 1);
      this.stats.framesDelivered += 1;
    }
    node.table.dispatch(from ?? `${address}:${port}`, bytes);
  }

  #send(source: UdpNode, target: UdpNode | { address: string; port: number }, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#inFlight += 1;
    this.#touch();
    const endpoint =
      target instanceof UdpNode
        ? target.ready.then((port) => ({ address: this.address, port }))
        : Promise.resolve(target);
    Promise.all([source.ready, endpoint])
      .then(([, { address, port }]) => source.sendDatagram(bytes, port, address))
      .catch((error: unknown) => {
        this.#inFlight = Math.max(0, this.#inFlight - 1);
        if (!this.#closed) this.#fail(error);
      });
  }

  #setTimer(delayMs: number, fn: () => void): () => void {
    if (this.#closed) return () => {};
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        this.#touch();
        if (!this.#closed) fn();
      },
      Math.max(0, delayMs),
    );
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }

  #touch(): void {
    this.#events += 1;
    this.#lastActivity = this.now;
  }

  #idle(): boolean {
    if (this.#timers.size > 0 || this.#pending.size > 0) return false;
    const quiet = this.now - this.#lastActivity;
    if (this.#inFlight > 0 && quiet < LOST_AFTER_MS) return false;
    return quiet >= QUIET_MS;
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
  }

  #throwFailure(): void {
    if (this.#failure === undefined) return;
    const error = this.#failure;
    this.#failure = undefined;
    throw error;
  }
}

/** A host on the UDP network: its socket, its channels and its Byzantine hook. */
export class UdpNode implements HostNode {
  readonly table: ChannelTable;
  /** Replaceable at any time; receives every message this node's host sends. */
  byzantine: HostHook | undefined;
  /** Resolves to the bound UDP port. */
  readonly ready: Promise<number>;
  #socket: Socket | undefined;

  constructor(
    readonly name: string,
    readonly network: UdpNetwork,
    port: number,
  ) {
    this.table = new ChannelTable(name, {
      clock: network.clock,
      output: (peer, frame) => network.transmit(name, peer, frame),
      settle: (result) => network.settle(result),
    });
    this.ready = bindUdpSocket(network.address, port).then((socket) => {
      this.#socket = socket;
      socket.on('message', (message, remote) => {
        const bytes = new Uint8Array(message.buffer, message.byteOffset, message.length);
        network.receive(this, remote.address, remote.port, bytes);
      });
      return socket.address().port;
    });
  }

  get stats(): EndpointStats {
    return this.table.stats;
  }

  /** Open the channel to node `peer`; the peer opens its end with the same connection id. */
  channel(peer: string, connection = 0, options: ReliableOptions = {}): HostChannel {
    return new HostChannel(this, peer, connection, this.table.open(peer, connection, options));
  }

  sendDatagram(bytes: Uint8Array, port: number, address: string): Promise<void> {
    const socket = this.#socket;
    if (!socket) return Promise.reject(new TnicError('transport-closed', `node '${this.name}' has no socket`));
    return new Promise((resolve, reject) => {
      socket.send(bytes, port, address, (error) => (error ? reject(error) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.table.closeAll();
    await this.ready.catch(() => undefined);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

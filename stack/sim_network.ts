/**
 * A deterministic simulated network in virtual time. Nodes exchange the
 * same datagrams as over UDP, and every fault is drawn from one seeded PRNG:
 * latency, bandwidth, drop, duplication, reordering, corruption and
 * partitions. Given the seed and the same calls, a run repeats exactly,
 * because the network advances only inside run() and waits for every
 * readable handler to settle before its next event.
 *
 * Two kinds of hooks let a test play an attacker. A host hook
 * (`SimNode.byzantine`) receives every message its node sends above the
 * reliable channel, as a compromised host would: it may tamper with it,
 * replace it, replay old ones, send different messages to different peers
 * (equivocation) or delay it. A frame hook (`SimNetwork.onFrame`) sees every
 * datagram on the wire.
 */

import { TnicError } from '../sim/errors.ts';
import { Prng } from '../sim/prng.ts';
import { ChannelTable, type EndpointStats } from './channel_table.ts';
import { EventQueue } from './event_queue.ts';
import { LinkFaultModel, PERFECT_LINK, type FrameHook, type LinkFaults, type NetworkStats } from './link_faults.ts';
import type { ReliableChannel, ReliableOptions } from './reliable_channel.ts';
import type { Clock, MessageChannel, ReadableHandler, TransportError } from './transport.ts';

export {
  PERFECT_LINK,
  type FrameHook,
  type LinkFaults,
  type NetworkStats,
  type WireFrame,
} from './link_faults.ts';

/** A message that a node's host is about to hand to the reliable channel. */
export interface HostMessage {
  from: string;
  to: string;
  connection: number;
  bytes: Uint8Array;
}

/** A message the host sends instead, optionally `delayMs` of virtual time later. */
export type HostOutput = Uint8Array | { bytes: Uint8Array; delayMs: number };

/** Returns what the host really sends: [] suppresses the message, more entries send others too. */
export type HostHook = (message: HostMessage) => readonly HostOutput[];

export interface RunOptions {
  /** Stop before the first event after this virtual time. */
  untilMs?: number;
  /** Events before the run fails, as a guard against a run that never ends. */
  maxEvents?: number;
}

export const DEFAULT_MAX_EVENTS = 1_000_000;

export class SimNetwork {
  readonly prng: Prng;
  readonly stats: NetworkStats;
  readonly clock: Clock;

  #now = 0;
  #events = new EventQueue();
  #nodes = new Map<string, SimNode>();
  #links: LinkFaultModel;
  #pending: Promise<void>[] = [];
  #running = false;

  constructor(
    readonly seed: number,
    faults: Partial<LinkFaults> = {},
  ) {
    this.prng = new Prng(seed);
    this.#links = new LinkFaultModel(this.prng, { ...PERFECT_LINK, ...faults });
    this.stats = this.#links.stats;
    this.clock = {
      now: () => this.#now,
      setTimer: (delayMs, fn) => {
        const event = this.#events.push(this.#now + Math.max(0, delayMs), () => this.settle(fn()));
        return () => {
          event.cancelled = true;
        };
      },
    };
  }

  /** Virtual time in milliseconds. */
  get now(): number {
    return this.#now;
  }

  /** The node called `name`, created on first use. */
  node(name: string): SimNode {
    let node = this.#nodes.get(name);
    if (!node) {
      node = new SimNode(name, this);
      this.#nodes.set(name, node);
    }
    return node;
  }

  /** Replaceable at any time; called with every datagram after the random faults. */
  get onFrame(): FrameHook | undefined {
    return this.#links.onFrame;
  }

  set onFrame(hook: FrameHook | undefined) {
    this.#links.onFrame = hook;
  }

  /** Set the faults of every link, or of the directed link `from -> to` only. */
  setFaults(faults: Partial<LinkFaults>, from?: string, to?: string): void {
    this.#links.setFaults(faults, from, to);
  }

  /** Cut every link between a node of `side` and a node of `other`, both ways. */
  partition(side: readonly string[], other: readonly string[]): void {
    this.#links.partition(side, other);
  }

  /** Restore every cut link. */
  heal(): void {
    this.#links.heal();
  }

  /**
   * Run events in virtual-time order until none is left (or `untilMs`),
   * awaiting the readable handlers after each. Returns the events run.
   */
  async run(options: RunOptions = {}): Promise<number> {
    const untilMs = options.untilMs ?? Infinity;
    const maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (this.#running) throw new TnicError('sim-busy', 'SimNetwork.run is already running; await it first');
    this.#running = true;
    try {
      let count = 0;
      await this.#settle();
      for (let next = this.#events.peek(); next && next.time <= untilMs; next = this.#events.peek()) {
        if (count >= maxEvents) {
          throw new TnicError(
            'sim-event-limit',
            `simulation ran ${maxEvents} events and had more at ${this.#now} ms (seed ${this.seed}); ` +
              'a protocol may loop forever, or raise maxEvents',
          );
        }
        this.#events.pop();
        this.#now = next.time;
        next.run();
        count += 1;
        await this.#settle();
      }
      if (Number.isFinite(untilMs)) this.#now = Math.max(this.#now, untilMs);
      return count;
    } finally {
      this.#running = false;
    }
  }

  /** Run for `ms` of virtual time from now. */
  async runFor(ms: number): Promise<number> {
    return this.run({ untilMs: this.#now + ms });
  }

  /** Send a datagram from `from` to `to` through the faults of their link. */
  transmit(from: string, to: string, bytes: Uint8Array): void {
    for (const arrival of this.#links.transmit(from, to, bytes, this.#now)) {
      this.#events.push(arrival.atMs, () => {
        this.stats.framesDelivered += 1;
        this.#nodes.get(to)?.table.dispatch(from, arrival.bytes);
      });
    }
  }

  /** Collect what a readable handler returned, for run() to await. */
  settle(result: void | Promise<void>): void {
    if (result instanceof Promise) this.#pending.push(result);
  }

  async #settle(): Promise<void> {
    while (this.#pending.length > 0) await Promise.all(this.#pending.splice(0));
  }
}

/** A host on the simulated network: its channels and its Byzantine hook. */
export class SimNode {
  readonly table: ChannelTable;
  /** Replaceable at any time; sees every message this node's host sends. */
  byzantine: HostHook | undefined;

  constructor(
    readonly name: string,
    readonly network: SimNetwork,
  ) {
    this.table = new ChannelTable(name, {
      clock: network.clock,
      output: (peer, frame) => network.transmit(name, peer, frame),
      settle: (result) => network.settle(result),
    });
  }

  get stats(): EndpointStats {
    return this.table.stats;
  }

  /** Open the channel to node `peer`; the peer opens its end with the same connection id. */
  channel(peer: string, connection = 0, options: ReliableOptions = {}): HostChannel {
    return new HostChannel(this, peer, connection, this.table.open(peer, connection, options));
  }
}

/** A network node as its channels see it: a name and a replaceable host hook. */
export interface HostNode {
  readonly name: string;
  byzantine: HostHook | undefined;
}

/** A node's end of a channel, with the node's host hook in its send path. */
export class HostChannel implements MessageChannel {
  constructor(
    readonly node: HostNode,
    readonly peer: string,
    readonly connection: number,
    readonly reliable: ReliableChannel,
  ) {}

  get name(): string {
    return this.reliable.name;
  }

  get clock(): Clock {
    return this.reliable.clock;
  }

  get error(): TransportError | undefined {
    return this.reliable.error;
  }

  get onReadable(): ReadableHandler | undefined {
    return this.reliable.onReadable;
  }

  set onReadable(handler: ReadableHandler | undefined) {
    this.reliable.onReadable = handler;
  }

  send(bytes: Uint8Array): void {
    const hook = this.node.byzantine;
    if (!hook) {
      this.reliable.send(bytes);
      return;
    }
    const message = { from: this.node.name, to: this.peer, connection: this.connection, bytes: bytes.slice() };
    for (const output of hook(message)) {
      if (output instanceof Uint8Array) {
        this.reliable.send(output);
      } else {
        const delayed = output.bytes.slice();
        this.clock.setTimer(output.delayMs, () => this.sendRaw(delayed));
      }
    }
  }

  /** Send bytes past the host hook, e.g. to replay or forge a message as this host. */
  sendRaw(bytes: Uint8Array): void {
    if (this.reliable.error) return;
    this.reliable.send(bytes);
  }

  receive(): Uint8Array[] {
    return this.reliable.receive();
  }

  close(): void {
    this.reliable.close();
  }
}

/**
 * Reliable Connection transport of RoCE v2, one queue pair per direction of
 * a connection. The requester numbers packets with 24-bit PSNs and keeps
 * every unacknowledged packet. On a NAK (PSN sequence error) or a
 * retransmission timeout it goes back to the oldest unacknowledged packet
 * and sends everything from there again (go-back-N). The responder accepts only
 * the expected PSN, acknowledges cumulatively, acknowledges duplicates again,
 * and sends one NAK per gap.
 *
 * Invariant of the requester: the i-th packet of its list, from `#first`,
 * has PSN `psnAt(#base + i)`. Packets before `#next` have been sent at least
 * once, and `#cursor` is the packet at `#next` (undefined when all were sent).
 */

import type { EventQueue } from './event_queue.ts';
import { AETH_ACK, AETH_NAK, NAK_PSN_SEQUENCE_ERROR, OPCODE, type RocePacket, type RoceFields } from './roce_codec.ts';

export const PSN_MODULUS = 1 << 24;

/** Default of Requester's onAcked, shared so that a requester does not carry a closure of its own. */
function ignoreAcked(): void {}

/**
 * Timer state of every requester on one event queue, indexed by the requester's slot: the
 * retransmission timer generation, and the time of the pending wake-up (Infinity for none).
 * A timer event compares its generation with this table instead of with a field of its
 * requester, because most timers are stale (re-armed or stopped since). The table takes 12
 * bytes per requester, so it stays in the cache while thousands of requester objects do not. The wake-up
 * time sits here rather than in a field because V8 keeps a changing non-integer field in a
 * heap box of its own, one more cache line to miss.
 */
class RequesterTimers {
  generations = new Int32Array(64);
  wakeAt = new Float64Array(64).fill(Infinity);
  count = 0;

  /** Reserve the slot of a new requester, whose generation starts at 0 and which has no wake-up. */
  add(): number {
    if (this.count === this.generations.length) {
      const generations = new Int32Array(this.generations.length * 2);
      generations.set(this.generations);
      this.generations = generations;
      const wakeAt = new Float64Array(this.wakeAt.length * 2).fill(Infinity);
      wakeAt.set(this.wakeAt);
      this.wakeAt = wakeAt;
    }
    return this.count++;
  }
}

const REQUESTER_TIMERS = new WeakMap<EventQueue, RequesterTimers>();

function requesterTimersOf(queue: EventQueue): RequesterTimers {
  let table = REQUESTER_TIMERS.get(queue);
  if (table === undefined) {
    table = new RequesterTimers();
    REQUESTER_TIMERS.set(queue, table);
  }
  return table;
}

/** Distance from `from` to `to` going forward in PSN space, in [0, 2^24). */
export function psnDistance(from: number, to: number): number {
  return (to - from + PSN_MODULUS) % PSN_MODULUS;
}

/** A packet to send: the transport fills in the BTH PSN, AckReq and the addressing. */
export interface OutgoingPacket {
  opcode: number;
  payload: Uint8Array;
  reth?: RocePacket['reth'];
  /** AckReq: set on the last packet of each message by the caller. */
  ackReq: boolean;
  /** Earliest time the packet may leave (its bytes are ready), in ns. */
  readyAt: number;
}

/** A packet in the requester's window, with the fields `enqueue` sets. */
export interface QueuedPacket extends OutgoingPacket {
  psn: number;
  everSent: boolean;
  /** The next packet in the window, which links the window into a list. */
  nextQueued: QueuedPacket | undefined;
}

export interface TransportCounters {
  packetsSent: number;
  retransmitted: number;
  timeouts: number;
  naksReceived: number;
  acksReceived: number;
}

export interface RequesterConfig {
  maxInflightPackets: number;
  retransmitTimeoutNs: number;
  ackEveryPackets: number;
  txPipelineNs: number;
}

/**
 * Sends packets with their PSN through `transmit(context, packet)`, which
 * encodes and queues a frame. The callbacks take the caller's context (the
 * connection) as an argument instead of closing over it, so that thousands
 * of requesters share one function object.
 */
export class Requester<C = unknown> {
  // Counters are fields rather than an object of their own, so counting touches no extra cache line.
  #packetsSent = 0;
  #retransmitted = 0;
  #timeouts = 0;
  #naksReceived = 0;
  #acksReceived = 0;
  // The window is a linked list rather than an array, so that a requester
  // whose state has left the cache costs no extra miss on an array's storage.
  /** Oldest unacknowledged packet, with global index `#base`. */
  #first: QueuedPacket | undefined = undefined;
  #last: QueuedPacket | undefined = undefined;
  /** The packet at global index `#next`, or undefined when every queued packet has been sent. */
  #cursor: QueuedPacket | undefined = undefined;
  /** Packets in the window. */
  #count = 0;
  /** Global index of `#first`. */
  #base = 0;
  /** Global index of the next packet to (re)send. */
  #next = 0;
  /**
   * Table that contains this requester's timer generation and wake-up time at index `#timerSlot`.
   * The generation wraps from 2^31 - 1 to -2^31, so a stale timer could match only after 2^32
   * re-arms.
   */
  readonly #timers: RequesterTimers;
  readonly #timerSlot: number;
  #timerArmed = false;

  constructor(
    readonly queue: EventQueue,
    readonly config: RequesterConfig,
    readonly firstPsn: number,
    readonly transmit: (context: C, packet: QueuedPacket) => void,
    readonly context: C,
    /** Called with the global packet index up to which (exclusive) everything is acknowledged. */
    readonly onAcked: (ackedThrough: number) => void = ignoreAcked,
  ) {
    this.#timers = requesterTimersOf(queue);
    this.#timerSlot = this.#timers.add();
  }

  /** Snapshot of the counters. */
  get counters(): TransportCounters {
    return {
      packetsSent: this.#packetsSent,
      retransmitted: this.#retransmitted,
      timeouts: this.#timeouts,
      naksReceived: this.#naksReceived,
      acksReceived: this.#acksReceived,
    };
  }

  psnAt(index: number): number {
    return (this.firstPsn + index) % PSN_MODULUS;
  }

  /** Packets queued so far; the next one gets this global index. */
  get queued(): number {
    return this.#base + this.#count;
  }

  get unacknowledged(): number {
    return this.#count;
  }

  /** Queue `packet` and send what the window allows. The requester takes `packet` over and sets its QueuedPacket fields. */
  enqueue(packet: OutgoingPacket): number {
    const index = this.queued;
    const everyN = (index + 1) % this.config.ackEveryPackets === 0;
    const queued = packet as QueuedPacket;
    queued.ackReq = packet.ackReq || everyN;
    queued.psn = this.psnAt(index);
    queued.everSent = false;
    queued.nextQueued = undefined;
    if (this.#last === undefined) this.#first = queued;
    else this.#last.nextQueued = queued;
    this.#last = queued;
    this.#count++;
    this.#cursor ??= queued;
    this.#pump();
    return index;
  }

  /** Handle an ACK or NAK from the responder. A packet without an AETH is ignored. */
  onAcknowledge(packet: RoceFields): void {
    const syndrome = packet.syndrome;
    if (syndrome < 0) return;
    const isNak = (syndrome & 0xe0) === AETH_NAK;
    if (isNak && (syndrome & 0x1f) === NAK_PSN_SEQUENCE_ERROR) {
      this.#naksReceived++;
      // The NAK carries the PSN the responder expects: everything before it arrived.
      this.#ackThrough(packet.psn, false);
      this.#goBack();
      return;
    }
    if ((syndrome & 0xe0) === AETH_ACK) {
      this.#acksReceived++;
      this.#ackThrough(packet.psn, true);
      this.#pump();
    }
  }

  /** Acknowledge up to `psn` (inclusive when `inclusive`); stale PSNs are ignored. */
  #ackThrough(psn: number, inclusive: boolean): void {
    const distance = psnDistance(this.psnAt(this.#base), psn) + (inclusive ? 1 : 0);
    const sentCount = this.#next - this.#base;
    if (distance === 0 || distance > sentCount) return;
    // Only sent packets are acknowledged, so `#cursor` stays in the list.
    for (let i = 0; i < distance; i++) {
      const acked = this.#first!;
      this.#first = acked.nextQueued;
      acked.nextQueued = undefined;
    }
    this.#count -= distance;
    if (this.#count === 0) this.#last = undefined;
    this.#base += distance;
    this.onAcked(this.#base);
    if (this.#count === 0 || this.#next === this.#base) this.#stopTimer();
    else this.#armTimer();
  }

  #goBack(): void {
    if (this.#next > this.#base) {
      this.#next = this.#base;
      this.#cursor = this.#first;
    }
    this.#pump();
  }

  /** Send every ready packet the window allows; wake up when the next one becomes ready. */
  #pump(): void {
    const now = this.queue.now;
    while (this.#cursor !== undefined) {
      if (this.#next - this.#base >= this.config.maxInflightPackets) return;
      const p = this.#cursor;
      if (p.readyAt > now) {
        this.#wakeUp(p.readyAt);
        return;
      }
      if (p.everSent) this.#retransmitted++;
      p.everSent = true;
      this.#packetsSent++;
      this.#next++;
      this.#cursor = p.nextQueued;
      this.transmit(this.context, p);
      if (!this.#timerArmed) this.#armTimer();
    }
  }

  #wakeUp(at: number): void {
    const wakeAt = this.#timers.wakeAt;
    const pending = wakeAt[this.#timerSlot]!;
    if (at >= pending && pending > this.queue.now) return;
    wakeAt[this.#timerSlot] = at;
    this.queue.call(at, Requester.#onWake, this, at);
  }

  /** Event handler of a wake-up scheduled for time `at`. */
  static #onWake<T>(requester: Requester<T>, at: number): void {
    const wakeAt = requester.#timers.wakeAt;
    if (wakeAt[requester.#timerSlot] === at) wakeAt[requester.#timerSlot] = Infinity;
    requester.#pump();
  }

  #armTimer(): void {
    const generations = this.#timers.generations;
    const generation = (generations[this.#timerSlot]! + 1) | 0;
    generations[this.#timerSlot] = generation;
    this.#timerArmed = true;
    const timeout = this.config.retransmitTimeoutNs;
    this.queue.callAfter(timeout, Requester.#onTimer, this, generation, this.#timers, this.#timerSlot);
  }

  /**
   * Event handler of the retransmission timer armed as `generation`; a timer re-armed or
   * stopped since does nothing. It reads the table before the requester, so a stale timer
   * touches no requester state.
   */
  static #onTimer<T>(
    requester: Requester<T>,
    generation: number,
    timers: RequesterTimers,
    slot: number,
  ): void {
    if (generation !== timers.generations[slot]) return;
    requester.#timerArmed = false;
    if (requester.#count === 0) return;
    requester.#timeouts++;
    requester.#goBack();
  }

  #stopTimer(): void {
    const generations = this.#timers.generations;
    generations[this.#timerSlot] = (generations[this.#timerSlot]! + 1) | 0;
    this.#timerArmed = false;
  }
}

export interface ResponderCounters {
  accepted: number;
  duplicates: number;
  outOfOrder: number;
  naksSent: number;
  acksSent: number;
}

/** Accepts packets in PSN order and sends ACKs and NAKs through `sendAck`. The callbacks take the caller's context. */
export class Responder<C = unknown> {
  // Counters are fields rather than an object of their own, so counting touches no extra cache line.
  #accepted = 0;
  #duplicates = 0;
  #outOfOrder = 0;
  #naksSent = 0;
  #acksSent = 0;
  #expectedPsn: number;
  #nakSent = false;
  /** Message sequence number: messages completed, modulo 2^24. */
  #msn = 0;

  constructor(
    firstPsn: number,
    /** Sends an ACKNOWLEDGE with this PSN and AETH syndrome. */
    readonly sendAck: (context: C, psn: number, syndrome: number, msn: number) => void,
    /** Called with every packet accepted in order. */
    readonly deliver: (context: C, packet: RoceFields) => void,
    readonly context: C,
  ) {
    this.#expectedPsn = firstPsn;
  }

  /** Snapshot of the counters. */
  get counters(): ResponderCounters {
    return {
      accepted: this.#accepted,
      duplicates: this.#duplicates,
      outOfOrder: this.#outOfOrder,
      naksSent: this.#naksSent,
      acksSent: this.#acksSent,
    };
  }

  onPacket(packet: RoceFields): void {
    const psn = packet.psn;
    const ahead = psnDistance(this.#expectedPsn, psn);
    if (ahead === 0) {
      this.#expectedPsn = (psn + 1) % PSN_MODULUS;
      this.#nakSent = false;
      this.#accepted++;
      const op = packet.opcode;
      if (op === OPCODE.RDMA_WRITE_LAST || op === OPCODE.RDMA_WRITE_ONLY || op === OPCODE.SEND_LAST || op === OPCODE.SEND_ONLY) {
        this.#msn = (this.#msn + 1) % PSN_MODULUS;
      }
      // Read before deliver(): its onComplete may run the event queue, which refills `packet` for other frames.
      const ackReq = packet.ackReq;
      this.deliver(this.context, packet);
      if (ackReq) this.#ack(psn);
      return;
    }
    if (ahead >= PSN_MODULUS / 2) {
      // Behind the expected PSN: a duplicate. Acknowledge again so a requester that lost the ACK moves on.
      this.#duplicates++;
      this.#ack((this.#expectedPsn - 1 + PSN_MODULUS) % PSN_MODULUS);
      return;
    }
    this.#outOfOrder++;
    if (!this.#nakSent) {
      this.#nakSent = true;
      this.#naksSent++;
      this.sendAck(this.context, this.#expectedPsn, AETH_NAK | NAK_PSN_SEQUENCE_ERROR, this.#msn);
    }
  }

  #ack(psn: number): void {
    this.#acksSent++;
    // Credit count 0x1F: this responder does not use end-to-end credits.
    this.sendAck(this.context, psn, AETH_ACK | 0x1f, this.#msn);
  }
}

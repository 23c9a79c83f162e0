/**
 * One direction of a point-to-point Ethernet link: frames are serialized at
 * the link rate one after another (with 24 bytes of preamble, FCS and
 * inter-frame gap each), then arrive after the propagation delay. Faults
 * drawn from the seeded PRNG: loss, duplication, reordering (a frame held
 * back by `reorderDelayNs`) and corruption (one flipped bit, which the
 * receiver's ICRC check rejects).
 */

import type { Prng } from '../prng.ts';
import type { EventQueue } from './event_queue.ts';

/** Preamble and start delimiter (8), FCS (4) and minimum inter-frame gap (12). */
export const ETHERNET_FRAMING_BYTES = 24;

export interface LinkFaults {
  /** Probability that a frame is lost. */
  loss: number;
  /** Probability that a frame arrives twice. */
  duplicate: number;
  /** Probability that a frame is held back by reorderDelayNs, so later frames overtake it. */
  reorder: number;
  reorderDelayNs: number;
  /** Probability that one bit of a frame flips. */
  corrupt: number;
}

export const NO_FAULTS: LinkFaults = { loss: 0, duplicate: 0, reorder: 0, reorderDelayNs: 0, corrupt: 0 };

export interface LinkCounters {
  sent: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

/**
 * Receives a frame at the current virtual time. `sentAt` is when its first
 * bit left, and `context` is the link's own, so that many links share one sink.
 */
export type FrameSink<C> = (context: C, frame: Uint8Array, sentAt: number) => void;

/**
 * The time each link on one event queue is busy until (ns), indexed by the link's slot. V8
 * keeps a changing non-integer field in a heap box of its own, so a field would cost one more
 * cache line per frame than this table, 8 bytes per link.
 */
class BusyTimes {
  times = new Float64Array(64);
  count = 0;

  /** Reserve the slot of a new link, which is free from time 0. */
  add(): number {
    if (this.count === this.times.length) {
      const times = new Float64Array(this.times.length * 2);
      times.set(this.times);
      this.times = times;
    }
    return this.count++;
  }
}

const BUSY_TIMES = new WeakMap<EventQueue, BusyTimes>();

function busyTimesOf(queue: EventQueue): BusyTimes {
  let table = BUSY_TIMES.get(queue);
  if (table === undefined) {
    table = new BusyTimes();
    BUSY_TIMES.set(queue, table);
  }
  return table;
}

export class Link<C = unknown> {
  readonly #busy: BusyTimes;
  readonly #busySlot: number;
  // Counters are fields rather than an object of their own, so counting touches no extra cache line.
  #sent = 0;
  #lost = 0;
  #duplicated = 0;
  #reordered = 0;
  #corrupted = 0;

  constructor(
    readonly queue: EventQueue,
    readonly prng: Prng,
    readonly gbps: number,
    readonly propagationNs: number,
    readonly faults: LinkFaults,
    readonly sink: FrameSink<C>,
    readonly context: C,
    /** Called with every frame as it starts on the wire, e.g. to write a pcap. */
    readonly capture?: (timeNs: number, frame: Uint8Array) => void,
  ) {
    this.#busy = busyTimesOf(queue);
    this.#busySlot = this.#busy.add();
  }

  /** Snapshot of the counters. */
  get counters(): LinkCounters {
    return {
      sent: this.#sent,
      lost: this.#lost,
      duplicated: this.#duplicated,
      reordered: this.#reordered,
      corrupted: this.#corrupted,
    };
  }

  /** Queue `frame` for transmission now; returns when its last bit leaves (ns). */
  send(frame: Uint8Array): number {
    const now = this.queue.now;
    const busy = this.#busy.times;
    const start = Math.max(now, busy[this.#busySlot]!);
    const end = start + ((frame.length + ETHERNET_FRAMING_BYTES) * 8) / this.gbps;
    busy[this.#busySlot] = end;
    this.#sent++;
    this.capture?.(start, frame);

    const f = this.faults;
    if (f.loss > 0 && this.prng.next() < f.loss) {
      this.#lost++;
      return end;
    }
    let arrival = end + this.propagationNs;
    if (f.reorder > 0 && this.prng.next() < f.reorder) {
      this.#reordered++;
      arrival += f.reorderDelayNs;
    }
    let copy = frame;
    if (f.corrupt > 0 && this.prng.next() < f.corrupt) {
      this.#corrupted++;
      copy = frame.slice();
      const bit = this.prng.int(0, copy.length * 8 - 1);
      copy[bit >> 3]! ^= 1 << (bit & 7);
    }
    this.queue.call(arrival, Link.#deliver, this, copy, start);
    if (f.duplicate > 0 && this.prng.next() < f.duplicate) {
      this.#duplicated++;
      this.queue.call(arrival + 1, Link.#deliver, this, frame, start);
    }
    return end;
  }

  /** Event handler of a frame's arrival at the far end. */
  static #deliver<T>(link: Link<T>, frame: Uint8Array, sentAt: number): void {
    link.sink(link.context, frame, sentAt);
  }
}

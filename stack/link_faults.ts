/**
 * The seeded fault model of a network's links, shared by the simulated
 * network and the UDP network: per-link latency, bandwidth, drop,
 * duplication, reordering and corruption, partitions, and a frame hook. It
 * decides what becomes of each datagram and when the copies arrive. The
 * network that owns it delivers them, in virtual time or on real sockets.
 *
 * The PRNG draws happen in a fixed order per datagram (drop, corrupt,
 * duplicate, then latency and reorder per copy), so a simulated run repeats
 * exactly from its seed.
 */

import { InputError } from '../sim/errors.ts';
import type { Prng } from '../sim/prng.ts';

/** Faults of a directed link; rates are probabilities per datagram. */
export interface LinkFaults {
  minLatencyMs: number;
  maxLatencyMs: number;
  /** Bytes per millisecond a link carries; 0 means unlimited. */
  bandwidthBytesPerMs: number;
  dropRate: number;
  duplicateRate: number;
  /** Probability that a datagram is held back by `reorderDelayMs`, so later ones overtake it. */
  reorderRate: number;
  reorderDelayMs: number;
  /** Probability that one random bit of a datagram is flipped. */
  corruptRate: number;
}

export const PERFECT_LINK: LinkFaults = {
  minLatencyMs: 1,
  maxLatencyMs: 1,
  bandwidthBytesPerMs: 0,
  dropRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderDelayMs: 0,
  corruptRate: 0,
};

export interface NetworkStats {
  framesSent: number;
  framesDelivered: number;
  dropped: number;
  partitioned: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

/** A datagram on the wire, as passed to a frame hook. */
export interface WireFrame {
  from: string;
  to: string;
  bytes: Uint8Array;
}

/** Returns the datagrams that go on: [] drops, [bytes] passes or replaces, more inject copies or others. */
export type FrameHook = (frame: WireFrame) => readonly Uint8Array[];

/** One copy of a datagram that survives the link, and the time it arrives. */
export interface Arrival {
  bytes: Uint8Array;
  /** Milliseconds on the owning network's clock. */
  atMs: number;
}

export class LinkFaultModel {
  readonly stats: NetworkStats = {
    framesSent: 0,
    framesDelivered: 0,
    dropped: 0,
    partitioned: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
  };
  /** Replaceable at any time; called with every datagram after the random faults. */
  onFrame: FrameHook | undefined;

  #faults: LinkFaults;
  #linkFaults = new Map<string, LinkFaults>();
  #busyUntil = new Map<string, number>();
  #cut = new Set<string>();

  constructor(
    readonly prng: Prng,
    faults: LinkFaults,
  ) {
    this.#faults = checkFaults(faults);
  }

  /** Set the faults of every link, or of the directed link `from -> to` only. */
  setFaults(faults: Partial<LinkFaults>, from?: string, to?: string): void {
    if (from === undefined || to === undefined) {
      this.#faults = checkFaults({ ...this.#faults, ...faults });
      return;
    }
    this.#linkFaults.set(linkKey(from, to), checkFaults({ ...this.faultsOf(from, to), ...faults }));
  }

  faultsOf(from: string, to: string): LinkFaults {
    return this.#linkFaults.get(linkKey(from, to)) ?? this.#faults;
  }

  /** Cut every link between a node of `side` and a node of `other`, both ways. */
  partition(side: readonly string[], other: readonly string[]): void {
    for (const a of side) {
      for (const b of other) {
        this.#cut.add(linkKey(a, b));
        this.#cut.add(linkKey(b, a));
      }
    }
  }

  /** Restore every cut link. */
  heal(): void {
    this.#cut.clear();
  }

  /** Decide the fate of a datagram sent at `nowMs`: the copies that arrive, each a fresh buffer. */
  transmit(from: string, to: string, bytes: Uint8Array, nowMs: number): Arrival[] {
    this.stats.framesSent += 1;
    if (this.#cut.has(linkKey(from, to))) {
      this.stats.partitioned += 1;
      return [];
    }
    const faults = this.faultsOf(from, to);
    const prng = this.prng;
    if (prng.next() < faults.dropRate) {
      this.stats.dropped += 1;
      return [];
    }
    let wire = bytes;
    if (prng.next() < faults.corruptRate) {
      wire = bytes.slice();
      const bit = prng.int(0, wire.length * 8 - 1);
      wire[bit >> 3]! ^= 1 << (bit & 7);
      this.stats.corrupted += 1;
    }
    const copies = prng.next() < faults.duplicateRate ? 2 : 1;
    if (copies === 2) this.stats.duplicated += 1;

    const arrivals: Arrival[] = [];
    const hooked = this.onFrame ? this.onFrame({ from, to, bytes: wire }) : [wire];
    for (const datagram of hooked) {
      for (let copy = 0; copy < copies; copy++) arrivals.push(this.#arrival(from, to, datagram, faults, nowMs));
    }
    return arrivals;
  }

  #arrival(from: string, to: string, bytes: Uint8Array, faults: LinkFaults, nowMs: number): Arrival {
    const key = linkKey(from, to);
    let departure = nowMs;
    if (faults.bandwidthBytesPerMs > 0) {
      departure = Math.max(departure, this.#busyUntil.get(key) ?? 0) + bytes.length / faults.bandwidthBytesPerMs;
      this.#busyUntil.set(key, departure);
    }
    let latency = this.prng.int(faults.minLatencyMs, faults.maxLatencyMs);
    if (this.prng.next() < faults.reorderRate) {
      latency += faults.reorderDelayMs;
      this.stats.reordered += 1;
    }
    return { bytes: bytes.slice(), atMs: departure + latency };
  }
}

function linkKey(from: string, to: string): string {
  return `${from} -> ${to}`;
}

export function checkFaults(faults: LinkFaults): LinkFaults {
  for (const name of ['dropRate', 'duplicateRate', 'reorderRate', 'corruptRate'] as const) {
    const rate = faults[name];
    if (!(rate >= 0 && rate <= 1)) throw new InputError(`${name} ${rate} must be a probability in 0..1`);
  }
  for (const name of ['minLatencyMs', 'maxLatencyMs', 'reorderDelayMs', 'bandwidthBytesPerMs'] as const) {
    const value = faults[name];
    if (!(Number.isFinite(value) && value >= 0)) throw new InputError(`${name} ${value} must be 0 or more`);
  }
  if (!Number.isInteger(faults.minLatencyMs) || !Number.isInteger(faults.maxLatencyMs)) {
    throw new InputError(
      `latency ${faults.minLatencyMs}..${faults.maxLatencyMs} ms must be whole milliseconds`,
    );
  }
  if (faults.minLatencyMs > faults.maxLatencyMs) {
    throw new InputError(`minLatencyMs ${faults.minLatencyMs} is above maxLatencyMs ${faults.maxLatencyMs}`);
  }
  return faults;
}

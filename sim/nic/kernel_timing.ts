/**
 * Timing of an attestation unit that hashes a message while its bytes
 * arrive in chunks (DMA chunks on transmit, packets on receive).
 *
 * Hardware core: an engine starts with the first chunk, hashes the prefix
 * (key) block, absorbs
 * each full block as soon as its bytes are in, and after the last chunk
 * runs the padding block(s), the outer hash and the fixed cycles. With
 * every byte present at the start this gives exactly the isolated cycle
 * formula of the profile. Engines take messages in command order; the
 * shared input port adds `portCommandCycles + ceil(L / portBytesPerCycle)`
 * cycles of occupancy per message, which bounds the message rate.
 *
 * CPU: a worker waits for the whole message, then spends the access time
 * and the compute time.
 */

import { InputError } from '../errors.ts';
import type { CpuParams, HmacCoreParams, KernelParams } from './profiles.ts';

/** Metadata hashed with every message: session u32, device u32, counter u64. */
export const ATTESTATION_HEADER_BYTES = 16;

/** A chunk of the hashed bytes: `hashedEnd` of them are present from `arrival` (ns) on. */
export interface Chunk {
  arrival: number;
  hashedEnd: number;
}

export interface KernelSchedule {
  /** When the engine or worker took the message. */
  start: number;
  /** When each chunk's full blocks are absorbed (ns), in chunk order. */
  chunkDone: number[];
  /** Result (tag or verify verdict) ready. */
  final: number;
}

/** Isolated cycles of the hardware core for `hashed` bytes. */
export function coreCycles(k: HmacCoreParams, hashed: number): number {
  const inner = Math.ceil((k.prefixBytes + hashed + k.paddingBytes) / k.blockBytes);
  return k.blockCycles * (inner + k.outerBlocks) + k.fixedCycles;
}

/** Cycles spent on the blocks that `hashed` bytes (plus the prefix) fill completely. */
export function absorbedCycles(k: HmacCoreParams, hashed: number): number {
  return k.blockCycles * Math.floor((k.prefixBytes + hashed) / k.blockBytes);
}

/** CPU compute time for `hashed` bytes. */
export function cpuComputeNs(k: CpuParams, hashed: number): number {
  return k.computeNs + k.computeNsPerByte * Math.max(0, hashed - 64);
}

/** Isolated latency of one attest or verify of `hashed` bytes, all present at the start (ns). */
export function isolatedKernelNs(k: KernelParams, hashed: number): number {
  if (k.model === 'cpu') return k.accessNs + cpuComputeNs(k, hashed);
  return (coreCycles(k, hashed) * 1000) / k.clockMHz;
}

/** One direction's attestation unit (attest on transmit or verify on receive) of one node. */
export class KernelTimeline {
  readonly #k: KernelParams;
  readonly #freeAt: number[];
  #portFreeAt = 0;
  /** Start time of the latest scheduled message, for `schedule`'s result. */
  #lastStart = 0;

  constructor(k: KernelParams) {
    this.#k = k;
    this.#freeAt = new Array<number>(k.model === 'cpu' ? k.workers : k.engines).fill(0);
  }

  /**
   * Schedule a message whose command is issued at `issued` and whose hashed
   * bytes arrive as `chunks` (nondecreasing, the last one ending at `hashed`).
   */
  schedule(issued: number, hashed: number, chunks: readonly Chunk[]): KernelSchedule {
    const arrivals = chunks.map((c) => c.arrival);
    const hashedEnds = chunks.map((c) => c.hashedEnd);
    const chunkDone = new Array<number>(chunks.length);
    const final = this.scheduleChunks(issued, hashed, arrivals, hashedEnds, chunks.length, chunkDone);
    return { start: this.#lastStart, chunkDone, final };
  }

  /**
   * Schedule like `schedule`, with chunk i given as arrivals[i] and
   * hashedEnds[i] for i < count. Writes when each chunk's blocks are absorbed
   * into chunkDone[i] and returns the final time, allocating nothing.
   */
  scheduleChunks(
    issued: number,
    hashed: number,
    arrivals: ArrayLike<number>,
    hashedEnds: ArrayLike<number>,
    count: number,
    chunkDone: number[],
  ): number {
    if (count < 1 || hashedEnds[count - 1] !== hashed) throw chunkEndError(hashed);
    const unit = this.#takeEarliestFree();
    const k = this.#k;
    if (k.model === 'cpu') {
      const start = Math.max(issued, this.#freeAt[unit]!, arrivals[count - 1]!);
      const final = start + k.accessNs + cpuComputeNs(k, hashed);
      this.#freeAt[unit] = final;
      this.#lastStart = start;
      for (let i = 0; i < count; i++) chunkDone[i] = final;
      return final;
    }
    return this.#scheduleCore(k, unit, issued, hashed, arrivals, hashedEnds, count, chunkDone);
  }

  #scheduleCore(
    k: HmacCoreParams,
    unit: number,
    issued: number,
    hashed: number,
    arrivals: ArrayLike<number>,
    hashedEnds: ArrayLike<number>,
    count: number,
    chunkDone: number[],
  ): number {
    const cycleNs = 1000 / k.clockMHz;

    // The port takes commands in order; an engine starts once its command is through the port.
    const portStart = Math.max(issued, this.#portFreeAt);
    this.#portFreeAt = portStart + (k.portCommandCycles + Math.ceil(hashed / k.portBytesPerCycle)) * cycleNs;
    // The core is fed by the data stream, so it starts with the first chunk, not at the command.
    const start = Math.max(portStart, this.#freeAt[unit]!, arrivals[0]!);

    let done = start + absorbedCycles(k, 0) * cycleNs;
    let absorbed = absorbedCycles(k, 0);
    for (let i = 0; i < count; i++) {
      const now = absorbedCycles(k, hashedEnds[i]!);
      done = Math.max(done, arrivals[i]!) + (now - absorbed) * cycleNs;
      absorbed = now;
      chunkDone[i] = done;
    }
    const final = done + (coreCycles(k, hashed) - absorbed) * cycleNs;
    this.#freeAt[unit] = final;
    this.#lastStart = start;
    return final;
  }

  #takeEarliestFree(): number {
    const freeAt = this.#freeAt;
    let best = 0;
    let bestAt = freeAt[0]!;
    for (let i = 1; i < freeAt.length; i++) {
      // Strictly earlier only, so that ties go to the lowest index.
      const at = freeAt[i]!;
      if (at < bestAt) {
        best = i;
        bestAt = at;
      }
    }
    return best;
  }
}

// Built outside scheduleChunks, which keeps that small enough for V8 to inline.
function chunkEndError(hashed: number): InputError {
  return new InputError(`chunks must end at the ${hashed} hashed bytes of the message`);
}

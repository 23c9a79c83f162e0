/**
 * The attested messages a client has already counted, so that a replayed
 * reply is counted once. A replica's device numbers the messages of each
 * session 0, 1, 2, ... (the counter the TNIC attests), so per (device,
 * session) stream the client keeps a low mark, below which every counter
 * was seen, and the counters seen above it. Memory grows with how far
 * replies arrive out of order, not with how many arrive.
 */

import type { AttestedMessage } from '../../api/tnic_api.ts';

/**
 * Counters a stream may hold above its low mark. A stream that skips
 * counters for good (the replica sent them to another client) would
 * otherwise grow without bound. Past this many, the low mark jumps over the
 * older half of the counters held. A message below the new mark is then
 * rejected as a replay even if it was never counted.
 */
export const OUT_OF_ORDER_WINDOW = 4096;

function compareCounters(a: bigint, b: bigint): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

interface Stream {
  /** Every counter below it was counted or given up. */
  low: bigint;
  /** Counters at or above `low` that were counted. */
  above: Set<bigint>;
}

export class CountedMessages {
  #streams = new Map<string, Stream>();

  /**
   * Record `message` and return true, or return false when it was counted
   * before or lies below the low mark (a replay). Callers add a message only
   * after its signature is checked, so that a forgery cannot block the genuine one.
   */
  add(message: AttestedMessage): boolean {
    const id = `${message.device}/${message.session}`;
    let stream = this.#streams.get(id);
    if (stream === undefined) {
      stream = { low: 0n, above: new Set() };
      this.#streams.set(id, stream);
    }
    const counter = message.counter;
    if (counter < stream.low || stream.above.has(counter)) return false;

    stream.above.add(counter);
    while (stream.above.delete(stream.low)) stream.low += 1n;
    if (stream.above.size > OUT_OF_ORDER_WINDOW) this.#giveUpOlderHalf(stream);
    return true;
  }

  /** Counters held above the low marks, over every stream. */
  get held(): number {
    let n = 0;
    for (const s of this.#streams.values()) n += s.above.size;
    return n;
  }

  /**
   * Move the low mark past the older half of the counters held, treating the
   * missing counters below it as seen. Halving keeps the amortized cost per
   * message logarithmic when a stream keeps skipping counters.
   */
  #giveUpOlderHalf(stream: Stream): void {
    const sorted = [...stream.above].sort(compareCounters);
    const drop = sorted.slice(0, Math.ceil(sorted.length / 2));
    for (const c of drop) stream.above.delete(c);
    stream.low = drop[drop.length - 1]! + 1n;
    while (stream.above.delete(stream.low)) stream.low += 1n;
  }
}

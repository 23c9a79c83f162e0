/**
 * Received messages that arrived ahead of a missing one, keyed by counter.
 * Their tags were already accepted by the device (it checks the tag before
 * the counter), so they wait here until the counters before them arrive.
 * The buffer is bounded: a full buffer takes nothing more.
 */
export class HoldBuffer {
  #held = new Map<bigint, Uint8Array>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#held.size;
  }

  has(counter: bigint): boolean {
    return this.#held.has(counter);
  }

  /** Store `bytes` under `counter`; returns false when the buffer is full. */
  put(counter: bigint, bytes: Uint8Array): boolean {
    if (this.#held.size >= this.capacity) return false;
    this.#held.set(counter, bytes);
    return true;
  }

  /** Remove and return the message held for `counter`, if any. */
  take(counter: bigint): Uint8Array | undefined {
    const bytes = this.#held.get(counter);
    this.#held.delete(counter);
    return bytes;
  }
}

/**
 * Event queue of the discrete-event simulator: a binary min-heap ordered by
 * virtual time in nanoseconds, ties broken by insertion order so that a run
 * depends only on its inputs and seed.
 */

export type Action = () => void;

interface Event {
  time: number;
  seq: number;
  action: Action;
}

export class EventQueue {
  #heap: Event[] = [];
  #seq = 0;
  #now = 0;
  #executed = 0;

  /** Current virtual time in nanoseconds. */
  get now(): number {
    return this.#now;
  }

  /** Events run so far. */
  get executed(): number {
    return this.#executed;
  }

  get pending(): number {
    return this.#heap.length;
  }

  /** Run `action` at virtual time `time`; a time in the past is a bug and throws. */
  at(time: number, action: Action): void {
    if (!(time >= this.#now)) {
      throw new RangeError(`event at ${time} ns is before the current time ${this.#now} ns`);
    }
    const heap = this.#heap;
    heap.push({ time, seq: this.#seq++, action });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Run `action` `delay` nanoseconds from now. */
  after(delay: number, action: Action): void {
    this.at(this.#now + delay, action);
  }

  /**
   * Run events in order until the queue is empty, `until` (virtual ns) is
   * passed, or `maxEvents` have run; returns the number of events run.
   */
  run(until = Infinity, maxEvents = Infinity): number {
    let count = 0;
    while (this.#heap.length > 0 && count < maxEvents) {
      if (this.#heap[0]!.time > until) break;
      const event = this.#pop();
      this.#now = event.time;
      event.action();
      count++;
    }
    this.#executed += count;
    return count;
  }

  #pop(): Event {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

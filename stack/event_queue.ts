/**
 * Events of a discrete-event simulation in virtual time: a binary min-heap
 * ordered by time, then by insertion order, so events at the same time run
 * in the order they were scheduled and every run is reproducible.
 */

export interface SimEvent {
  time: number;
  order: number;
  run: () => void;
  cancelled: boolean;
}

export class EventQueue {
  #heap: SimEvent[] = [];
  #nextOrder = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(time: number, run: () => void): SimEvent {
    const event: SimEvent = { time, order: this.#nextOrder++, run, cancelled: false };
    this.#heap.push(event);
    this.#up(this.#heap.length - 1);
    return event;
  }

  /** Return the earliest event that is not cancelled, without removing it. */
  peek(): SimEvent | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#popTop();
    return this.#heap[0];
  }

  pop(): SimEvent | undefined {
    const top = this.peek();
    if (top) this.#popTop();
    return top;
  }

  #popTop(): void {
    const last = this.#heap.pop()!;
    if (this.#heap.length === 0) return;
    this.#heap[0] = last;
    this.#down(0);
  }

  #before(a: SimEvent, b: SimEvent): boolean {
    return a.time < b.time || (a.time === b.time && a.order < b.order);
  }

  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(heap[i]!, heap[parent]!)) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      let smallest = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && this.#before(heap[child]!, heap[smallest]!)) smallest = child;
      }
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}

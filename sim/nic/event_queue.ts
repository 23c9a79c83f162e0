/**
 * Event queue of the discrete-event simulator. Events run in order of
 * virtual time in nanoseconds, ties broken by scheduling order (a sequence
 * number), so that a run depends only on its inputs and seed.
 *
 * An event is one action taken off the queue and run, and `executed` counts
 * them. `call` schedules a long-lived function with up to four arguments,
 * so the hot paths allocate no closure per event, and event objects are
 * recycled through a free list.
 *
 * Storage: a binary min-heap, plus FIFO lanes for sequences whose times
 * never decrease. A lane is sorted by (time, sequence number) by
 * construction, so it costs no heap operations, and `run` takes the
 * smallest of the heap top and the lane heads. The order of events is the
 * same as with the heap alone. `after` and `callAfter` use one lane per
 * delay value, because now + delay never decreases for a fixed delay.
 */

export type Action = () => void;

/** A function run by an event with the arguments given to `call`. */
export type Handler<A, B, C, D> = (a: A, b: B, c: C, d: D) => void;

type AnyHandler = Handler<unknown, unknown, unknown, unknown>;

class Event {
  time = 0;
  seq = 0;
  fn: AnyHandler | undefined = undefined;
  a: unknown = undefined;
  b: unknown = undefined;
  c: unknown = undefined;
  d: unknown = undefined;
}

function before(x: Event, y: Event): boolean {
  return x.time < y.time || (x.time === y.time && x.seq < y.seq);
}

/** Events scheduled in nondecreasing time order, created by EventQueue.createLane. */
export class EventLane {
  /** Ring buffer of capacity ring.length (a power of two). */
  #ring: Array<Event | undefined> = new Array<Event | undefined>(16).fill(undefined);
  #head = 0;
  #size = 0;
  #lastTime = -Infinity;

  constructor(readonly queue: EventQueue) {}

  get size(): number {
    return this.#size;
  }

  /** Run `fn(a, b, c, d)` at `time`, which must not be before the lane's previous event or the current time. */
  call<A, B = undefined, C = undefined, D = undefined>(time: number, fn: Handler<A, B, C, D>, a?: A, b?: B, c?: C, d?: D): void {
    if (!(time >= this.#lastTime)) {
      throw new RangeError(`lane event at ${time} ns is before the lane's previous event at ${this.#lastTime} ns`);
    }
    this.#lastTime = time;
    this.#push(this.queue.makeEvent(time, fn as AnyHandler, a, b, c, d));
  }

  /** Return the earliest event, or undefined when the lane is empty (for EventQueue.run). */
  peek(): Event | undefined {
    return this.#size === 0 ? undefined : this.#ring[this.#head];
  }

  /** Drop the earliest event (for EventQueue.run). */
  shift(): void {
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#ring.length - 1);
    this.#size--;
  }

  #push(event: Event): void {
    if (this.#size === this.#ring.length) this.#grow();
    this.#ring[(this.#head + this.#size) & (this.#ring.length - 1)] = event;
    this.#size++;
  }

  #grow(): void {
    const old = this.#ring;
    const ring = new Array<Event | undefined>(old.length * 2).fill(undefined);
    for (let i = 0; i < this.#size; i++) ring[i] = old[(this.#head + i) & (old.length - 1)];
    this.#ring = ring;
    this.#head = 0;
  }
}

export class EventQueue {
  #heap: Event[] = [];
  #lanes: EventLane[] = [];
  /** Lanes of `callAfter`, by delay. */
  #delayLanes = new Map<number, EventLane>();
  /** Events taken off the queue, ready for reuse with their references cleared. */
  #free: Event[] = [];
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
    let n = this.#heap.length;
    for (const lane of this.#lanes) n += lane.size;
    return n;
  }

  /** Run `action` at virtual time `time`; a time in the past is a bug and throws. */
  at(time: number, action: Action): void {
    this.call(time, action as AnyHandler, undefined);
  }

  /** Run `action` `delay` nanoseconds from now. */
  after(delay: number, action: Action): void {
    this.callAfter(delay, action as AnyHandler, undefined);
  }

  /** Run `fn(a, b, c, d)` at virtual time `time`. A time in the past is a bug and throws. */
  call<A, B = undefined, C = undefined, D = undefined>(time: number, fn: Handler<A, B, C, D>, a?: A, b?: B, c?: C, d?: D): void {
    this.#siftUp(this.makeEvent(time, fn as AnyHandler, a, b, c, d));
  }

  /** Run `fn(a, b, c, d)` `delay` nanoseconds from now, through the lane of that delay. */
  callAfter<A, B = undefined, C = undefined, D = undefined>(delay: number, fn: Handler<A, B, C, D>, a?: A, b?: B, c?: C, d?: D): void {
    let lane = this.#delayLanes.get(delay);
    if (lane === undefined) {
      if (!(delay >= 0)) throw new RangeError(`delay ${delay} ns is negative; events cannot run in the past`);
      lane = this.createLane();
      this.#delayLanes.set(delay, lane);
    }
    lane.call(this.#now + delay, fn, a, b, c, d);
  }

  /** Create a lane for a sequence of events whose times never decrease. */
  createLane(): EventLane {
    const lane = new EventLane(this);
    this.#lanes.push(lane);
    return lane;
  }

  /** Take an event from the free list and fill it; used by lanes. A time in the past throws. */
  makeEvent(time: number, fn: AnyHandler, a: unknown, b: unknown, c: unknown, d: unknown): Event {
    if (!(time >= this.#now)) {
      throw new RangeError(`event at ${time} ns is before the current time ${this.#now} ns`);
    }
    const event = this.#free.pop() ?? new Event();
    event.time = time;
    event.seq = this.#seq++;
    event.fn = fn;
    event.a = a;
    event.b = b;
    event.c = c;
    event.d = d;
    return event;
  }

  /**
   * Run events in order until the queue is empty, `until` (virtual ns) is
   * passed, or `maxEvents` have run; returns the number of events run.
   */
  run(until = Infinity, maxEvents = Infinity): number {
    const heap = this.#heap;
    const lanes = this.#lanes;
    let count = 0;
    try {
      while (count < maxEvents) {
        // The earliest event: the heap top or a lane head.
        let event = heap[0];
        let from: EventLane | undefined;
        for (let i = 0; i < lanes.length; i++) {
          const head = lanes[i]!.peek();
          if (head !== undefined && (event === undefined || before(head, event))) {
            event = head;
            from = lanes[i];
          }
        }
        if (event === undefined || event.time > until) break;
        if (from === undefined) this.#removeTop();
        else from.shift();

        this.#now = event.time;
        const { fn, a, b, c, d } = event;
        event.fn = undefined;
        event.a = event.b = event.c = event.d = undefined;
        this.#free.push(event);
        count++;
        fn!(a, b, c, d);
      }
    } finally {
      this.#executed += count;
    }
    return count;
  }

  /** Insert `event` by moving later parents down into the hole it leaves. */
  #siftUp(event: Event): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parentAt = (i - 1) >> 1;
      const parent = heap[parentAt]!;
      if (before(parent, event)) break;
      heap[i] = parent;
      i = parentAt;
    }
    heap[i] = event;
  }

  /** Remove heap[0]: the last event sinks from the root through the hole. */
  #removeTop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    const size = heap.length;
    if (size === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      let earliest = heap[child]!;
      if (child + 1 < size && before(heap[child + 1]!, earliest)) {
        child++;
        earliest = heap[child]!;
      }
      if (before(last, earliest)) break;
      heap[i] = earliest;
      i = child;
    }
    heap[i] = last;
  }
}

/**
 * Event queue of the discrete-event simulator. Events run in order of
 * virtual time in nanoseconds, ties broken by scheduling order (a sequence
 * number), so that a run depends only on its inputs and seed.
 *
 * An event is one action taken off the queue and run, and `executed` counts
 * them. `call` schedules a long-lived function with up to four arguments,
 * so the hot paths allocate no closure per event. Heap events are objects
 * recycled through a free list, and lane events are slots in ring buffers.
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

const INITIAL_LANE_CAPACITY = 16;

/** Entries per event in a lane's `#keys` (time, sequence number) and `#calls` (handler and four arguments). */
const KEY_STRIDE = 2;
const CALL_STRIDE = 5;

/**
 * Events scheduled in nondecreasing time order, created by EventQueue.createLane.
 * A lane stores its events in two ring buffers instead of Event objects:
 * (time, sequence number) pairs in a Float64Array, and handler and arguments
 * side by side in an array. An event can wait in a lane for thousands of
 * others, as a retransmission timer does. Arrays that are filled and drained
 * in order cost fewer cache misses to read back than objects that have long
 * left the cache.
 */
export class EventLane {
  /** Events the rings can hold, a power of two. */
  #capacity = INITIAL_LANE_CAPACITY;
  #keys: Float64Array = new Float64Array(INITIAL_LANE_CAPACITY * KEY_STRIDE);
  #calls = new Array<unknown>(INITIAL_LANE_CAPACITY * CALL_STRIDE).fill(undefined);
  #head = 0;
  #size = 0;
  #lastTime = -Infinity;

  constructor(readonly queue: EventQueue) {}

  get size(): number {
    return this.#size;
  }

  /** Run `fn(a, b, c, d)` at `time`, which must not be before the lane's previous event or the current time. */
  call<A, B = undefined, C = undefined, D = undefined>(time: number, fn: Handler<A, B, C, D>, a?: A, b?: B, c?: C, d?: D): void {
    if (!(time >= this.#lastTime)) throw laneOrderError(time, this.#lastTime);
    const seq = this.queue.nextSeq(time);
    this.#lastTime = time;
    if (this.#size === this.#capacity) this.#grow();
    const at = (this.#head + this.#size) & (this.#capacity - 1);
    const keys = this.#keys;
    keys[at * KEY_STRIDE] = time;
    keys[at * KEY_STRIDE + 1] = seq;
    const calls = this.#calls;
    const callAt = at * CALL_STRIDE;
    calls[callAt] = fn;
    calls[callAt + 1] = a;
    calls[callAt + 2] = b;
    calls[callAt + 3] = c;
    calls[callAt + 4] = d;
    this.#size++;
  }

  /** Return the time of the earliest event, valid only while size > 0 (for EventQueue.run). */
  headTime(): number {
    return this.#keys[this.#head * KEY_STRIDE]!;
  }

  /** Return the sequence number of the earliest event, valid only while size > 0 (for EventQueue.run). */
  headSeq(): number {
    return this.#keys[this.#head * KEY_STRIDE + 1]!;
  }

  /** Remove the earliest event and run it (for EventQueue.run, which has set the current time). */
  runHead(): void {
    const calls = this.#calls;
    const at = this.#head * CALL_STRIDE;
    const fn = calls[at] as AnyHandler;
    const a = calls[at + 1];
    const b = calls[at + 2];
    const c = calls[at + 3];
    const d = calls[at + 4];
    // Clear the references, so that the ring keeps nothing alive that has run.
    calls[at] = calls[at + 1] = calls[at + 2] = calls[at + 3] = calls[at + 4] = undefined;
    this.#head = (this.#head + 1) & (this.#capacity - 1);
    this.#size--;
    fn(a, b, c, d);
  }

  /** Double the rings, unrolling the events to the front. */
  #grow(): void {
    const old = this.#capacity;
    const capacity = old * 2;
    const keys = new Float64Array(capacity * KEY_STRIDE);
    const calls = new Array<unknown>(capacity * CALL_STRIDE).fill(undefined);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#head + i) & (old - 1);
      for (let j = 0; j < KEY_STRIDE; j++) keys[i * KEY_STRIDE + j] = this.#keys[from * KEY_STRIDE + j]!;
      for (let j = 0; j < CALL_STRIDE; j++) calls[i * CALL_STRIDE + j] = this.#calls[from * CALL_STRIDE + j];
    }
    this.#keys = keys;
    this.#calls = calls;
    this.#capacity = capacity;
    this.#head = 0;
  }
}

// The errors are built outside the hot functions, which keeps those small enough for V8 to inline.
function laneOrderError(time: number, lastTime: number): RangeError {
  return new RangeError(`lane event at ${time} ns is before the lane's previous event at ${lastTime} ns`);
}

function negativeDelayError(delay: number): RangeError {
  return new RangeError(`delay ${delay} ns is negative; events cannot run in the past`);
}

function pastEventError(time: number, now: number): RangeError {
  return new RangeError(`event at ${time} ns is before the current time ${now} ns`);
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
    this.#siftUp(this.#makeEvent(time, fn as AnyHandler, a, b, c, d));
  }

  /** Run `fn(a, b, c, d)` `delay` nanoseconds from now, through the lane of that delay. */
  callAfter<A, B = undefined, C = undefined, D = undefined>(delay: number, fn: Handler<A, B, C, D>, a?: A, b?: B, c?: C, d?: D): void {
    let lane = this.#delayLanes.get(delay);
    if (lane === undefined) {
      if (!(delay >= 0)) throw negativeDelayError(delay);
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

  /** Return the sequence number of a new event at `time`, for lanes. A time in the past throws. */
  nextSeq(time: number): number {
    if (!(time >= this.#now)) throw pastEventError(time, this.#now);
    return this.#seq++;
  }

  /** Take an event from the free list and fill it. A time in the past throws. */
  #makeEvent(time: number, fn: AnyHandler, a: unknown, b: unknown, c: unknown, d: unknown): Event {
    const seq = this.nextSeq(time);
    const event = this.#free.pop() ?? new Event();
    event.time = time;
    event.seq = seq;
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
        // The earliest event: the heap top or a lane head, by (time, sequence number).
        const top = heap[0];
        let found = top !== undefined;
        let time = found ? top!.time : 0;
        let seq = found ? top!.seq : 0;
        let from: EventLane | undefined;
        for (let i = 0; i < lanes.length; i++) {
          const lane = lanes[i]!;
          if (lane.size === 0) continue;
          const laneTime = lane.headTime();
          if (!found || laneTime < time || (laneTime === time && lane.headSeq() < seq)) {
            found = true;
            time = laneTime;
            seq = lane.headSeq();
            from = lane;
          }
        }
        if (!found || time > until) break;

        this.#now = time;
        count++;
        if (from !== undefined) {
          from.runHead();
          continue;
        }
        this.#removeTop();
        const { fn, a, b, c, d } = top!;
        top!.fn = undefined;
        top!.a = top!.b = top!.c = top!.d = undefined;
        this.#free.push(top!);
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

/**
 * A reliable, FIFO channel over an unreliable datagram service, in the
 * manner of the RoCE v2 reliable connection: every DATA frame has a
 * sequence number, the receiver returns a cumulative ACK for every DATA
 * frame and a NAK when it detects a gap, and the sender retransmits
 * unacknowledged frames after a timeout that doubles with each retry.
 *
 * The channel does no I/O itself: it writes frames through `output` and
 * takes timers from a `Clock`, so the simulated network (virtual time) and
 * UDP (wall-clock time) run the same code.
 *
 * Failure is explicit and final. A message not acknowledged after
 * `maxRetries` retransmissions fails the sender's channel, and a gap that no
 * retransmission fills within `gapTimeoutMs` fails the receiver's channel.
 * Both errors name the connection and the sequence number.
 */

import { InputError, TnicError } from '../sim/errors.ts';
import { encodeFrame, MAX_FRAME_PAYLOAD, type DropReason, type Frame } from './frame.ts';
import {
  TransportError,
  type Clock,
  type MessageChannel,
  type ReadableHandler,
  type TransportErrorCode,
} from './transport.ts';

export interface ReliableOptions {
  /** First retransmission timeout in milliseconds; each retry doubles it, up to 8 times this. */
  rtoMs?: number;
  /** Retransmissions of one message before the channel fails. */
  maxRetries?: number;
  /** Messages sent and not yet acknowledged; later sends wait in a queue. */
  window?: number;
  /** Messages waiting for the window before send() throws. */
  maxQueued?: number;
  /** Messages held ahead of a gap; later arrivals are dropped and retransmitted. */
  maxEarly?: number;
  /** Delivered messages not yet taken by receive(); more are dropped until it is called. */
  maxReady?: number;
  /** Milliseconds a gap may stay open before the receiving channel fails. */
  gapTimeoutMs?: number;
}

export const DEFAULT_RELIABLE_OPTIONS: Required<ReliableOptions> = {
  rtoMs: 20,
  maxRetries: 8,
  window: 64,
  maxQueued: 4096,
  maxEarly: 256,
  maxReady: 4096,
  // Longer than the sender's whole retry schedule (about 1.1 s with the
  // defaults above), so a lost peer is reported by the sender first.
  gapTimeoutMs: 3000,
};

const MAX_SEQUENCE = 0xffff_ffff;
const MAX_BACKOFF_SHIFT = 3;

/** Counters of one channel, for stats and tests. */
export interface ChannelStats {
  sent: number;
  retransmitted: number;
  delivered: number;
  duplicates: number;
  naksSent: number;
}

interface InFlight {
  frame: Uint8Array;
  retries: number;
  deadline: number;
}

/** Hooks that connect a channel to its transport. */
export interface ChannelHost {
  clock: Clock;
  /** Write one encoded frame to the peer. */
  output(frame: Uint8Array): void;
  /** Count a frame the channel dropped. */
  drop(reason: DropReason): void;
  /** Receive what the readable handler returned: the simulated network awaits it. */
  settle(result: void | Promise<void>): void;
}

export class ReliableChannel implements MessageChannel {
  onReadable: ReadableHandler | undefined;
  readonly stats: ChannelStats = { sent: 0, retransmitted: 0, delivered: 0, duplicates: 0, naksSent: 0 };
  readonly options: Required<ReliableOptions>;

  #error: TransportError | undefined;

  // Send side: #unacked holds sequence numbers in increasing order.
  #nextSeq = 0;
  #unacked = new Map<number, InFlight>();
  #queued: Uint8Array[] = [];
  #cancelRetransmit: (() => void) | undefined;

  // Receive side: every sequence number below #expected was delivered.
  #expected = 0;
  #early = new Map<number, Uint8Array>();
  #ready: Uint8Array[] = [];
  #nakedFor: { sequence: number; at: number } | undefined;
  #gapSince: number | undefined;
  #cancelGapTimer: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly connection: number,
    private readonly host: ChannelHost,
    options: ReliableOptions = {},
  ) {
    this.options = checkOptions({ ...DEFAULT_RELIABLE_OPTIONS, ...options });
  }

  get clock(): Clock {
    return this.host.clock;
  }

  get error(): TransportError | undefined {
    return this.#error;
  }

  /** Messages sent and not yet acknowledged, plus those waiting for the window. */
  get pending(): number {
    return this.#unacked.size + this.#queued.length;
  }

  /** Messages held ahead of a gap. */
  get held(): number {
    return this.#early.size;
  }

  send(bytes: Uint8Array): void {
    if (this.#error) throw this.#error;
    if (bytes.length > MAX_FRAME_PAYLOAD) {
      throw new InputError(
        `message of ${bytes.length} bytes exceeds the ${MAX_FRAME_PAYLOAD}-byte maximum of one datagram`,
      );
    }
    if (this.#unacked.size < this.options.window) {
      this.#transmit(bytes.slice());
      return;
    }
    if (this.#queued.length >= this.options.maxQueued) {
      throw new TnicError(
        'transport-queue-full',
        `connection ${this.name}: ${this.#queued.length} messages already wait for acknowledgements; ` +
          'wait for the peer to catch up or raise maxQueued',
      );
    }
    this.#queued.push(bytes.slice());
  }

  receive(): Uint8Array[] {
    return this.#ready.splice(0);
  }

  /** Stop the channel: later sends throw, and arriving frames are dropped. */
  close(): void {
    if (this.#error) return;
    this.#fail('transport-closed', this.#nextSeq, 'the channel was closed', false);
  }

  /** Take one frame that the transport addressed to this channel. */
  handleFrame(frame: Frame): void {
    if (this.#error) {
      this.host.drop('channel-failed');
      return;
    }
    if (frame.type === 'data') this.#onData(frame.sequence, frame.payload);
    else if (frame.type === 'ack') this.#onAck(frame.sequence);
    else this.#onNak(frame.sequence);
  }

  // Send side.

  #transmit(payload: Uint8Array): void {
    if (this.#nextSeq > MAX_SEQUENCE) {
      this.#fail('transport-sequence-exhausted', this.#nextSeq, 'all 2^32 sequence numbers are used; open a new connection');
      throw this.#error!;
    }
    const sequence = this.#nextSeq++;
    const frame = encodeFrame({ type: 'data', connection: this.connection, sequence, payload });
    this.#unacked.set(sequence, { frame, retries: 0, deadline: this.clock.now() + this.options.rtoMs });
    this.stats.sent += 1;
    this.host.output(frame);
    this.#armRetransmit();
  }

  /**
   * Take a cumulative ACK: `next` is the receiver's next expected sequence number.
   * NOTE: ACK and NAK frames are not authenticated, so a Byzantine network can
   * forge one and stall delivery. That costs liveness only, because the TNIC
   * device above still rejects every message that is lost, replayed or out of order.
   */
  #onAck(next: number): void {
    if (next > this.#nextSeq) {
      this.host.drop('bad-ack');
      return;
    }
    for (const sequence of this.#unacked.keys()) {
      if (sequence >= next) break;
      this.#unacked.delete(sequence);
    }
    while (this.#queued.length > 0 && this.#unacked.size < this.options.window) {
      this.#transmit(this.#queued.shift()!);
    }
    if (this.#unacked.size === 0) this.#cancelRetransmitTimer();
  }

  #onNak(missing: number): void {
    if (missing >= this.#nextSeq) {
      this.host.drop('bad-ack');
      return;
    }
    this.#onAck(missing);
    const inFlight = this.#unacked.get(missing);
    if (inFlight) this.#retransmit(missing, inFlight);
  }

  #retransmit(sequence: number, inFlight: InFlight): void {
    if (inFlight.retries >= this.options.maxRetries) {
      this.#fail(
        'transport-retries-exhausted',
        sequence,
        `message ${sequence} was not acknowledged after ${inFlight.retries} retransmissions; ` +
          'the peer is down, unreachable or partitioned',
      );
      return;
    }
    inFlight.retries += 1;
    const shift = Math.min(inFlight.retries, MAX_BACKOFF_SHIFT);
    inFlight.deadline = this.clock.now() + this.options.rtoMs * 2 ** shift;
    this.stats.retransmitted += 1;
    this.host.output(inFlight.frame);
  }

  #armRetransmit(): void {
    if (this.#cancelRetransmit || this.#unacked.size === 0) return;
    let earliest = Infinity;
    for (const inFlight of this.#unacked.values()) earliest = Math.min(earliest, inFlight.deadline);
    const delay = Math.max(0, earliest - this.clock.now());
    this.#cancelRetransmit = this.clock.setTimer(delay, () => {
      this.#cancelRetransmit = undefined;
      this.#onRetransmitTimer();
    });
  }

  #onRetransmitTimer(): void {
    const now = this.clock.now();
    for (const [sequence, inFlight] of this.#unacked) {
      if (inFlight.deadline > now) continue;
      this.#retransmit(sequence, inFlight);
      if (this.#error) return;
    }
    this.#armRetransmit();
  }

  #cancelRetransmitTimer(): void {
    this.#cancelRetransmit?.();
    this.#cancelRetransmit = undefined;
  }

  // Receive side.

  #onData(sequence: number, payload: Uint8Array): void {
    if (sequence < this.#expected) {
      // A retransmission whose ACK was lost: acknowledge it again.
      this.stats.duplicates += 1;
      this.#sendControl('ack', this.#expected);
      return;
    }
    if (sequence > this.#expected) {
      this.#onEarly(sequence, payload);
      return;
    }
    if (this.#ready.length >= this.options.maxReady) {
      // No ACK, so the sender retransmits once receive() made room.
      this.host.drop('window-full');
      return;
    }

    this.#deliver(payload);
    for (let held = this.#early.get(this.#expected); held; held = this.#early.get(this.#expected)) {
      this.#early.delete(this.#expected);
      this.#deliver(held);
    }
    this.#gapSince = this.#early.size > 0 ? this.clock.now() : undefined;
    if (this.#gapSince === undefined) this.#cancelGap();
    this.#sendControl('ack', this.#expected);
    this.host.settle(this.onReadable?.());
  }

  #deliver(payload: Uint8Array): void {
    this.#ready.push(payload);
    this.#expected += 1;
    this.stats.delivered += 1;
  }

  #onEarly(sequence: number, payload: Uint8Array): void {
    if (this.#early.has(sequence)) {
      this.stats.duplicates += 1;
    } else if (sequence - this.#expected > this.options.maxEarly || this.#early.size >= this.options.maxEarly) {
      this.host.drop('window-full');
      return;
    } else {
      this.#early.set(sequence, payload);
    }

    // One NAK per missing sequence number and retransmission timeout.
    const now = this.clock.now();
    const naked = this.#nakedFor;
    if (!naked || naked.sequence !== this.#expected || now - naked.at >= this.options.rtoMs) {
      this.#nakedFor = { sequence: this.#expected, at: now };
      this.stats.naksSent += 1;
      this.#sendControl('nak', this.#expected);
    }
    if (this.#gapSince === undefined) this.#gapSince = now;
    this.#armGap();
  }

  #armGap(): void {
    if (this.#cancelGapTimer || this.#gapSince === undefined) return;
    const delay = Math.max(0, this.#gapSince + this.options.gapTimeoutMs - this.clock.now());
    this.#cancelGapTimer = this.clock.setTimer(delay, () => {
      this.#cancelGapTimer = undefined;
      this.#onGapTimer();
    });
  }

  #onGapTimer(): void {
    if (this.#gapSince === undefined) return;
    if (this.clock.now() - this.#gapSince < this.options.gapTimeoutMs) {
      this.#armGap();
      return;
    }
    this.#fail(
      'transport-gap',
      this.#expected,
      `message ${this.#expected} is missing and ${this.#early.size} later messages are held; ` +
        `no retransmission filled the gap within ${this.options.gapTimeoutMs} ms`,
    );
  }

  #cancelGap(): void {
    this.#cancelGapTimer?.();
    this.#cancelGapTimer = undefined;
  }

  #sendControl(type: 'ack' | 'nak', sequence: number): void {
    this.host.output(encodeFrame({ type, connection: this.connection, sequence, payload: new Uint8Array(0) }));
  }

  #fail(code: TransportErrorCode, sequence: number, message: string, notify = true): void {
    this.#error = new TransportError(code, this.name, sequence, message);
    this.#cancelRetransmitTimer();
    this.#cancelGap();
    this.#unacked.clear();
    this.#queued = [];
    this.#early.clear();
    if (notify) this.host.settle(this.onReadable?.());
  }
}

function checkOptions(options: Required<ReliableOptions>): Required<ReliableOptions> {
  for (const [name, value] of Object.entries(options)) {
    const min = name === 'maxRetries' ? 0 : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new InputError(`reliable channel option ${name} is ${value}; use an integer of ${min} or more`);
    }
  }
  return options;
}

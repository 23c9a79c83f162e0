/**
 * A connection between two TNIC devices over any message channel: the
 * in-memory link, the simulated network or UDP. authSend attests a message
 * and sends it; poll verifies every received message on the device and
 * delivers only the accepted ones, in counter order.
 *
 * Both directions share one session and its key: a device numbers what it
 * sends with its send_cnt of the session and checks what it receives
 * against its recv_cnt. Because the key is shared, the sender's device id
 * in the header is checked too, so a device's own messages reflected back
 * to it are rejected.
 */

import { LinkEndpoint, MemoryLink, type MemoryLinkOptions } from '../stack/memory_link.ts';
import type { MessageChannel, TransportError } from '../stack/transport.ts';
import { CounterGapError, InputError } from './errors.ts';
import { HoldBuffer } from './hold_buffer.ts';
import {
  MAX_SESSIONS,
  decodeAttested,
  type AttestedMessage,
  type Tnic,
  type VerifyReason,
  type VerifyResult,
} from './tnic_api.ts';

export type RejectReason =
  | Exclude<VerifyReason, 'ok'>
  | 'wrong-peer' // a valid header, but from a device other than the peer
  | 'hold-full'; // arrived ahead of a missing message while the hold buffer was full

/**
 * Receptions that were not delivered when they arrived, per reason. `gap`
 * counts messages put on hold, which are delivered once the missing ones
 * arrive. Every other reason counts messages that were discarded.
 */
export type RejectionCounts = Record<RejectReason, number>;

export interface Rejection {
  reason: RejectReason;
  /** Header fields, undefined when the bytes could not be parsed. */
  session: number | undefined;
  counter: bigint | undefined;
  detail: string;
}

export interface ReceivedMessage {
  session: number;
  device: number;
  counter: bigint;
  msg: Uint8Array;
  /** The verified wire bytes, which a receiver can forward for others to check. */
  bytes: Uint8Array;
}

export interface ConnectionOptions {
  /**
   * Messages held for a gap before further early arrivals are discarded
   * (default 64). The bound caps memory per connection; a discarded message
   * needs a retransmission.
   */
  maxHeld?: number;
  /**
   * Milliseconds, on the channel's clock, that a counter gap may stay open
   * before the connection fails with CounterGapError. Undefined (the
   * default) waits forever, which suits a link without retransmission.
   */
  gapTimeoutMs?: number;
}

export const DEFAULT_MAX_HELD = 64;

export class Connection {
  readonly rejected: RejectionCounts = {
    'bad-tag': 0,
    replayed: 0,
    gap: 0,
    'unknown-session': 0,
    overflow: 0,
    malformed: 0,
    'wrong-peer': 0,
    'hold-full': 0,
  };
  #lastRejection: Rejection | undefined;
  #delivered = 0;
  /** The counter the device expects next: one past the last delivered. */
  #nextCounter = 0n;
  #hold: HoldBuffer;
  #lastPoll: Promise<unknown> = Promise.resolve();
  #gapTimeoutMs: number | undefined;
  /** The counter awaited while messages are held, and its timer. */
  #gap: { counter: bigint; expired: boolean; cancel: () => void } | undefined;
  #failure: CounterGapError | undefined;

  constructor(
    readonly tnic: Tnic,
    readonly channel: MessageChannel,
    readonly session: number,
    readonly peerDeviceId: number,
    options: ConnectionOptions = {},
  ) {
    if (channel instanceof LinkEndpoint && channel.device !== tnic.device) {
      throw new InputError(`endpoint ${channel.name} belongs to another device than device ${tnic.deviceId}`);
    }
    if (!Number.isInteger(session) || session < 0 || session >= MAX_SESSIONS) {
      throw new InputError(`session ${session} is out of range; use 0..${MAX_SESSIONS - 1}`);
    }
    const maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
    if (!Number.isInteger(maxHeld) || maxHeld < 0) {
      throw new InputError(`maxHeld ${maxHeld} must be an integer of 0 or more`);
    }
    this.#hold = new HoldBuffer(maxHeld);
    const gapTimeoutMs = options.gapTimeoutMs;
    if (gapTimeoutMs !== undefined && !(Number.isFinite(gapTimeoutMs) && gapTimeoutMs > 0)) {
      throw new InputError(`gapTimeoutMs ${gapTimeoutMs} must be a positive number of milliseconds`);
    }
    this.#gapTimeoutMs = gapTimeoutMs;
  }

  /** The error that ended the connection: a counter gap here, or a failed channel below. */
  get error(): CounterGapError | TransportError | undefined {
    return this.#failure ?? this.channel.error;
  }

  /** Messages delivered by poll so far. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Messages on hold, waiting for an earlier counter. */
  get held(): number {
    return this.#hold.size;
  }

  get lastRejection(): Rejection | undefined {
    return this.#lastRejection;
  }

  /** Attest `msg` with the next counter of the session and send it; returns the wire bytes. */
  async authSend(msg: Uint8Array): Promise<Uint8Array> {
    const error = this.error;
    if (error) throw error;
    const bytes = await this.tnic.localSend(this.session, msg);
    this.channel.send(bytes);
    return bytes;
  }

  /** Send wire bytes from an earlier authSend again, unchanged, e.g. after a loss. */
  retransmit(bytes: Uint8Array): void {
    this.channel.send(bytes);
  }

  /**
   * Verify every received message and return the accepted ones in counter
   * order; the number delivered is the returned length. A message with a
   * gap is held and delivered in a later poll once the gap fills.
   *
   * Throws the connection's error once it failed and nothing more can be
   * delivered: CounterGapError for a gap that outlived gapTimeoutMs, or
   * the channel's TransportError.
   */
  async poll(): Promise<ReceivedMessage[]> {
    // Overlapping polls run one after the other, so deliveries stay in counter order.
    const run = this.#lastPoll.then(() => this.#pollOnce());
    this.#lastPoll = run.catch(() => undefined);
    return run;
  }

  async #pollOnce(): Promise<ReceivedMessage[]> {
    const out: ReceivedMessage[] = [];
    if (this.#failure === undefined) {
      for (const bytes of this.channel.receive()) await this.#receive(bytes, out);
    }
    this.#delivered += out.length;
    this.#trackGap();

    const error = this.error;
    if (out.length === 0 && error) throw error;
    return out;
  }

  /**
   * Start the gap timer when messages wait for a counter, and stop it when
   * none wait. The timer only marks the gap as expired and wakes the
   * reader, so messages that arrived but were not yet polled can still
   * fill it; the connection fails only if the gap is still open after that.
   */
  #trackGap(): void {
    const timeout = this.#gapTimeoutMs;
    if (timeout === undefined || this.#failure) return;
    if (this.#hold.size === 0) {
      this.#gap?.cancel();
      this.#gap = undefined;
      return;
    }
    const awaited = this.#nextCounter;
    if (this.#gap?.counter === awaited) {
      if (this.#gap.expired) {
        this.#failure = new CounterGapError(this.channel.name, this.session, awaited, this.#hold.size, timeout);
      }
      return;
    }

    this.#gap?.cancel();
    const gap = { counter: awaited, expired: false, cancel: () => {} };
    gap.cancel = this.channel.clock.setTimer(timeout, () => {
      gap.expired = true;
      return this.channel.onReadable?.();
    });
    this.#gap = gap;
  }

  async #receive(bytes: Uint8Array, out: ReceivedMessage[]): Promise<void> {
    const header = this.#checkHeader(bytes);
    if (header === undefined) return;

    const result = await this.tnic.localVerify(bytes);
    if (result.accepted) {
      out.push(received(header, bytes));
      this.#nextCounter = header.counter + 1n;
      await this.#releaseHeld(header.counter + 1n, out);
    } else if (result.reason === 'gap') {
      this.#holdEarly(header, bytes, result);
    } else {
      this.#reject(result.reason as RejectReason, header, result.detail);
    }
  }

  /** Reject bytes that are not for this connection before the device verifies them. */
  #checkHeader(bytes: Uint8Array): AttestedMessage | undefined {
    let m: AttestedMessage;
    try {
      m = decodeAttested(bytes);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      this.#reject('malformed', undefined, err.message);
      return undefined;
    }

    if (m.session !== this.session) {
      const detail = `session ${m.session} is not this connection's session ${this.session}`;
      this.#reject('unknown-session', m, detail);
      return undefined;
    }
    if (m.device !== this.peerDeviceId) {
      const detail =
        `counter ${m.counter} on session ${m.session} names device ${m.device}, ` +
        `not the peer device ${this.peerDeviceId} (reflected or misrouted)`;
      this.#reject('wrong-peer', m, detail);
      return undefined;
    }
    return m;
  }

  #holdEarly(m: AttestedMessage, bytes: Uint8Array, result: VerifyResult): void {
    if (result.expected !== undefined) this.#nextCounter = result.expected;
    if (this.#hold.has(m.counter)) {
      this.#reject('replayed', m, `${result.detail}; a copy of it is already held`);
    } else if (!this.#hold.put(m.counter, bytes)) {
      const detail = `${result.detail}; discarded because ${this.#hold.capacity} messages are already held`;
      this.#reject('hold-full', m, detail);
    } else {
      this.#reject('gap', m, `${result.detail}; held until it arrives`);
    }
  }

  /** Deliver held messages from counter `next` on, for as long as they follow one another. */
  async #releaseHeld(next: bigint, out: ReceivedMessage[]): Promise<void> {
    for (let bytes = this.#hold.take(next); bytes !== undefined; bytes = this.#hold.take(next)) {
      const result = await this.tnic.localVerify(bytes);
      if (!result.accepted) {
        // NOTE: only another user of this device and session (e.g. a second
        // Connection on it) can move recv_cnt so that a held message fails here.
        this.#reject(result.reason as RejectReason, result.message, result.detail);
        return;
      }
      out.push(received(result.message!, bytes));
      this.#nextCounter = next + 1n;
      next += 1n;
    }
  }

  #reject(reason: RejectReason, m: AttestedMessage | undefined, detail: string): void {
    this.rejected[reason] += 1;
    this.#lastRejection = { reason, session: m?.session, counter: m?.counter, detail };
  }
}

function received(m: AttestedMessage, bytes: Uint8Array): ReceivedMessage {
  return { session: m.session, device: m.device, counter: m.counter, msg: m.msg, bytes };
}

/**
 * Join two devices with an in-memory link and open a connection at each
 * end on `session`. Both devices must hold the session's key.
 */
export function connectInMemory(
  a: Tnic,
  b: Tnic,
  session: number,
  options: ConnectionOptions & MemoryLinkOptions = {},
): { link: MemoryLink; a: Connection; b: Connection } {
  const link = new MemoryLink(a.device, b.device, options);
  return {
    link,
    a: new Connection(a, link.a, session, b.deviceId, options),
    b: new Connection(b, link.b, session, a.deviceId, options),
  };
}

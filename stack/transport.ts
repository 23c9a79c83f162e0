/**
 * The interface that every transport offers to the layers above it: a
 * reliable, FIFO, message-oriented channel to one peer. The simulated
 * network (stack/sim_network.ts) and real UDP (stack/udp_transport.ts) both
 * carry the same reliable channel (stack/reliable_channel.ts), so protocol
 * code written against `MessageChannel` runs unchanged on either.
 *
 * Everything a channel carries is untrusted: the TNIC device above it
 * verifies every attested message, and a Byzantine host may send anything.
 */

import { performance } from 'node:perf_hooks';

import { TnicError } from '../sim/errors.ts';

/** Milliseconds: virtual on the simulated network, wall-clock on UDP. */
export interface Clock {
  now(): number;
  /**
   * Call `fn` once after `delayMs`; the returned function cancels the call.
   * The simulated network awaits a promise that `fn` returns before its next event.
   */
  setTimer(delayMs: number, fn: () => void | Promise<void>): () => void;
}

/** Wall-clock time, for real transports. */
export const WALL_CLOCK: Clock = {
  now: () => performance.now(),
  setTimer: (delayMs, fn) => {
    const timer = setTimeout(() => {
      const result = fn();
      if (result instanceof Promise) {
        result.catch((error: unknown) => console.error(`timer callback failed: ${String(error)}`));
      }
    }, delayMs);
    return () => clearTimeout(timer);
  },
};

/**
 * Called when messages become available on a channel or the channel fails.
 * The simulated network awaits a returned promise before its next event, so
 * a run stays deterministic; UDP only reports its rejection.
 */
export type ReadableHandler = () => void | Promise<void>;

export interface MessageChannel {
  /** Names both ends and the connection, for errors and logs, e.g. "a -> b #0". */
  readonly name: string;
  readonly clock: Clock;
  /** Queue `bytes` for reliable, in-order delivery; throws once the channel failed. */
  send(bytes: Uint8Array): void;
  /** Remove and return the delivered messages, oldest first. */
  receive(): Uint8Array[];
  onReadable: ReadableHandler | undefined;
  /** The error that ended the channel, if it failed. */
  readonly error: TransportError | undefined;
}

/** A network endpoint that opens channels to peers: a simulated node or a UDP socket. */
export interface Transport {
  /** Open the channel to `peer` (a node name, or "address:port" on UDP) with `connection`. */
  channel(peer: string, connection?: number): MessageChannel;
}

export type TransportErrorCode =
  | 'transport-gap' // a missing message was never retransmitted
  | 'transport-retries-exhausted' // a sent message was never acknowledged
  | 'transport-sequence-exhausted' // 2^32 messages were sent on the channel
  | 'transport-closed';

/** A channel that cannot go on; names the connection and the message sequence number. */
export class TransportError extends TnicError {
  constructor(
    code: TransportErrorCode,
    readonly connection: string,
    readonly sequence: number,
    message: string,
  ) {
    super(code, `connection ${connection}: ${message}`);
    this.name = 'TransportError';
  }
}

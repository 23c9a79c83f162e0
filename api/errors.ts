/**
 * Typed errors of the TNIC API. Every error is a TnicError, so the CLI
 * prints its message as one line, and `code` distinguishes the kinds.
 */

import { InputError, TnicError } from '../sim/errors.ts';

export { InputError, TnicError };

/** An attestation on a session that has no key on this device. */
export class UnknownSessionError extends TnicError {
  constructor(
    readonly session: number,
    readonly deviceId: number,
  ) {
    super(
      'unknown-session',
      `session ${session} has no key on device ${deviceId}; provision its key before lock()`,
    );
    this.name = 'UnknownSessionError';
  }
}

/** A kernel result that the API contract rules out, e.g. "bad-op" returned for a VERIFY. */
export class DeviceFaultError extends TnicError {
  constructor(message: string) {
    super('device-fault', message);
    this.name = 'DeviceFaultError';
  }
}

/**
 * Messages held for a missing counter that never arrived: the peer's host
 * withheld or lost it and did not send it again in time.
 */
export class CounterGapError extends TnicError {
  constructor(
    readonly connection: string,
    readonly session: number,
    readonly counter: bigint,
    readonly held: number,
    readonly timeoutMs: number,
  ) {
    super(
      'counter-gap',
      `connection ${connection}: counter ${counter} on session ${session} is missing and ` +
        `${held} later messages are held; it did not arrive within ${timeoutMs} ms`,
    );
    this.name = 'CounterGapError';
  }
}

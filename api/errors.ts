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

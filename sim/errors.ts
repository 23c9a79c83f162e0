/**
 * Typed errors of the toolkit. Library code throws these; the CLI prints
 * `message` as one line and exits non-zero. Messages name the bad value and
 * the fix.
 */
export class TnicError extends Error {
  constructor(
    /** Stable machine-readable kind, e.g. "invalid-input", "verilator-missing". */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TnicError';
  }
}

/** Bad input from a user or a peer: a file line, a flag, a packet. */
export class InputError extends TnicError {
  constructor(message: string) {
    super('invalid-input', message);
    this.name = 'InputError';
  }
}

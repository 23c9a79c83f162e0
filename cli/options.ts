/** Parsers for CLI option values: each rejects with the value and the accepted range. */

import { InputError } from '../sim/errors.ts';
import { BACKENDS, type Backend } from '../stack/tnic_device.ts';

/** Help text of every --backend option. */
export const BACKEND_HELP =
  'device backend: model (cycle model), rtl (Verilator), or the CPU baselines ssl-lib, ssl-server, ' +
  'sgx, sev (software HMAC; sgx and sev only model the TEE latency)';

export function parseBackend(value: string): Backend {
  if ((BACKENDS as readonly string[]).includes(value)) return value as Backend;
  throw new InputError(`--backend '${value}' is not a known backend; use one of: ${BACKENDS.join(', ')}`);
}

/** Make a parser for an integer option within [min, max]. */
export function parseIntOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InputError(`${name} '${value}' is not an integer in ${min}..${max}`);
    }
    return n;
  };
}

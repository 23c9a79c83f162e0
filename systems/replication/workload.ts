/**
 * Seeded client workloads: each logical client process issues its
 * operations one at a time. Key-value operations use few keys and small
 * values so that compare-and-set succeeds often and histories are dense.
 */

import { SeededRandom } from './prng.ts';
import type { MachineKind, Operation } from './state_machine.ts';

export const WORKLOAD_KEYS = ['a', 'b', 'c'] as const;
const MAX_VALUE = 4;

/** Draw the next operation for a machine of kind `kind`. */
export function randomOperation(kind: MachineKind, random: SeededRandom): Operation {
  if (kind === 'counter') return { f: 'increment' };
  const key = random.pick(WORKLOAD_KEYS);
  const draw = random.next();
  if (draw < 0.4) return { f: 'get', key };
  if (draw < 0.7) return { f: 'put', key, value: random.int(0, MAX_VALUE) };
  return { f: 'cas', key, from: random.int(0, MAX_VALUE), to: random.int(0, MAX_VALUE) };
}

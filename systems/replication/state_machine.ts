/**
 * The deterministic state machines that the replicated systems run: the
 * counter of the TNIC paper's BFT evaluation and a key-value store with
 * get, put and compare-and-set. Every replica executes the same operations
 * in the same order, so equal inputs give equal outputs; a replica checks a
 * peer by executing the peer's operations itself and comparing outputs.
 */

import { InputError } from '../../api/errors.ts';

export type Operation =
  | { f: 'increment' }
  | { f: 'get'; key: string }
  | { f: 'put'; key: string; value: number }
  | { f: 'cas'; key: string; from: number; to: number };

/**
 * The result of one operation: the counter's new value, the value read
 * (null for a missing key), null for a put, and whether a compare-and-set
 * swapped.
 */
export type Output = number | boolean | null;

export type MachineKind = 'counter' | 'kv';

export const MACHINE_KINDS: readonly MachineKind[] = ['counter', 'kv'];

export interface StateMachine {
  readonly kind: MachineKind;
  /** Apply `op` and return its output; throws InputError for an operation of the other machine. */
  apply(op: Operation): Output;
  /** An independent copy, for executing a batch before committing to it. */
  clone(): StateMachine;
}

export class CounterMachine implements StateMachine {
  readonly kind = 'counter';

  constructor(private value = 0) {}

  apply(op: Operation): Output {
    if (op.f !== 'increment') throw new InputError(`the counter has no operation '${op.f}'; use increment`);
    this.value += 1;
    return this.value;
  }

  clone(): CounterMachine {
    return new CounterMachine(this.value);
  }
}

export class KvMachine implements StateMachine {
  readonly kind = 'kv';

  constructor(private readonly values = new Map<string, number>()) {}

  apply(op: Operation): Output {
    switch (op.f) {
      case 'get':
        return this.values.get(op.key) ?? null;
      case 'put':
        this.values.set(op.key, op.value);
        return null;
      case 'cas': {
        if (this.values.get(op.key) !== op.from) return false;
        this.values.set(op.key, op.to);
        return true;
      }
      case 'increment':
        throw new InputError(`the key-value store has no operation 'increment'; use get, put or cas`);
    }
  }

  clone(): KvMachine {
    return new KvMachine(new Map(this.values));
  }
}

export function createMachine(kind: MachineKind): StateMachine {
  return kind === 'counter' ? new CounterMachine() : new KvMachine();
}

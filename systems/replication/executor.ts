/**
 * A state machine that applies each client request at most once. A request
 * seen before returns its recorded output without running again, so a
 * client's retry or a duplicated proposal cannot apply an operation twice.
 *
 * NOTE: the record of applied requests grows with every request; a long-
 * lived deployment would keep only the latest request id per client.
 */

import { requestKey, type ClientRequest } from './request.ts';
import type { Output, StateMachine } from './state_machine.ts';

export interface Trial {
  outputs: Output[];
  /** Make the trial's state and applied requests the executor's own; returns how to undo that. */
  commit(): Undo;
}

/** The undo record of one commit: the state before it and the requests it applied first. */
export interface Undo {
  readonly machine: StateMachine;
  readonly keys: readonly string[];
}

export class Executor {
  #applied = new Map<string, Output>();

  constructor(private machine: StateMachine) {}

  hasApplied(request: { process: number; id: number }): boolean {
    return this.#applied.has(requestKey(request));
  }

  /** Execute `batch` on a copy of the state; nothing changes until commit(). */
  trial(batch: readonly ClientRequest[]): Trial {
    const machine = this.machine.clone();
    const applied = new Map<string, Output>();
    const outputs = batch.map((request) => {
      const key = requestKey(request);
      const earlier = this.#applied.get(key) ?? applied.get(key);
      if (earlier !== undefined) return earlier;
      const output = machine.apply(request.op);
      applied.set(key, output);
      return output;
    });
    return {
      outputs,
      commit: () => {
        // The trial ran on a clone, so the state before it is kept whole and costs no copy.
        const undo: Undo = { machine: this.machine, keys: [...applied.keys()] };
        this.machine = machine;
        for (const [key, output] of applied) this.#applied.set(key, output);
        return undo;
      },
    };
  }

  /** Revert one commit; commits must be undone newest first. */
  undo(undo: Undo): void {
    this.machine = undo.machine;
    for (const key of undo.keys) this.#applied.delete(key);
  }
}

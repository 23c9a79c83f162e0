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
  /** Make the trial's state and applied requests the executor's own. */
  commit(): void;
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
        this.machine = machine;
        for (const [key, output] of applied) this.#applied.set(key, output);
      },
    };
  }
}

/**
 * The operations a client waits for and the outputs each replica reported
 * for them, shared by the quorum client and the chain-replication client.
 * Each client decides when an operation is complete. The tally keeps what
 * both need: one entry per issued request, the output an operation
 * completed with (to classify late results), and per-replica conflicts.
 */

import { InputError } from '../../api/errors.ts';
import { requestKey, type ClientRequest } from './request.ts';
import type { Output } from './state_machine.ts';

/** An operation that completed, with the output its replicas agreed on. */
export interface Decision {
  request: ClientRequest;
  output: Output;
}

/** An operation still waiting for results. */
export interface PendingOperation {
  request: ClientRequest;
  /** Output reported by each replica device, as JSON text. */
  results: Map<number, string>;
}

export class OperationTally {
  /** Results that disagreed with the output the operation completed with, per replica device. */
  readonly conflicting = new Map<number, number>();
  #pending = new Map<string, PendingOperation>();
  /** Output of every completed request, as JSON text. */
  #outcomes = new Map<string, string>();

  get size(): number {
    return this.#pending.size;
  }

  /** Start collecting results for `request`; a request id may be issued once. */
  expect(request: ClientRequest): void {
    const key = requestKey(request);
    if (this.#pending.has(key) || this.#outcomes.has(key)) {
      throw new InputError(`request ${key} was already issued; give each operation a new id`);
    }
    this.#pending.set(key, { request, results: new Map() });
  }

  /**
   * Return the pending operation of request `key`. A result for a completed
   * operation whose `output` differs from the completed one counts as a
   * conflict of `device` ('conflict'). Any other result without a pending
   * operation is 'stale'.
   */
  lookUp(key: string, device: number, output: string): PendingOperation | 'conflict' | 'stale' {
    const pending = this.#pending.get(key);
    if (pending !== undefined) return pending;
    const outcome = this.#outcomes.get(key);
    if (outcome === undefined || outcome === output) return 'stale';
    this.countConflict(device);
    return 'conflict';
  }

  /** Operations still waiting, in the order they were issued. */
  waiting(): PendingOperation[] {
    return [...this.#pending.values()];
  }

  /** Complete `pending` with `decided` (JSON text) and count a conflict for every replica that reported otherwise. */
  close(pending: PendingOperation, decided: string): Decision {
    const key = requestKey(pending.request);
    this.#pending.delete(key);
    this.#outcomes.set(key, decided);
    for (const [device, reported] of pending.results) {
      if (reported !== decided) this.countConflict(device);
    }
    return { request: pending.request, output: JSON.parse(decided) as Output };
  }

  countConflict(device: number): void {
    this.conflicting.set(device, (this.conflicting.get(device) ?? 0) + 1);
  }
}

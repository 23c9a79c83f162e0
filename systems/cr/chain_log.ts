/**
 * A chain node's log: for every seq it applied, the request, its own
 * output and the proofs it received for that seq, one per epoch. The log
 * is what a node re-sends down a rebuilt chain, and what it draws evidence
 * from: every proof embeds the attested messages of all earlier nodes.
 *
 * NOTE: the log keeps every entry; nothing truncates it behind a checkpoint.
 */

import { InputError } from '../../api/errors.ts';
import type { ClientRequest } from '../replication/request.ts';
import type { Output } from '../replication/state_machine.ts';
import type { ChainMessage } from './messages.ts';
import { claimOf } from './proof.ts';

/** An attested chain message from the predecessor, with its decoded content. */
export interface ReceivedProof {
  bytes: Uint8Array;
  message: ChainMessage;
}

export interface LogEntry {
  seq: number;
  request: ClientRequest;
  /** The output of this node's own execution (a lying node reports another one). */
  output: Output;
  /** The predecessor's message for this seq, by epoch; empty for requests applied as head. */
  proofs: Map<number, ReceivedProof>;
}

export class ChainLog {
  /** entries[i] is seq i + 1. */
  #entries: LogEntry[] = [];

  /** The highest seq applied; every seq below it is applied too. */
  get appliedSeq(): number {
    return this.#entries.length;
  }

  append(request: ClientRequest, output: Output): LogEntry {
    const entry: LogEntry = { seq: this.#entries.length + 1, request, output, proofs: new Map() };
    this.#entries.push(entry);
    return entry;
  }

  get(seq: number): LogEntry {
    const entry = this.#entries[seq - 1];
    if (entry === undefined) throw new InputError(`seq ${seq} is not in the log (applied up to ${this.appliedSeq})`);
    return entry;
  }

  /**
   * Collect the attested messages of `device` for seq 1..upTo from the
   * received proofs. Returns undefined if one seq has none, e.g. because
   * it was applied as head or `device` was not upstream when it arrived.
   */
  claimsOf(device: number, upTo: number): Uint8Array[] | undefined {
    const out: Uint8Array[] = [];
    for (let seq = 1; seq <= Math.min(upTo, this.appliedSeq); seq++) {
      const found = [...this.get(seq).proofs.values()]
        .map((proof) => claimOf(proof.bytes, device))
        .find((claim) => claim !== undefined);
      if (found === undefined) return undefined;
      out.push(found.bytes);
    }
    return out.length === upTo ? out : undefined;
  }
}

/**
 * BFT protocol messages, carried as JSON inside attested messages. The
 * leader's proposal and a follower's accept both state request || output
 * for a whole batch, so the client reads its results from either.
 *
 *   propose  leader -> followers, client    {t, view, seq, batch, outputs}
 *   accept   follower -> leader, other followers, client   {t, view, seq, replica, batch, outputs}
 */

import {
  parseOutputs,
  parseRequests,
  type ClientRequest,
  type RequestResult,
} from '../replication/request.ts';
import type { Output } from '../replication/state_machine.ts';
import { isRecord } from '../replication/wire.ts';

export interface Propose {
  t: 'propose';
  view: number;
  /** Batch sequence number, from 1, one more for every batch the leader proposes. */
  seq: number;
  batch: ClientRequest[];
  outputs: Output[];
}

export interface Accept {
  t: 'accept';
  view: number;
  seq: number;
  /** Index of the follower that executed the batch. */
  replica: number;
  batch: ClientRequest[];
  outputs: Output[];
}

const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

/** Parse a proposal or an accept; undefined when any field is missing or invalid. */
export function parseBftMessage(value: unknown): Propose | Accept | undefined {
  if (!isRecord(value) || !Number.isSafeInteger(value.view) || !isSeq(value.seq)) return undefined;
  const batch = parseRequests(value.batch);
  if (batch === undefined || batch.length === 0) return undefined;
  const outputs = parseOutputs(value.outputs, batch.length);
  if (outputs === undefined) return undefined;

  const common = { view: value.view as number, seq: value.seq, batch, outputs };
  if (value.t === 'propose') return { t: 'propose', ...common };
  if (value.t === 'accept' && Number.isSafeInteger(value.replica)) {
    return { t: 'accept', replica: value.replica as number, ...common };
  }
  return undefined;
}

/** The per-request results that a proposal or accept reports. */
export function bftResults(payload: unknown): RequestResult[] {
  const m = parseBftMessage(payload);
  if (m === undefined) return [];
  return m.batch.map((r, i) => ({ process: r.process, id: r.id, output: m.outputs[i]! }));
}

/** Text that is equal for two messages exactly when they state the same batch and outputs. */
export function batchDigest(m: { batch: ClientRequest[]; outputs: Output[] }): string {
  return JSON.stringify([m.batch, m.outputs]);
}

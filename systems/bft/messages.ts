/**
 * BFT protocol messages, carried as JSON inside attested messages. The
 * leader's proposal and a follower's accept both state request || output
 * for a whole batch, so the client reads its results from either.
 *
 *   propose      leader -> followers, client    {t, view, seq, batch, outputs}
 *   accept       follower -> leader, other followers, client   {t, view, seq, replica, batch, outputs}
 *   view-change  replica -> other replicas   {t, view, replica, log}
 *   new-view     new leader -> other replicas   {t, view, proofs}
 *
 * A view-change message names the view it requests and carries, base64
 * encoded, the attested proposals the replica applied most recently. A
 * new-view message carries the attested view-change messages that justify
 * it, so every replica can check them on its own device.
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

export interface ViewChange {
  t: 'view-change';
  /** The view the replica requests to move to. */
  view: number;
  replica: number;
  /** Attested proposal bytes, base64, in increasing seq: the last ones this replica applied. */
  log: string[];
}

export interface NewView {
  t: 'new-view';
  view: number;
  /** Attested view-change messages for `view`, base64, from at least f+1 distinct replicas. */
  proofs: string[];
}

const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
const isView = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64List = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((item) => typeof item === 'string' && BASE64.test(item));

/** Parse a view-change or new-view message; undefined for anything else or any invalid field. */
export function parseViewMessage(value: unknown): ViewChange | NewView | undefined {
  if (!isRecord(value) || !isView(value.view) || value.view < 1) return undefined;
  if (value.t === 'view-change' && isView(value.replica) && isBase64List(value.log)) {
    return { t: 'view-change', view: value.view, replica: value.replica, log: value.log };
  }
  if (value.t === 'new-view' && isBase64List(value.proofs)) {
    return { t: 'new-view', view: value.view, proofs: value.proofs };
  }
  return undefined;
}

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

/**
 * PeerReview messages, as JSON inside attested messages. Binary fields are
 * base64. An authenticated sender can still be Byzantine, so every parser
 * checks each field and returns undefined for anything invalid.
 *
 *   chunk     source -> child     {t, seq, data, log}
 *   forward   child -> sibling    {t, seq, data, log}
 *   audit     witness -> node     {t, from, nonce}
 *   audit-response  node -> witness  {t, nonce, from, prevHash, entries, more}
 *
 * `log` in a stream message commits the sender to its log: `index` is the
 * log index of the send entry that records this message, and `hash` is the
 * hash of the entry before it. The commitment sits inside the attested
 * bytes, so the sender cannot later present a log that disagrees with it.
 */

import { isRecord } from '../replication/wire.ts';

export interface LogCommitment {
  index: number;
  /** base64 of the 32-byte hash of entry index - 1 (all zero for index 0). */
  hash: string;
}

export interface StreamMessage {
  t: 'chunk' | 'forward';
  /** Position of the chunk in the stream, from 1. */
  seq: number;
  /** base64 of the chunk's bytes. */
  data: string;
  log: LogCommitment;
}

export interface AuditRequest {
  t: 'audit';
  /** The first log index the witness requests. */
  from: number;
  nonce: string;
}

export type EntryKind = 'send' | 'recv';

/** A log entry as an audit response carries it: the attested wire bytes and the peer. */
export interface WireEntry {
  kind: EntryKind;
  peer: string;
  /** base64 of the attested message: alpha || header || msg. */
  wire: string;
}

export interface AuditResponse {
  t: 'audit-response';
  nonce: string;
  from: number;
  /** base64 of the hash of entry from - 1, as stored in the node's log. */
  prevHash: string;
  entries: WireEntry[];
  /** True when the log has entries after this page. */
  more: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HASH_BASE64_CHARS = 44; // 32 bytes

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Decode strict base64; undefined for any other text. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isHash = (v: unknown): v is string => typeof v === 'string' && v.length === HASH_BASE64_CHARS && BASE64.test(v);

function parseCommitment(value: unknown): LogCommitment | undefined {
  if (!isRecord(value) || !isIndex(value.index) || !isHash(value.hash)) return undefined;
  return { index: value.index, hash: value.hash };
}

export function parseStreamMessage(value: unknown): StreamMessage | undefined {
  if (!isRecord(value) || (value.t !== 'chunk' && value.t !== 'forward')) return undefined;
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 1) return undefined;
  if (typeof value.data !== 'string' || fromBase64(value.data) === undefined) return undefined;
  const log = parseCommitment(value.log);
  if (log === undefined) return undefined;
  return { t: value.t, seq: value.seq as number, data: value.data, log };
}

export function parseAuditRequest(value: unknown): AuditRequest | undefined {
  if (!isRecord(value) || value.t !== 'audit' || !isIndex(value.from) || typeof value.nonce !== 'string') {
    return undefined;
  }
  return { t: 'audit', from: value.from, nonce: value.nonce };
}

function parseWireEntry(value: unknown): WireEntry | undefined {
  if (!isRecord(value) || (value.kind !== 'send' && value.kind !== 'recv')) return undefined;
  if (typeof value.peer !== 'string' || typeof value.wire !== 'string') return undefined;
  if (fromBase64(value.wire) === undefined) return undefined;
  return { kind: value.kind, peer: value.peer, wire: value.wire };
}

export function parseAuditResponse(value: unknown): AuditResponse | undefined {
  if (!isRecord(value) || value.t !== 'audit-response' || typeof value.nonce !== 'string') return undefined;
  if (!isIndex(value.from) || !isHash(value.prevHash) || typeof value.more !== 'boolean') return undefined;
  if (!Array.isArray(value.entries)) return undefined;
  const entries: WireEntry[] = [];
  for (const item of value.entries) {
    const entry = parseWireEntry(item);
    if (entry === undefined) return undefined;
    entries.push(entry);
  }
  return { t: 'audit-response', nonce: value.nonce, from: value.from, prevHash: value.prevHash, entries, more: value.more };
}

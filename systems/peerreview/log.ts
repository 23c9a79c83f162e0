/**
 * A node's tamper-evident log of every stream message it sent and received,
 * each entry holding the attested wire bytes. Entries form a hash chain:
 *
 *   hash[i] = SHA-256(hash[i-1] || u32 i || u8 kind || u8 len(peer) || peer || wire)
 *
 * with hash[-1] = 32 zero bytes, all integers big-endian. The log lives in
 * untrusted host memory, so a Byzantine host can change it at will (see
 * `replace`). What it cannot do is change an entry's wire bytes without
 * failing the attestation check, or change the chain without contradicting
 * the commitments in its attested messages and earlier audit responses.
 */

import { createHash } from 'node:crypto';

import { InputError } from '../../api/errors.ts';
import type { EntryKind } from './messages.ts';

export const HASH_BYTES = 32;
export const GENESIS_HASH: Uint8Array = new Uint8Array(HASH_BYTES);
const MAX_PEER_NAME_BYTES = 255;

export interface LogEntry {
  index: number;
  kind: EntryKind;
  /** The node the message went to or came from. */
  peer: string;
  wire: Uint8Array;
  /** Hash of this entry chained to all earlier ones. */
  hash: Uint8Array;
}

/** Hash entry `index` onto `prev`. */
export function entryHash(prev: Uint8Array, index: number, kind: EntryKind, peer: string, wire: Uint8Array): Uint8Array {
  const name = Buffer.from(peer, 'utf8');
  if (name.length > MAX_PEER_NAME_BYTES) {
    throw new InputError(`peer name '${peer}' is ${name.length} bytes; the log takes at most ${MAX_PEER_NAME_BYTES}`);
  }
  const fields = Buffer.alloc(6);
  fields.writeUInt32BE(index, 0);
  fields.writeUInt8(kind === 'send' ? 0 : 1, 4);
  fields.writeUInt8(name.length, 5);
  const hash = createHash('sha256').update(prev).update(fields).update(name).update(wire).digest();
  return new Uint8Array(hash);
}

export class TamperEvidentLog {
  #entries: LogEntry[] = [];

  get length(): number {
    return this.#entries.length;
  }

  /** Return the hash of entry `index - 1`, the chain value that entry `index` extends. */
  hashBefore(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index > this.#entries.length) {
      throw new InputError(`log index ${index} is outside 0..${this.#entries.length}`);
    }
    return index === 0 ? GENESIS_HASH : this.#entries[index - 1]!.hash;
  }

  entry(index: number): LogEntry {
    const entry = this.#entries[index];
    if (entry === undefined) throw new InputError(`log index ${index} is outside 0..${this.#entries.length - 1}`);
    return entry;
  }

  append(kind: EntryKind, peer: string, wire: Uint8Array): LogEntry {
    const index = this.#entries.length;
    const hash = entryHash(this.hashBefore(index), index, kind, peer, wire);
    const entry = { index, kind, peer, wire, hash };
    this.#entries.push(entry);
    return entry;
  }

  /**
   * Return the entries from `from` on whose wire bytes add up to at most
   * `maxBytes`. A page has at least one entry when any is left, so every
   * page makes progress.
   */
  page(from: number, maxBytes: number): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = from; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (out.length > 0 && bytes + entry.wire.length > maxBytes) break;
      out.push(entry);
      bytes += entry.wire.length;
    }
    return out;
  }

  /** Drop every entry from `length` on, as a Byzantine host can. A correct node never calls it. */
  truncate(length: number): void {
    this.hashBefore(length);
    this.#entries.length = length;
  }

  /**
   * Overwrite entry `index` and rehash the chain from there, as a Byzantine
   * host can, because the log is in its memory. A correct node never calls it.
   */
  replace(index: number, kind: EntryKind, peer: string, wire: Uint8Array): void {
    this.entry(index);
    this.#entries[index] = { index, kind, peer, wire, hash: GENESIS_HASH };
    for (let i = index; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      e.hash = entryHash(this.hashBefore(i), i, e.kind, e.peer, e.wire);
    }
  }
}

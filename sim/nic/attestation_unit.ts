/**
 * Functional attestation of the simulated devices: real tags and real
 * counters, so every simulated packet carries the bytes a device would send.
 *
 * Attest(session, msg): counter = send_cnt, send_cnt += 1, and the tag is
 * HMAC(key[session], hashed) over hashed = header || msg (leading placement)
 * or msg || header (trailing placement), with header = session u32 ||
 * device u32 || counter u64, big-endian. The tag is zero-padded to the
 * profile's tag field. Verify accepts only a matching tag with counter ==
 * recv_cnt and then advances recv_cnt, like the kernel in sim/tnic_kernel.ts.
 */

import { createHmac } from 'node:crypto';

import { InputError } from '../errors.ts';
import { allocateBytes } from './byte_slab.ts';
import { HMAC_KEY_STATE_WORDS, hmacSha256Into, loadHmacKeyState } from './hmac_sha256.ts';
import { ATTESTATION_HEADER_BYTES } from './kernel_timing.ts';
import type { HashName, TagPlacement } from './profiles.ts';

export type VerifyStatus = 'ok' | 'bad-tag' | 'replayed' | 'gap' | 'unknown-session' | 'malformed';

export interface VerifyResult {
  status: VerifyStatus;
  session: number;
  device: number;
  counter: bigint;
  msg: Uint8Array;
}

export interface AttestationFormatParams {
  hash: HashName;
  tagFieldBytes: number;
  tagPlacement: TagPlacement;
}

const TAG_BYTES: Record<HashName, number> = { sha256: 32, sha384: 48 };

/**
 * Counters are kept as two 32-bit words and read as numbers, exact up to 2^53 - 1 messages
 * per session. That is far more than a simulation posts, and `attest` throws before passing it.
 */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** Sessions a unit has room for before its per-session arrays grow (they double when full). */
const INITIAL_SESSION_SLOTS = 8;

/**
 * Layout of one slot in `#slotStates`, in 32-bit words: the session number (as
 * `session | 0`), send_cnt and recv_cnt (high and low word each), padding, then the
 * HMAC-SHA256 inner and outer key states (SHA-256 only, else zero). An attest or verify reads
 * the words in that order, so it touches one 96-byte block per session from its start.
 */
const SESSION_WORD = 0;
const SEND_HIGH_WORD = 1;
const SEND_LOW_WORD = 2;
const RECV_HIGH_WORD = 3;
const RECV_LOW_WORD = 4;
const KEY_STATE_WORD = 8;
const SLOT_WORDS = KEY_STATE_WORD + HMAC_KEY_STATE_WORDS;

export class AttestationUnit {
  /**
   * Slot of each session's key and counters. Per-session state sits in flat
   * arrays indexed by slot, so that an attest or verify on one of thousands
   * of sessions touches a few cache lines, not a chain of small objects.
   */
  readonly #slots = new Map<number, number>();
  /** Copy of each slot's key, which node:crypto uses for hashes other than SHA-256. */
  readonly #keys: Uint8Array[] = [];
  /** Per slot: its session is outside the int32 range, so its stored word does not identify it. */
  readonly #wideSession: boolean[] = [];
  /** Session, counters and key states of each slot, SLOT_WORDS per slot (see SESSION_WORD). */
  #slotStates = new Int32Array(INITIAL_SESSION_SLOTS * SLOT_WORDS);
  /** The tag Verify computes, compared with the carried one. */
  readonly #expected: Uint8Array;

  constructor(
    readonly format: AttestationFormatParams,
    readonly deviceId: number,
  ) {
    this.#expected = new Uint8Array(format.tagFieldBytes);
  }

  /** Bytes on the wire for a message of `msgBytes`. */
  attestedBytes(msgBytes: number): number {
    return msgBytes + ATTESTATION_HEADER_BYTES + this.format.tagFieldBytes;
  }

  /** Offset of the hashed bytes (header and msg) inside the attested message. */
  get hashedOffset(): number {
    return this.format.tagPlacement === 'leading' ? this.format.tagFieldBytes : 0;
  }

  /**
   * Load the key of `session` and return its slot, which `attestSlot` and
   * `verifyStatusSlot` take in place of looking the session up.
   */
  loadKey(session: number, key: Uint8Array): number {
    if (this.#slots.has(session)) throw new InputError(`session ${session} already has a key on device ${this.deviceId}`);
    const slot = this.#keys.length;
    if ((slot + 1) * SLOT_WORDS > this.#slotStates.length) this.#grow();
    this.#keys.push(key.slice());
    const at = slot * SLOT_WORDS;
    if (this.format.hash === 'sha256') loadHmacKeyState(key, this.#slotStates, at + KEY_STATE_WORD);
    this.#slotStates[at + SESSION_WORD] = session | 0;
    this.#wideSession.push(session !== (session | 0));
    this.#slots.set(session, slot);
    return slot;
  }

  attest(session: number, msg: Uint8Array): Uint8Array {
    const slot = this.#slots.get(session);
    if (slot === undefined) throw missingKeyError(session, this.deviceId);
    return this.#attestIn(slot, session, msg);
  }

  /** Attest like `attest`, with the slot that loadKey returned for `session`. */
  attestSlot(slot: number, session: number, msg: Uint8Array): Uint8Array {
    if (!this.#holds(slot, session)) throw slotMismatchError(slot, session, this.deviceId);
    return this.#attestIn(slot, session, msg);
  }

  /**
   * Whether `slot` was loaded for `session`. The stored word is `session | 0`,
   * which two sessions can share (5 and 2^32 + 5), so a session outside the
   * int32 range, on either side, is checked through the session map instead.
   */
  #holds(slot: number, session: number): boolean {
    if (!(slot >= 0 && slot < this.#keys.length)) return false;
    if (session !== (session | 0) || this.#wideSession[slot] === true) return this.#slots.get(session) === slot;
    return this.#slotStates[slot * SLOT_WORDS + SESSION_WORD] === (session | 0);
  }

  #attestIn(slot: number, session: number, msg: Uint8Array): Uint8Array {
    const states = this.#slotStates;
    const at = slot * SLOT_WORDS;
    const high = states[at + SEND_HIGH_WORD]!;
    const low = states[at + SEND_LOW_WORD]! >>> 0;
    const counter = high * 2 ** 32 + low;
    if (counter >= MAX_COUNTER) throw counterExhaustedError(session);
    states[at + SEND_LOW_WORD] = low + 1;
    if (low === 0xffffffff) states[at + SEND_HIGH_WORD] = high + 1;

    const leading = this.format.tagPlacement === 'leading';
    const out = allocateBytes(this.attestedBytes(msg.length));
    const hashedAt = this.hashedOffset;
    const headerAt = leading ? hashedAt : hashedAt + msg.length;
    writeHeader(out, headerAt, session, this.deviceId, counter);
    out.set(msg, leading ? hashedAt + ATTESTATION_HEADER_BYTES : hashedAt);
    const hashedEnd = hashedAt + msg.length + ATTESTATION_HEADER_BYTES;
    // The tag field is zero-padded: `out` starts zeroed and the MAC fills only its first bytes.
    this.#mac(slot, out, hashedAt, hashedEnd, out, leading ? 0 : hashedEnd);
    return out;
  }

  verify(session: number, attested: Uint8Array): VerifyResult {
    const status = this.verifyStatus(session, attested);
    const msgBytes = attested.length - ATTESTATION_HEADER_BYTES - this.format.tagFieldBytes;
    if (msgBytes < 0) return { status, session, device: 0, counter: 0n, msg: new Uint8Array(0) };
    const headerAt = this.#headerOffset(msgBytes);
    const view = new DataView(attested.buffer, attested.byteOffset + headerAt, ATTESTATION_HEADER_BYTES);
    return { status, session, device: view.getUint32(4), counter: view.getBigUint64(8), msg: this.messageOf(attested) };
  }

  /**
   * Verify `attested` like `verify` and advance recv_cnt on success, but
   * return only the status, so that the simulator's receive path allocates nothing.
   */
  verifyStatus(session: number, attested: Uint8Array): VerifyStatus {
    if (attested.length < ATTESTATION_HEADER_BYTES + this.format.tagFieldBytes) return 'malformed';
    const slot = this.#slots.get(session);
    if (slot === undefined) return 'unknown-session';
    return this.#verifyIn(slot, session, attested, 0, attested.length);
  }

  /**
   * Verify like `verifyStatus` the attested message in bytes[start, start + length), with
   * the slot that loadKey returned for `session`. Reading the message in place lets the
   * simulator verify a packet's payload inside its frame without making a view of it.
   */
  verifyStatusSlot(
    slot: number,
    session: number,
    bytes: Uint8Array,
    start = 0,
    length = bytes.length - start,
  ): VerifyStatus {
    if (length < ATTESTATION_HEADER_BYTES + this.format.tagFieldBytes) return 'malformed';
    if (!this.#holds(slot, session)) return 'unknown-session';
    return this.#verifyIn(slot, session, bytes, start, length);
  }

  /** Verify the attested message in bytes[base, base + length). */
  #verifyIn(slot: number, session: number, bytes: Uint8Array, base: number, length: number): VerifyStatus {
    const f = this.format;
    const msgBytes = length - ATTESTATION_HEADER_BYTES - f.tagFieldBytes;
    if (msgBytes < 0) return 'malformed';

    const hashedAt = base + this.hashedOffset;
    const hashedEnd = hashedAt + msgBytes + ATTESTATION_HEADER_BYTES;
    const headerAt = base + this.#headerOffset(msgBytes);
    if (readU32(bytes, headerAt) !== session) return 'unknown-session';

    // Expected field: the tag, then zeros. Every byte is compared, wherever the first difference is.
    const expected = this.#expected;
    this.#mac(slot, bytes, hashedAt, hashedEnd, expected, 0);
    const tagAt = f.tagPlacement === 'leading' ? base : hashedEnd;
    const tagBytes = TAG_BYTES[f.hash];
    let difference = 0;
    for (let i = 0; i < tagBytes; i++) difference |= expected[i]! ^ bytes[tagAt + i]!;
    for (let i = tagBytes; i < f.tagFieldBytes; i++) difference |= bytes[tagAt + i]!;
    if (difference !== 0) return 'bad-tag';

    // Compare the carried u64 counter with recv_cnt word by word, so that no value is rounded.
    const high = readU32(bytes, headerAt + 8);
    const low = readU32(bytes, headerAt + 12);
    const states = this.#slotStates;
    const at = slot * SLOT_WORDS;
    const expectedHigh = states[at + RECV_HIGH_WORD]! >>> 0;
    const expectedLow = states[at + RECV_LOW_WORD]! >>> 0;
    if (high < expectedHigh || (high === expectedHigh && low < expectedLow)) return 'replayed';
    if (high > expectedHigh || low > expectedLow) return 'gap';
    states[at + RECV_LOW_WORD] = expectedLow + 1;
    if (expectedLow === 0xffffffff) states[at + RECV_HIGH_WORD] = expectedHigh + 1;
    return 'ok';
  }

  /** Copy of the message bytes inside `attested` (empty when it is too short to be attested). */
  messageOf(attested: Uint8Array): Uint8Array {
    const msgBytes = attested.length - ATTESTATION_HEADER_BYTES - this.format.tagFieldBytes;
    if (msgBytes < 0) return new Uint8Array(0);
    const msgAt = this.hashedOffset + (this.format.tagPlacement === 'leading' ? ATTESTATION_HEADER_BYTES : 0);
    return attested.slice(msgAt, msgAt + msgBytes);
  }

  #headerOffset(msgBytes: number): number {
    return this.hashedOffset + (this.format.tagPlacement === 'leading' ? 0 : msgBytes);
  }

  /** Write the MAC of data[start, end) with the key of `slot` into out at `outAt` (the tag only, not the padding). */
  #mac(slot: number, data: Uint8Array, start: number, end: number, out: Uint8Array, outAt: number): void {
    if (this.format.hash === 'sha256') {
      hmacSha256Into(this.#slotStates, slot * SLOT_WORDS + KEY_STATE_WORD, data, start, end, out, outAt);
      return;
    }
    const tag = createHmac(this.format.hash, this.#keys[slot]!).update(data.subarray(start, end)).digest();
    out.set(tag.subarray(0, TAG_BYTES[this.format.hash]), outAt);
  }

  /** Double the per-slot array. */
  #grow(): void {
    const slotStates = new Int32Array(this.#slotStates.length * 2);
    slotStates.set(this.#slotStates);
    this.#slotStates = slotStates;
  }
}

// The errors of `attest` are built here, which keeps it small enough for V8 to inline.
function missingKeyError(session: number, device: number): InputError {
  return new InputError(`session ${session} has no key on device ${device}`);
}

function slotMismatchError(slot: number, session: number, device: number): InputError {
  return new InputError(
    `slot ${slot} of device ${device} does not hold session ${session}; pass the slot loadKey returned for it`,
  );
}

function counterExhaustedError(session: number): RangeError {
  return new RangeError(`send counter of session ${session} reached ${MAX_COUNTER}`);
}

/** Header: session u32 || device u32 || counter u64, big-endian. */
function writeHeader(out: Uint8Array, at: number, session: number, device: number, counter: number): void {
  const high = Math.floor(counter / 2 ** 32);
  writeU32(out, at, session);
  writeU32(out, at + 4, device);
  writeU32(out, at + 8, high);
  writeU32(out, at + 12, counter - high * 2 ** 32);
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

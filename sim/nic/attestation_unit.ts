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
import { HmacSha256 } from './hmac_sha256.ts';
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
 * Counters are kept as numbers, exact up to 2^53 - 1 messages per session.
 * That is far more than a simulation posts, and `attest` throws before passing it.
 */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

interface SessionState {
  key: Uint8Array;
  /** Precomputed HMAC-SHA256 states; undefined for other hashes, which use node:crypto. */
  hmac: HmacSha256 | undefined;
  sendCnt: number;
  recvCnt: number;
}

export class AttestationUnit {
  readonly #sessions = new Map<number, SessionState>();
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

  loadKey(session: number, key: Uint8Array): void {
    if (this.#sessions.has(session)) throw new InputError(`session ${session} already has a key on device ${this.deviceId}`);
    const hmac = this.format.hash === 'sha256' ? new HmacSha256(key) : undefined;
    this.#sessions.set(session, { key: key.slice(), hmac, sendCnt: 0, recvCnt: 0 });
  }

  attest(session: number, msg: Uint8Array): Uint8Array {
    const state = this.#sessions.get(session);
    if (state === undefined) throw new InputError(`session ${session} has no key on device ${this.deviceId}`);
    const counter = state.sendCnt;
    if (counter >= MAX_COUNTER) throw new RangeError(`send counter of session ${session} reached ${MAX_COUNTER}`);
    state.sendCnt = counter + 1;

    const leading = this.format.tagPlacement === 'leading';
    const out = allocateBytes(this.attestedBytes(msg.length));
    const hashedAt = this.hashedOffset;
    const headerAt = leading ? hashedAt : hashedAt + msg.length;
    writeHeader(out, headerAt, session, this.deviceId, counter);
    out.set(msg, leading ? hashedAt + ATTESTATION_HEADER_BYTES : hashedAt);
    const hashedEnd = hashedAt + msg.length + ATTESTATION_HEADER_BYTES;
    // The tag field is zero-padded: `out` starts zeroed and the MAC fills only its first bytes.
    this.#mac(state, out, hashedAt, hashedEnd, out, leading ? 0 : hashedEnd);
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
    const f = this.format;
    const msgBytes = attested.length - ATTESTATION_HEADER_BYTES - f.tagFieldBytes;
    if (msgBytes < 0) return 'malformed';

    const hashedAt = this.hashedOffset;
    const hashedEnd = hashedAt + msgBytes + ATTESTATION_HEADER_BYTES;
    const headerAt = this.#headerOffset(msgBytes);
    const state = this.#sessions.get(session);
    if (state === undefined || readU32(attested, headerAt) !== session) return 'unknown-session';

    // Expected field: the tag, then zeros. Every byte is compared, wherever the first difference is.
    const expected = this.#expected;
    this.#mac(state, attested, hashedAt, hashedEnd, expected, 0);
    const tagAt = f.tagPlacement === 'leading' ? 0 : hashedEnd;
    const tagBytes = TAG_BYTES[f.hash];
    let difference = 0;
    for (let i = 0; i < tagBytes; i++) difference |= expected[i]! ^ attested[tagAt + i]!;
    for (let i = tagBytes; i < f.tagFieldBytes; i++) difference |= attested[tagAt + i]!;
    if (difference !== 0) return 'bad-tag';

    // Compare the carried u64 counter with recv_cnt word by word, so that no value is rounded.
    const high = readU32(attested, headerAt + 8);
    const low = readU32(attested, headerAt + 12);
    const expectedHigh = Math.floor(state.recvCnt / 2 ** 32);
    const expectedLow = state.recvCnt - expectedHigh * 2 ** 32;
    if (high < expectedHigh || (high === expectedHigh && low < expectedLow)) return 'replayed';
    if (high > expectedHigh || low > expectedLow) return 'gap';
    state.recvCnt++;
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

  /** Write the MAC of data[start, end) into out at `outAt` (the tag only, not the padding). */
  #mac(state: SessionState, data: Uint8Array, start: number, end: number, out: Uint8Array, outAt: number): void {
    if (state.hmac !== undefined) {
      state.hmac.macInto(data, start, end, out, outAt);
      return;
    }
    const tag = createHmac(this.format.hash, state.key).update(data.subarray(start, end)).digest();
    out.set(tag.subarray(0, TAG_BYTES[this.format.hash]), outAt);
  }
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

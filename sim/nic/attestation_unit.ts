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

import { createHmac, timingSafeEqual } from 'node:crypto';

import { InputError } from '../errors.ts';
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

export class AttestationUnit {
  readonly #keys = new Map<number, Uint8Array>();
  readonly #sendCnt = new Map<number, bigint>();
  readonly #recvCnt = new Map<number, bigint>();

  constructor(
    readonly format: AttestationFormatParams,
    readonly deviceId: number,
  ) {}

  /** Bytes on the wire for a message of `msgBytes`. */
  attestedBytes(msgBytes: number): number {
    return msgBytes + ATTESTATION_HEADER_BYTES + this.format.tagFieldBytes;
  }

  /** Offset of the hashed bytes (header and msg) inside the attested message. */
  get hashedOffset(): number {
    return this.format.tagPlacement === 'leading' ? this.format.tagFieldBytes : 0;
  }

  loadKey(session: number, key: Uint8Array): void {
    if (this.#keys.has(session)) throw new InputError(`session ${session} already has a key on device ${this.deviceId}`);
    this.#keys.set(session, key.slice());
    this.#sendCnt.set(session, 0n);
    this.#recvCnt.set(session, 0n);
  }

  attest(session: number, msg: Uint8Array): Uint8Array {
    const key = this.#keys.get(session);
    if (key === undefined) throw new InputError(`session ${session} has no key on device ${this.deviceId}`);
    const counter = this.#sendCnt.get(session)!;
    this.#sendCnt.set(session, counter + 1n);

    const out = new Uint8Array(this.attestedBytes(msg.length));
    const header = encodeHeader(session, this.deviceId, counter);
    const hashedAt = this.hashedOffset;
    const headerAt = this.format.tagPlacement === 'leading' ? hashedAt : hashedAt + msg.length;
    const msgAt = this.format.tagPlacement === 'leading' ? hashedAt + ATTESTATION_HEADER_BYTES : hashedAt;
    out.set(header, headerAt);
    out.set(msg, msgAt);
    const hashed = out.subarray(hashedAt, hashedAt + msg.length + ATTESTATION_HEADER_BYTES);
    const tagAt = this.format.tagPlacement === 'leading' ? 0 : hashedAt + hashed.length;
    out.set(this.#mac(key, hashed), tagAt);
    return out;
  }

  verify(session: number, attested: Uint8Array): VerifyResult {
    const f = this.format;
    const msgBytes = attested.length - ATTESTATION_HEADER_BYTES - f.tagFieldBytes;
    const none = { session, device: 0, counter: 0n, msg: new Uint8Array(0) };
    if (msgBytes < 0) return { status: 'malformed', ...none };

    const hashedAt = this.hashedOffset;
    const hashed = attested.subarray(hashedAt, hashedAt + msgBytes + ATTESTATION_HEADER_BYTES);
    const headerAt = f.tagPlacement === 'leading' ? 0 : msgBytes;
    const view = new DataView(hashed.buffer, hashed.byteOffset + headerAt, ATTESTATION_HEADER_BYTES);
    const carriedSession = view.getUint32(0);
    const device = view.getUint32(4);
    const counter = view.getBigUint64(8);
    const msg = f.tagPlacement === 'leading' ? hashed.slice(ATTESTATION_HEADER_BYTES) : hashed.slice(0, msgBytes);
    const result = { session, device, counter, msg };

    const key = this.#keys.get(session);
    if (key === undefined || carriedSession !== session) return { ...result, status: 'unknown-session' };
    const tagAt = f.tagPlacement === 'leading' ? 0 : hashedAt + hashed.length;
    const carried = attested.subarray(tagAt, tagAt + f.tagFieldBytes);
    if (!timingSafeEqual(carried, this.#mac(key, hashed))) return { ...result, status: 'bad-tag' };

    const expected = this.#recvCnt.get(session)!;
    if (counter < expected) return { ...result, status: 'replayed' };
    if (counter > expected) return { ...result, status: 'gap' };
    this.#recvCnt.set(session, expected + 1n);
    return { ...result, status: 'ok' };
  }

  /** The tag zero-padded to the tag field. */
  #mac(key: Uint8Array, hashed: Uint8Array): Uint8Array {
    const field = new Uint8Array(this.format.tagFieldBytes);
    const tag = createHmac(this.format.hash, key).update(hashed).digest();
    field.set(tag.subarray(0, TAG_BYTES[this.format.hash]));
    return field;
  }
}

function encodeHeader(session: number, device: number, counter: bigint): Uint8Array {
  const header = new Uint8Array(ATTESTATION_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, session);
  view.setUint32(4, device);
  view.setBigUint64(8, counter);
  return header;
}

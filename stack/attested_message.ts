/**
 * Wire format of an attested message: alpha (32 bytes) || header (16 bytes)
 * || msg, where header = session u32 || device u32 || counter u64, all
 * big-endian, and alpha = HMAC-SHA256(key[session], header || msg).
 */

import { InputError } from '../sim/errors.ts';
import { TAG_BYTES } from '../sim/kernel_port.ts';
import { encodeHeader } from '../sim/tnic_kernel.ts';

export const HEADER_BYTES = 16;
export const ATTESTED_OVERHEAD = TAG_BYTES + HEADER_BYTES;

export interface AttestedMessage {
  alpha: Uint8Array;
  session: number;
  device: number;
  counter: bigint;
  msg: Uint8Array;
}

export function encodeAttested(m: AttestedMessage): Uint8Array {
  if (m.alpha.length !== TAG_BYTES) {
    throw new InputError(`alpha of ${m.alpha.length} bytes must be ${TAG_BYTES} bytes`);
  }
  const out = new Uint8Array(ATTESTED_OVERHEAD + m.msg.length);
  out.set(m.alpha);
  out.set(encodeHeader(m.session, m.device, m.counter), TAG_BYTES);
  out.set(m.msg, ATTESTED_OVERHEAD);
  return out;
}

/** Parse wire bytes; a buffer shorter than alpha and header is rejected with its length. */
export function decodeAttested(bytes: Uint8Array): AttestedMessage {
  if (bytes.length < ATTESTED_OVERHEAD) {
    throw new InputError(
      `attested message of ${bytes.length} bytes is shorter than the ` +
        `${ATTESTED_OVERHEAD}-byte alpha and header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + TAG_BYTES, HEADER_BYTES);
  return {
    alpha: bytes.slice(0, TAG_BYTES),
    session: view.getUint32(0),
    device: view.getUint32(4),
    counter: view.getBigUint64(8),
    msg: bytes.slice(ATTESTED_OVERHEAD),
  };
}

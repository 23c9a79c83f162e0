/**
 * The context of a truncation entry: "trnc" || log id u32 || z u64 ||
 * head u64, big-endian, 24 bytes. Entries of the log below index z are
 * gone; head is the index the truncation entry itself takes.
 */

import { InputError } from '../../api/errors.ts';

const MAGIC = new TextEncoder().encode('trnc');
export const TRUNCATION_RECORD_BYTES = MAGIC.length + 4 + 8 + 8;

export interface TruncationRecord {
  logId: number;
  /** First index that stays live. */
  z: number;
  /** Head of the log before the truncation: the index of the truncation entry. */
  head: number;
}

export function encodeTruncation(record: TruncationRecord): Uint8Array {
  const out = new Uint8Array(TRUNCATION_RECORD_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  view.setUint32(4, record.logId);
  view.setBigUint64(8, BigInt(record.z));
  view.setBigUint64(16, BigInt(record.head));
  return out;
}

/** Parse a truncation context; anything else is rejected with what is wrong. */
export function decodeTruncation(ctx: Uint8Array): TruncationRecord {
  if (ctx.length !== TRUNCATION_RECORD_BYTES) {
    throw new InputError(
      `truncation record of ${ctx.length} bytes must be ${TRUNCATION_RECORD_BYTES} bytes`,
    );
  }
  if (!MAGIC.every((b, i) => ctx[i] === b)) {
    throw new InputError('truncation record does not start with "trnc"');
  }
  const view = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  const z = view.getBigUint64(8);
  const head = view.getBigUint64(16);
  if (z > BigInt(Number.MAX_SAFE_INTEGER) || head > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InputError(`truncation record indexes z ${z} and head ${head} must be safe integers`);
  }
  return { logId: view.getUint32(4), z: Number(z), head: Number(head) };
}

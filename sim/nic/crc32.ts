/**
 * CRC-32 as Ethernet's FCS and RoCE v2's ICRC use it: polynomial 0x04C11DB7
 * in reflected form (0xEDB88320), register preset to all ones, result
 * complemented. Incremental: pass the register of one call to the next.
 *
 * Table-driven with slicing by 8: TABLES[k][n] is the register change of
 * byte n followed by k zero bytes, so one step folds 8 input bytes with 8
 * lookups. The result equals the byte-at-a-time loop bit for bit.
 */

const TABLES = buildTables();
const T0 = TABLES.subarray(0, 256);

function buildTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const previous = tables[(k - 1) * 256 + n]!;
      tables[k * 256 + n] = (tables[previous & 0xff]! ^ (previous >>> 8)) >>> 0;
    }
  }
  return tables;
}

export const CRC32_PRESET = 0xffffffff;

/** Advance the CRC register over `bytes[start, end)`; the register is not complemented. */
export function crc32Update(register: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = TABLES;
  let c = register | 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const low = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (low & 0xff)]! ^
      t[1536 + ((low >>> 8) & 0xff)]! ^
      t[1280 + ((low >>> 16) & 0xff)]! ^
      t[1024 + (low >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** Compute the finished CRC-32 of `bytes` (preset, update, complement). */
export function crc32(bytes: Uint8Array): number {
  return ~crc32Update(CRC32_PRESET, bytes) >>> 0;
}

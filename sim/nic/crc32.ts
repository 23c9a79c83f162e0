/**
 * CRC-32 as Ethernet's FCS and RoCE v2's ICRC use it: polynomial 0x04C11DB7
 * in reflected form (0xEDB88320), register preset to all ones, result
 * complemented. Incremental: pass the register of one call to the next.
 */

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

export const CRC32_PRESET = 0xffffffff;

/** Advance the CRC register over `bytes[start, end)`; the register is not complemented. */
export function crc32Update(register: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = register >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** Compute the finished CRC-32 of `bytes` (preset, update, complement). */
export function crc32(bytes: Uint8Array): number {
  return ~crc32Update(CRC32_PRESET, bytes) >>> 0;
}

/**
 * Latency of the attestation kernel in clock cycles, from the edge that
 * accepts a command to the edge that raises res_valid, with the input
 * stream never stalling. Mirrors the FSM of hw/tnic_kernel.v: every SHA-256
 * block costs 65 cycles (one load edge and 64 rounds), a HMAC adds one outer
 * block, and the result register costs one more edge.
 */

export const BLOCK_CYCLES = 65;

/** SHA-256 blocks for `bytes` of message: padding adds 0x80 and 8 length bytes. */
export function sha256Blocks(bytes: number): number {
  return Math.floor((bytes + 72) / 64);
}

/** Input words of 4 bytes that carry `bytes`. */
export function inputWords(bytes: number): number {
  return Math.ceil(bytes / 4);
}

/** ATTEST, VERIFY and CHECK of a known session: inner blocks over header || msg, one outer. */
export function macCycles(msgBytes: number): number {
  return BLOCK_CYCLES * (sha256Blocks(16 + msgBytes) + 1) + 1;
}

/** LOAD_KEY: read a short key (or hash a long one), then the ipad and opad blocks. */
export function loadKeyCycles(keyBytes: number): number {
  if (keyBytes <= 64) return inputWords(keyBytes) + 2 * BLOCK_CYCLES + 2;
  return BLOCK_CYCLES * (sha256Blocks(keyBytes) + 2) + 1;
}

/** A rejected command, SET_ID or LOCK: drain the input words, then the result. */
export function drainCycles(bytes: number): number {
  return inputWords(bytes) + 1;
}

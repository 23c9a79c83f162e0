/**
 * Latency of an isolated command on the attestation kernel in clock cycles,
 * from the edge that accepts the command to the edge that raises res_valid,
 * with the input stream never stalling and every earlier result taken.
 * Follows hw/tnic_kernel.v and its engines: a SHA-256 block costs 65 cycles
 * (one load edge and 64 rounds), and a HMAC adds one outer block.
 * The cycle model (sim/cycle/) reproduces these numbers edge by edge; the
 * transaction-level reference model uses the formulas directly.
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

/** Input beats of DATA_W bits (32, 64 or 128) that carry `bytes`. */
export function inputBeats(bytes: number, dataWidth = 32): number {
  return Math.ceil(bytes / (dataWidth / 8));
}

/**
 * ATTEST, VERIFY and CHECK of a known session: the engine starts at the
 * accepting edge, hashes the inner blocks over header || msg and one outer
 * block, is done one edge later, and retires one edge after that. The same
 * for every DATA_W, because the input stays ahead of the core's one word per
 * round.
 */
export function macCycles(msgBytes: number): number {
  return BLOCK_CYCLES * (sha256Blocks(16 + msgBytes) + 1) + 1;
}

/**
 * LOAD_KEY: one edge to leave the serial wait, the key unit (read a short
 * key, or hash a long one, then the ipad and opad blocks), one result edge.
 * The same for every DATA_W, because the key unit takes one 32-bit word per
 * cycle.
 */
export function loadKeyCycles(keyBytes: number): number {
  if (keyBytes <= 64) return inputWords(keyBytes) + 2 * BLOCK_CYCLES + 4;
  return BLOCK_CYCLES * (sha256Blocks(keyBytes) + 2) + 3;
}

/** SET_ID, LOCK or a rejected LOAD_KEY: one edge to leave the serial wait, the input beats, the result. */
export function serialCycles(bytes: number, dataWidth = 32): number {
  return inputBeats(bytes, dataWidth) + 2;
}

/**
 * ATTEST, VERIFY or CHECK rejected at dispatch (unknown session, counter
 * overflow): a bypassed engine discards the beats through its buffer, one
 * edge to write, one to read ahead, one to discard, then done and retire.
 */
export function bypassCycles(bytes: number, dataWidth = 32): number {
  const beats = inputBeats(bytes, dataWidth);
  return beats === 0 ? 2 : beats + 4;
}

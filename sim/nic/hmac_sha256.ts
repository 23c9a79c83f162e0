/**
 * HMAC-SHA256 with the key schedule done once, for the simulator's
 * functional attestation. The key's inner and outer states are computed
 * when the session key is loaded, so a message costs only its own blocks
 * and one outer block, and `hmacSha256Into` writes the tag into the
 * caller's buffer without allocating. The states of many keys can sit side
 * by side in one Int32Array, which keeps a key's state in one or two cache
 * lines. Tests check it against node:crypto.
 *
 * NOTE: stack/software_hmac.ts has the same algorithm for the CPU
 * baselines, but the simulator cannot import from stack/ (imports go down
 * the stack only), so this file keeps its own allocation-free copy.
 */

import { createHash } from 'node:crypto';

import { SHA256_IV, SHA256_K } from '../sha256_compress.ts';

const BLOCK_BYTES = 64;
/** SHA256_K as signed words, so the round additions stay in 32-bit integer arithmetic. */
const K = Int32Array.from(SHA256_K);
const IV = Int32Array.from(SHA256_IV);

// Message schedule W[0..63] of the block being compressed, shared by every key because
// hmacSha256Into never nests. loadBlock, finish and hmacSha256Into fill W[0..15], and compress extends it.
const schedule = new Int32Array(64);

/** Bit length of the outer hash's message: one 64-byte key block and the 32-byte inner digest. */
const OUTER_MESSAGE_BITS = (BLOCK_BYTES + 32) * 8;

/** Words of one key's precomputed state: the inner hash state (8 words), then the outer one (8 words). */
export const HMAC_KEY_STATE_WORDS = 16;

/** Working hash state of the MAC being computed, shared because hmacSha256Into never nests. */
const working = new Int32Array(8);

/**
 * Compute the HMAC inner and outer states of `key` into
 * keyStates[at, at + HMAC_KEY_STATE_WORDS), so that callers can keep the
 * states of many keys side by side in one array.
 */
export function loadHmacKeyState(key: Uint8Array, keyStates: Int32Array, at: number): void {
  const block = new Uint8Array(BLOCK_BYTES);
  // Keys longer than a block are hashed first, as HMAC requires.
  block.set(key.length > BLOCK_BYTES ? createHash('sha256').update(key).digest() : key);
  const padded = new Uint8Array(BLOCK_BYTES);
  for (const [pad, offset] of [[0x36, 0], [0x5c, 8]] as const) {
    for (let i = 0; i < BLOCK_BYTES; i++) padded[i] = block[i]! ^ pad;
    keyStates.set(IV, at + offset);
    loadBlock(padded, 0);
    compress(keyStates, at + offset);
  }
  block.fill(0);
  padded.fill(0);
  schedule.fill(0);
}

/**
 * Write HMAC(key, data[start, end)) into out[outAt, outAt + 32), where the
 * key's states were stored at keyStates[at] by loadHmacKeyState.
 */
export function hmacSha256Into(
  keyStates: Int32Array,
  at: number,
  data: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  outAt: number,
): void {
  const state = working;
  for (let i = 0; i < 8; i++) state[i] = keyStates[at + i]!;
  let blockAt = start;
  for (; end - blockAt >= BLOCK_BYTES; blockAt += BLOCK_BYTES) {
    loadBlock(data, blockAt);
    compress(state, 0);
  }
  finish(state, data, blockAt, end, BLOCK_BYTES + (end - start));

  // The outer hash takes the 32-byte inner digest as one block whose padding words are
  // constant, so the digest goes from word to word without a round trip through bytes.
  const w = schedule;
  for (let i = 0; i < 8; i++) w[i] = state[i]!;
  w[8] = 0x80000000 | 0;
  for (let i = 9; i < 15; i++) w[i] = 0;
  w[15] = OUTER_MESSAGE_BITS;
  for (let i = 0; i < 8; i++) state[i] = keyStates[at + 8 + i]!;
  compress(state, 0);
  writeWords(state, out, outAt);
}

/** HMAC-SHA256 with one key, whose states are computed once in the constructor. */
export class HmacSha256 {
  readonly #keyState = new Int32Array(HMAC_KEY_STATE_WORDS);

  constructor(key: Uint8Array) {
    loadHmacKeyState(key, this.#keyState, 0);
  }

  /** Write HMAC(key, data[start, end)) into out[outAt, outAt + 32). */
  macInto(data: Uint8Array, start: number, end: number, out: Uint8Array, outAt: number): void {
    hmacSha256Into(this.#keyState, 0, data, start, end, out, outAt);
  }
}

/** Load the big-endian words of the block at data[at, at + 64) into schedule[0..15]. */
function loadBlock(data: Uint8Array, at: number): void {
  const w = schedule;
  for (let t = 0; t < 16; t++) {
    const i = at + 4 * t;
    w[t] = (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
  }
}

/**
 * Hash data[at, end) (less than one block) with the padding of a `totalBytes` message
 * (FIPS 180-4 section 5.1.1), built straight into the schedule words.
 */
function finish(state: Int32Array, data: Uint8Array, at: number, end: number, totalBytes: number): void {
  const w = schedule;
  const rest = end - at;
  for (let t = 0; t < 16; t++) w[t] = 0;

  // Whole words of data, then the word that contains the last 0 to 3 bytes and the 0x80 marker.
  const whole = rest >> 2;
  for (let t = 0; t < whole; t++) {
    const i = at + 4 * t;
    w[t] = (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
  }
  const partial = rest & 3;
  let word = 0x80 << (24 - 8 * partial);
  for (let j = 0; j < partial; j++) word |= data[at + 4 * whole + j]! << (24 - 8 * j);
  w[whole] = word;

  const bits = totalBytes * 8;
  const high = Math.floor(bits / 2 ** 32);
  if (rest + 9 > BLOCK_BYTES) {
    // The 64-bit length does not fit after the marker, so it goes into a block of its own.
    compress(state, 0);
    for (let t = 0; t < 14; t++) w[t] = 0;
  }
  w[14] = high;
  w[15] = bits - high * 2 ** 32;
  compress(state, 0);
}

function writeWords(state: Int32Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++) writeWord(state[i]!, out, at + 4 * i);
}

function writeWord(word: number, out: Uint8Array, at: number): void {
  out[at] = word >>> 24;
  out[at + 1] = word >>> 16;
  out[at + 2] = word >>> 8;
  out[at + 3] = word;
}

/**
 * SHA-256 compression (FIPS 180-4) into state[at, at + 8) of the block whose words are in
 * schedule[0..15]. Ch and Maj use the equivalent forms g ^ (e & (f ^ g)) and
 * (a & b) | (c & (a | b)), which take one operation fewer each.
 */
function compress(state: Int32Array, at: number): void {
  const w = schedule;
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + w[t - 7]! + s0 + w[t - 16]!) | 0;
  }

  let a = state[at]!;
  let b = state[at + 1]!;
  let c = state[at + 2]!;
  let d = state[at + 3]!;
  let e = state[at + 4]!;
  let f = state[at + 5]!;
  let g = state[at + 6]!;
  let h = state[at + 7]!;
  // Eight rounds per iteration. Instead of shifting a..h down by one after each round, every
  // round renames them: its new e goes into the register that held d, and its new a into
  // the one that held h. After eight rounds every name is back in its place.
  for (let t = 0; t < 64; t += 8) {
    h = (h + bigSigma1(e) + (g ^ (e & (f ^ g))) + K[t]! + w[t]!) | 0;
    d = (d + h) | 0;
    h = (h + bigSigma0(a) + ((a & b) | (c & (a | b)))) | 0;

    g = (g + bigSigma1(d) + (f ^ (d & (e ^ f))) + K[t + 1]! + w[t + 1]!) | 0;
    c = (c + g) | 0;
    g = (g + bigSigma0(h) + ((h & a) | (b & (h | a)))) | 0;

    f = (f + bigSigma1(c) + (e ^ (c & (d ^ e))) + K[t + 2]! + w[t + 2]!) | 0;
    b = (b + f) | 0;
    f = (f + bigSigma0(g) + ((g & h) | (a & (g | h)))) | 0;

    e = (e + bigSigma1(b) + (d ^ (b & (c ^ d))) + K[t + 3]! + w[t + 3]!) | 0;
    a = (a + e) | 0;
    e = (e + bigSigma0(f) + ((f & g) | (h & (f | g)))) | 0;

    d = (d + bigSigma1(a) + (c ^ (a & (b ^ c))) + K[t + 4]! + w[t + 4]!) | 0;
    h = (h + d) | 0;
    d = (d + bigSigma0(e) + ((e & f) | (g & (e | f)))) | 0;

    c = (c + bigSigma1(h) + (b ^ (h & (a ^ b))) + K[t + 5]! + w[t + 5]!) | 0;
    g = (g + c) | 0;
    c = (c + bigSigma0(d) + ((d & e) | (f & (d | e)))) | 0;

    b = (b + bigSigma1(g) + (a ^ (g & (h ^ a))) + K[t + 6]! + w[t + 6]!) | 0;
    f = (f + b) | 0;
    b = (b + bigSigma0(c) + ((c & d) | (e & (c | d)))) | 0;

    a = (a + bigSigma1(f) + (h ^ (f & (g ^ h))) + K[t + 7]! + w[t + 7]!) | 0;
    e = (e + a) | 0;
    a = (a + bigSigma0(b) + ((b & c) | (d & (b | c)))) | 0;
  }
  state[at] = (state[at]! + a) | 0;
  state[at + 1] = (state[at + 1]! + b) | 0;
  state[at + 2] = (state[at + 2]! + c) | 0;
  state[at + 3] = (state[at + 3]! + d) | 0;
  state[at + 4] = (state[at + 4]! + e) | 0;
  state[at + 5] = (state[at + 5]! + f) | 0;
  state[at + 6] = (state[at + 6]! + g) | 0;
  state[at + 7] = (state[at + 7]! + h) | 0;
}

function bigSigma0(x: number): number {
  return ((x >>> 2) | (x << 30)) ^ ((x >>> 13) | (x << 19)) ^ ((x >>> 22) | (x << 10));
}

function bigSigma1(x: number): number {
  return ((x >>> 6) | (x << 26)) ^ ((x >>> 11) | (x << 21)) ^ ((x >>> 25) | (x << 7));
}

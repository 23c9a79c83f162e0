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

// Input words W[0..15] of the block being compressed, shared by every key because
// hmacSha256Into never nests. loadBlock, finish and hmacSha256Into fill them; compress
// keeps the rest of the message schedule in locals.
const schedule = new Int32Array(16);

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
 *
 * The message schedule lives in the locals w0..w15 instead of a 64-word array, which saves
 * 48 stores and about 200 bounds-checked loads per block. During rounds t..t+15, wi contains
 * W[t + i]. After them, wi becomes W[t + 16 + i] = s1(W[t + 14 + i]) + W[t + 9 + i] +
 * s0(W[t + 1 + i]) + W[t + i], in order of i, so the locals already replaced hold exactly the
 * new words that later ones need.
 */
function compress(state: Int32Array, at: number): void {
  const w = schedule;
  let w0 = w[0]!;
  let w1 = w[1]!;
  let w2 = w[2]!;
  let w3 = w[3]!;
  let w4 = w[4]!;
  let w5 = w[5]!;
  let w6 = w[6]!;
  let w7 = w[7]!;
  let w8 = w[8]!;
  let w9 = w[9]!;
  let w10 = w[10]!;
  let w11 = w[11]!;
  let w12 = w[12]!;
  let w13 = w[13]!;
  let w14 = w[14]!;
  let w15 = w[15]!;

  let a = state[at]!;
  let b = state[at + 1]!;
  let c = state[at + 2]!;
  let d = state[at + 3]!;
  let e = state[at + 4]!;
  let f = state[at + 5]!;
  let g = state[at + 6]!;
  let h = state[at + 7]!;
  // Sixteen rounds per iteration. Instead of shifting a..h down by one after each round, every
  // round renames them: its new e goes into the register that held d, and its new a into
  // the one that held h. After eight rounds every name is back in its place.
  // The sigma functions are written out: with 64 calls to small helpers in one function,
  // V8 (Node 20) stopped inlining them, which made a block 2.4 times slower.
  let sigma: number;
  for (let t = 0; ; t += 16) {
    sigma = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    h = (h + sigma + (g ^ (e & (f ^ g))) + K[t]! + w0) | 0;
    d = (d + h) | 0;
    sigma = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    h = (h + sigma + ((a & b) | (c & (a | b)))) | 0;

    sigma = ((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7));
    g = (g + sigma + (f ^ (d & (e ^ f))) + K[t + 1]! + w1) | 0;
    c = (c + g) | 0;
    sigma = ((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10));
    g = (g + sigma + ((h & a) | (b & (h | a)))) | 0;

    sigma = ((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7));
    f = (f + sigma + (e ^ (c & (d ^ e))) + K[t + 2]! + w2) | 0;
    b = (b + f) | 0;
    sigma = ((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10));
    f = (f + sigma + ((g & h) | (a & (g | h)))) | 0;

    sigma = ((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7));
    e = (e + sigma + (d ^ (b & (c ^ d))) + K[t + 3]! + w3) | 0;
    a = (a + e) | 0;
    sigma = ((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10));
    e = (e + sigma + ((f & g) | (h & (f | g)))) | 0;

    sigma = ((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7));
    d = (d + sigma + (c ^ (a & (b ^ c))) + K[t + 4]! + w4) | 0;
    h = (h + d) | 0;
    sigma = ((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10));
    d = (d + sigma + ((e & f) | (g & (e | f)))) | 0;

    sigma = ((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7));
    c = (c + sigma + (b ^ (h & (a ^ b))) + K[t + 5]! + w5) | 0;
    g = (g + c) | 0;
    sigma = ((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10));
    c = (c + sigma + ((d & e) | (f & (d | e)))) | 0;

    sigma = ((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7));
    b = (b + sigma + (a ^ (g & (h ^ a))) + K[t + 6]! + w6) | 0;
    f = (f + b) | 0;
    sigma = ((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10));
    b = (b + sigma + ((c & d) | (e & (c | d)))) | 0;

    sigma = ((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7));
    a = (a + sigma + (h ^ (f & (g ^ h))) + K[t + 7]! + w7) | 0;
    e = (e + a) | 0;
    sigma = ((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10));
    a = (a + sigma + ((b & c) | (d & (b | c)))) | 0;

    sigma = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    h = (h + sigma + (g ^ (e & (f ^ g))) + K[t + 8]! + w8) | 0;
    d = (d + h) | 0;
    sigma = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    h = (h + sigma + ((a & b) | (c & (a | b)))) | 0;

    sigma = ((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7));
    g = (g + sigma + (f ^ (d & (e ^ f))) + K[t + 9]! + w9) | 0;
    c = (c + g) | 0;
    sigma = ((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10));
    g = (g + sigma + ((h & a) | (b & (h | a)))) | 0;

    sigma = ((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7));
    f = (f + sigma + (e ^ (c & (d ^ e))) + K[t + 10]! + w10) | 0;
    b = (b + f) | 0;
    sigma = ((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10));
    f = (f + sigma + ((g & h) | (a & (g | h)))) | 0;

    sigma = ((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7));
    e = (e + sigma + (d ^ (b & (c ^ d))) + K[t + 11]! + w11) | 0;
    a = (a + e) | 0;
    sigma = ((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10));
    e = (e + sigma + ((f & g) | (h & (f | g)))) | 0;

    sigma = ((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7));
    d = (d + sigma + (c ^ (a & (b ^ c))) + K[t + 12]! + w12) | 0;
    h = (h + d) | 0;
    sigma = ((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10));
    d = (d + sigma + ((e & f) | (g & (e | f)))) | 0;

    sigma = ((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7));
    c = (c + sigma + (b ^ (h & (a ^ b))) + K[t + 13]! + w13) | 0;
    g = (g + c) | 0;
    sigma = ((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10));
    c = (c + sigma + ((d & e) | (f & (d | e)))) | 0;

    sigma = ((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7));
    b = (b + sigma + (a ^ (g & (h ^ a))) + K[t + 14]! + w14) | 0;
    f = (f + b) | 0;
    sigma = ((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10));
    b = (b + sigma + ((c & d) | (e & (c | d)))) | 0;

    sigma = ((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7));
    a = (a + sigma + (h ^ (f & (g ^ h))) + K[t + 15]! + w15) | 0;
    e = (e + a) | 0;
    sigma = ((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10));
    a = (a + sigma + ((b & c) | (d & (b | c)))) | 0;

    if (t === 48) break;
    // Schedule words W[t + 16 + i] for the next group, i = 0..15, in place of W[t + i].
    sigma = ((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10);
    w0 = (sigma + w9 + (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) + w0) | 0;
    sigma = ((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10);
    w1 = (sigma + w10 + (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) + w1) | 0;
    sigma = ((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10);
    w2 = (sigma + w11 + (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) + w2) | 0;
    sigma = ((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10);
    w3 = (sigma + w12 + (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) + w3) | 0;
    sigma = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    w4 = (sigma + w13 + (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) + w4) | 0;
    sigma = ((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10);
    w5 = (sigma + w14 + (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) + w5) | 0;
    sigma = ((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10);
    w6 = (sigma + w15 + (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) + w6) | 0;
    sigma = ((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10);
    w7 = (sigma + w0 + (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) + w7) | 0;
    sigma = ((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10);
    w8 = (sigma + w1 + (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) + w8) | 0;
    sigma = ((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10);
    w9 = (sigma + w2 + (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) + w9) | 0;
    sigma = ((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10);
    w10 = (sigma + w3 + (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) + w10) | 0;
    sigma = ((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10);
    w11 = (sigma + w4 + (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) + w11) | 0;
    sigma = ((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10);
    w12 = (sigma + w5 + (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) + w12) | 0;
    sigma = ((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10);
    w13 = (sigma + w6 + (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) + w13) | 0;
    sigma = ((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10);
    w14 = (sigma + w7 + (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) + w14) | 0;
    sigma = ((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10);
    w15 = (sigma + w8 + (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) + w15) | 0;
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


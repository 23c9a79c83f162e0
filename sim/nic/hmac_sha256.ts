/**
 * HMAC-SHA256 with the key schedule done once, for the simulator's
 * functional attestation. The key's inner and outer states are computed
 * when the session key is loaded, so a message costs only its own blocks
 * and one outer block, and `macInto` writes the tag into the caller's
 * buffer without allocating. Tests check it against node:crypto.
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

// Message schedule W[0..63] of the block being compressed, shared by every instance because
// macInto never nests. loadBlock, finish and macInto fill W[0..15], and compress extends it.
const schedule = new Int32Array(64);

/** Bit length of the outer hash's message: one 64-byte key block and the 32-byte inner digest. */
const OUTER_MESSAGE_BITS = (BLOCK_BYTES + 32) * 8;

export class HmacSha256 {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);
  readonly #state = new Int32Array(8);

  constructor(key: Uint8Array) {
    const block = new Uint8Array(BLOCK_BYTES);
    // Keys longer than a block are hashed first, as HMAC requires.
    block.set(key.length > BLOCK_BYTES ? createHash('sha256').update(key).digest() : key);
    const padded = new Uint8Array(BLOCK_BYTES);
    for (const [pad, out] of [[0x36, this.#inner], [0x5c, this.#outer]] as const) {
      for (let i = 0; i < BLOCK_BYTES; i++) padded[i] = block[i]! ^ pad;
      out.set(IV);
      loadBlock(padded, 0);
      compress(out);
    }
    block.fill(0);
    padded.fill(0);
    schedule.fill(0);
  }

  /** Write HMAC(key, data[start, end)) into out[outAt, outAt + 32). */
  macInto(data: Uint8Array, start: number, end: number, out: Uint8Array, outAt: number): void {
    const state = this.#state;
    copyState(this.#inner, state);
    let at = start;
    for (; end - at >= BLOCK_BYTES; at += BLOCK_BYTES) {
      loadBlock(data, at);
      compress(state);
    }
    finish(state, data, at, end, BLOCK_BYTES + (end - start));

    // The outer hash takes the 32-byte inner digest as one block whose padding words are
    // constant, so the digest goes from word to word without a round trip through bytes.
    const w = schedule;
    for (let i = 0; i < 8; i++) w[i] = state[i]!;
    w[8] = 0x80000000 | 0;
    for (let i = 9; i < 15; i++) w[i] = 0;
    w[15] = OUTER_MESSAGE_BITS;
    copyState(this.#outer, state);
    compress(state);
    writeWords(state, out, outAt);
  }
}

function copyState(from: Int32Array, to: Int32Array): void {
  for (let i = 0; i < 8; i++) to[i] = from[i]!;
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
    compress(state);
    for (let t = 0; t < 14; t++) w[t] = 0;
  }
  w[14] = high;
  w[15] = bits - high * 2 ** 32;
  compress(state);
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
 * SHA-256 compression (FIPS 180-4) into `state` of the block whose words are in
 * schedule[0..15]. Ch and Maj use the equivalent forms g ^ (e & (f ^ g)) and
 * (a & b) | (c & (a | b)), which take one operation fewer each.
 */
function compress(state: Int32Array): void {
  const w = schedule;
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + w[t - 7]! + s0 + w[t - 16]!) | 0;
  }

  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let t = 0; t < 64; t++) {
    const bigS1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + bigS1 + (g ^ (e & (f ^ g))) + K[t]! + w[t]!) | 0;
    const bigS0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (bigS0 + ((a & b) | (c & (a | b)))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

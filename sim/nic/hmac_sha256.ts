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

// Scratch space of every instance; macInto never nests, so sharing is safe.
const schedule = new Int32Array(64);
const tail = new Uint8Array(2 * BLOCK_BYTES);

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
      compress(out, padded, 0);
    }
    block.fill(0);
    padded.fill(0);
  }

  /** Write HMAC(key, data[start, end)) into out[outAt, outAt + 32). */
  macInto(data: Uint8Array, start: number, end: number, out: Uint8Array, outAt: number): void {
    const state = this.#state;
    copyState(this.#inner, state);
    let at = start;
    for (; end - at >= BLOCK_BYTES; at += BLOCK_BYTES) compress(state, data, at);
    finish(state, data, at, end, BLOCK_BYTES + (end - start));

    // The outer hash takes the 32-byte inner digest: one block with its padding.
    writeWords(state, tail, 0);
    copyState(this.#outer, state);
    finish(state, tail, 0, 32, BLOCK_BYTES + 32);
    writeWords(state, out, outAt);
  }
}

function copyState(from: Int32Array, to: Int32Array): void {
  for (let i = 0; i < 8; i++) to[i] = from[i]!;
}

/** Hash data[at, end) (less than one block) with the padding of a `totalBytes` message. */
function finish(state: Int32Array, data: Uint8Array, at: number, end: number, totalBytes: number): void {
  const rest = end - at;
  const blocks = rest + 9 <= BLOCK_BYTES ? 1 : 2;
  // `data` may be `tail` itself; copy first, then clear what follows.
  for (let i = 0; i < rest; i++) tail[i] = data[at + i]!;
  tail[rest] = 0x80;
  const lengthAt = blocks * BLOCK_BYTES - 8;
  for (let i = rest + 1; i < lengthAt; i++) tail[i] = 0;
  const bits = totalBytes * 8;
  const high = Math.floor(bits / 2 ** 32);
  writeWord(high, tail, lengthAt);
  writeWord(bits - high * 2 ** 32, tail, lengthAt + 4);
  compress(state, tail, 0);
  if (blocks === 2) compress(state, tail, BLOCK_BYTES);
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

/** SHA-256 compression (FIPS 180-4) of the block at data[at, at + 64) into `state`. */
function compress(state: Int32Array, data: Uint8Array, at: number): void {
  const w = schedule;
  for (let t = 0; t < 16; t++) {
    const i = at + 4 * t;
    w[t] = (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
  }
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
    const t1 = (h + bigS1 + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
    const bigS0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (bigS0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
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

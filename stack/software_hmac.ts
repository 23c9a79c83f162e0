/**
 * HMAC-SHA256 in software with the key schedule done once: the inner and
 * outer states are computed when the key is set, as the kernel does at
 * LOAD_KEY, so a message costs its own blocks plus one outer block and no
 * key blocks. Written for speed: no allocation per message on the
 * `macHeader` path, message words read straight from the caller's bytes,
 * rounds unrolled by eight. The software benchmark, the protocol checker's
 * adversary and the multi-buffer path (hmac_multi_buffer.ts, for its key
 * states, which the CPU-only baselines use) use it. Tests check it against
 * node:crypto.
 */

import { SHA256_IV, SHA256_K } from '../sim/sha256_compress.ts';

const K = new Int32Array(SHA256_K);
const BLOCK_BYTES = 64;
const HEADER_BYTES = 16;

/** Bit length of the outer hash input: the 64-byte key block and the 32-byte inner digest. */
const OUTER_BITS = (BLOCK_BYTES + 32) * 8;

/**
 * Compress one block into `s` (8 words). `w` holds the block's 16 words,
 * big-endian as SHA-256 reads them, in w[0..15]; w[16..63] is overwritten
 * with the message schedule.
 */
export function sha256CompressWords(s: Int32Array, w: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + w[t - 7]! + s0 + w[t - 16]!) | 0;
  }

  let a = s[0]!;
  let b = s[1]!;
  let c = s[2]!;
  let d = s[3]!;
  let e = s[4]!;
  let f = s[5]!;
  let g = s[6]!;
  let h = s[7]!;
  // Eight rounds per iteration with the roles of a..h renamed from round to round, so no
  // variable is moved. Each round: t1 = h + Sigma1(e) + Ch(e, f, g) + K[t] + W[t], then
  // d += t1 (the new e) and h = t1 + Sigma0(a) + Maj(a, b, c) (the new a).
  for (let t = 0; t < 64; t += 8) {
    let t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + K[t]! + w[t]!) | 0;
    d = (d + t1) | 0;
    h = (t1 + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b)))) | 0;
    t1 = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + K[t + 1]! + w[t + 1]!) | 0;
    c = (c + t1) | 0;
    g = (t1 + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) | (b & (h | a)))) | 0;
    t1 = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + K[t + 2]! + w[t + 2]!) | 0;
    b = (b + t1) | 0;
    f = (t1 + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) | (a & (g | h)))) | 0;
    t1 = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + K[t + 3]! + w[t + 3]!) | 0;
    a = (a + t1) | 0;
    e = (t1 + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) | (h & (f | g)))) | 0;
    t1 = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + K[t + 4]! + w[t + 4]!) | 0;
    h = (h + t1) | 0;
    d = (t1 + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) | (g & (e | f)))) | 0;
    t1 = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + K[t + 5]! + w[t + 5]!) | 0;
    g = (g + t1) | 0;
    c = (t1 + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) | (f & (d | e)))) | 0;
    t1 = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) + K[t + 6]! + w[t + 6]!) | 0;
    f = (f + t1) | 0;
    b = (t1 + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) | (e & (c | d)))) | 0;
    t1 = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + K[t + 7]! + w[t + 7]!) | 0;
    e = (e + t1) | 0;
    a = (t1 + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) | (d & (b | c)))) | 0;
  }
  s[0] = (s[0]! + a) | 0;
  s[1] = (s[1]! + b) | 0;
  s[2] = (s[2]! + c) | 0;
  s[3] = (s[3]! + d) | 0;
  s[4] = (s[4]! + e) | 0;
  s[5] = (s[5]! + f) | 0;
  s[6] = (s[6]! + g) | 0;
  s[7] = (s[7]! + h) | 0;
}

/** Read 16 big-endian words of `bytes` from `offset` into w[0..15]. */
function loadWords(w: Int32Array, bytes: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const p = offset + 4 * i;
    w[i] = (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
  }
}

/**
 * Compute the HMAC inner state H(key ^ ipad) into `inner` and the outer
 * state H(key ^ opad) into `outer` (8 words each, as SHA-256 chaining
 * values). Keys longer than a block are hashed first, as HMAC requires.
 * The padded key is zeroed before returning.
 */
export function deriveHmacStates(key: Uint8Array, inner: Int32Array, outer: Int32Array): void {
  const w = new Int32Array(64);
  const k0 = new Uint8Array(BLOCK_BYTES);
  if (key.length > BLOCK_BYTES) {
    const state = new Int32Array(SHA256_IV);
    hashPadded(state, w, [key], 0);
    for (let i = 0; i < 8; i++) {
      const v = state[i]!;
      k0[4 * i] = v >>> 24;
      k0[4 * i + 1] = v >>> 16;
      k0[4 * i + 2] = v >>> 8;
      k0[4 * i + 3] = v;
    }
    state.fill(0);
  } else {
    k0.set(key);
  }

  const block = new Uint8Array(BLOCK_BYTES);
  for (const [pad, out] of [[0x36, inner], [0x5c, outer]] as const) {
    for (let i = 0; i < BLOCK_BYTES; i++) block[i] = k0[i]! ^ pad;
    out.set(SHA256_IV);
    loadWords(w, block, 0);
    sha256CompressWords(out, w);
  }
  k0.fill(0);
  block.fill(0);
  w.fill(0);
}

/** Continue SHA-256 from `state` over the concatenation of `parts`, padded, counting `prefixBytes` already hashed. */
function hashPadded(state: Int32Array, w: Int32Array, parts: readonly Uint8Array[], prefixBytes: number): void {
  const block = new Uint8Array(BLOCK_BYTES);
  let fill = 0;
  let total = 0;
  for (const part of parts) {
    let offset = 0;
    // Whole blocks straight from the part once the staging block is empty.
    while (fill === 0 && part.length - offset >= BLOCK_BYTES) {
      loadWords(w, part, offset);
      sha256CompressWords(state, w);
      offset += BLOCK_BYTES;
    }
    while (offset < part.length) {
      const n = Math.min(BLOCK_BYTES - fill, part.length - offset);
      block.set(part.subarray(offset, offset + n), fill);
      fill += n;
      offset += n;
      if (fill === BLOCK_BYTES) {
        loadWords(w, block, 0);
        sha256CompressWords(state, w);
        fill = 0;
        while (part.length - offset >= BLOCK_BYTES) {
          loadWords(w, part, offset);
          sha256CompressWords(state, w);
          offset += BLOCK_BYTES;
        }
      }
    }
    total += part.length;
  }

  block[fill++] = 0x80;
  if (fill > BLOCK_BYTES - 8) {
    block.fill(0, fill);
    loadWords(w, block, 0);
    sha256CompressWords(state, w);
    fill = 0;
  }
  block.fill(0, fill, BLOCK_BYTES - 8);
  const bits = (prefixBytes + total) * 8;
  const high = Math.floor(bits / 2 ** 32);
  const low = bits >>> 0;
  for (let i = 0; i < 4; i++) {
    block[BLOCK_BYTES - 8 + i] = high >>> (24 - 8 * i);
    block[BLOCK_BYTES - 4 + i] = low >>> (24 - 8 * i);
  }
  loadWords(w, block, 0);
  sha256CompressWords(state, w);
}

export class PrecomputedHmacSha256 {
  readonly #istate = new Int32Array(8);
  readonly #ostate = new Int32Array(8);
  readonly #state = new Int32Array(8);
  readonly #w = new Int32Array(64);

  constructor(key: Uint8Array) {
    deriveHmacStates(key, this.#istate, this.#ostate);
  }

  /** HMAC over the concatenation of `parts`; returns a new 32-byte tag. */
  mac(...parts: Uint8Array[]): Uint8Array {
    const s = this.#state;
    s.set(this.#istate);
    hashPadded(s, this.#w, parts, BLOCK_BYTES);
    this.#outer();
    const tag = new Uint8Array(32);
    this.#writeTag(tag, 0);
    return tag;
  }

  /**
   * HMAC over header || msg, where header is session u32 || device u32 ||
   * counter u64 (as counterHigh, counterLow), all big-endian: the kernel's
   * alpha. Writes the 32-byte tag to out[offset..offset+32) and allocates
   * nothing. The header is never built as bytes: its four words are the
   * first four words of the first block.
   */
  macHeader(
    session: number,
    device: number,
    counterHigh: number,
    counterLow: number,
    msg: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void {
    const s = this.#state;
    const w = this.#w;
    s.set(this.#istate);

    const length = msg.length;
    // header || msg || 0x80 || zeros || 64-bit length fills `blocks` blocks.
    const blocks = ((HEADER_BYTES + length + 8) >>> 6) + 1;
    const bits = (BLOCK_BYTES + HEADER_BYTES + length) * 8;
    for (let block = 0; block < blocks; block++) {
      // Stream position p = 64 * block + 4 * i maps to msg byte p - 16.
      let i = 0;
      if (block === 0) {
        w[0] = session;
        w[1] = device;
        w[2] = counterHigh;
        w[3] = counterLow;
        i = 4;
      }
      for (; i < 16; i++) {
        const m = 64 * block + 4 * i - HEADER_BYTES;
        if (m + 4 <= length) {
          w[i] = (msg[m]! << 24) | (msg[m + 1]! << 16) | (msg[m + 2]! << 8) | msg[m + 3]!;
        } else {
          w[i] = tailWord(msg, m);
        }
      }
      if (block === blocks - 1) {
        w[14] = Math.floor(bits / 2 ** 32);
        w[15] = bits;
      }
      sha256CompressWords(s, w);
    }

    this.#outer();
    this.#writeTag(out, offset);
  }

  /** Replace #state (the inner digest) with the outer hash over it. */
  #outer(): void {
    const s = this.#state;
    const w = this.#w;
    for (let i = 0; i < 8; i++) w[i] = s[i]!;
    w[8] = 0x80000000 | 0;
    w.fill(0, 9, 15);
    w[15] = OUTER_BITS;
    s.set(this.#ostate);
    sha256CompressWords(s, w);
  }

  #writeTag(out: Uint8Array, offset: number): void {
    const s = this.#state;
    for (let i = 0; i < 8; i++) {
      const v = s[i]!;
      const p = offset + 4 * i;
      out[p] = v >>> 24;
      out[p + 1] = v >>> 16;
      out[p + 2] = v >>> 8;
      out[p + 3] = v;
    }
  }
}

/** Build the big-endian word at msg byte m of the padded stream: msg bytes below its length, then 0x80, then zeros. */
function tailWord(msg: Uint8Array, m: number): number {
  let word = 0;
  for (let j = 0; j < 4; j++) {
    const k = m + j;
    let byte = 0;
    if (k < msg.length) byte = msg[k]!;
    else if (k === msg.length) byte = 0x80;
    word = (word << 8) | byte;
  }
  return word;
}

/**
 * HMAC-SHA256 in software with the key schedule done once: the inner and
 * outer states are computed when the key is set, as the kernel does at
 * LOAD_KEY, so a message costs its own blocks plus one outer block and no
 * key blocks. Written for speed (no allocation per message besides the
 * returned tag); the CPU-only baselines and the software benchmark use it.
 * Tests check it against node:crypto.
 */

import { SHA256_IV, SHA256_K } from '../sim/sha256_compress.ts';

const K = SHA256_K;

export class PrecomputedHmacSha256 {
  readonly #istate = new Int32Array(8);
  readonly #ostate = new Int32Array(8);
  readonly #state = new Int32Array(8);
  readonly #w = new Int32Array(64);
  readonly #block = new Uint8Array(64);
  readonly #blockView = new DataView(this.#block.buffer);

  constructor(key: Uint8Array) {
    const k0 = new Uint8Array(64);
    if (key.length > 64) {
      // Keys longer than a block are hashed first, as HMAC requires.
      this.#state.set(SHA256_IV);
      this.#hash([key], 0);
      for (let i = 0; i < 8; i++) new DataView(k0.buffer).setInt32(4 * i, this.#state[i]!);
    } else {
      k0.set(key);
    }
    for (const [pad, out] of [[0x36, this.#istate], [0x5c, this.#ostate]] as const) {
      for (let i = 0; i < 64; i++) this.#block[i] = k0[i]! ^ pad;
      this.#state.set(SHA256_IV);
      this.#compress();
      out.set(this.#state);
    }
    k0.fill(0);
    this.#block.fill(0);
  }

  /** HMAC over the concatenation of `parts`. */
  mac(...parts: Uint8Array[]): Uint8Array {
    this.#state.set(this.#istate);
    this.#hash(parts, 64);

    const tag = new Uint8Array(32);
    const tagView = new DataView(tag.buffer);
    for (let i = 0; i < 8; i++) tagView.setInt32(4 * i, this.#state[i]!);
    this.#state.set(this.#ostate);
    this.#hash([tag], 64);
    for (let i = 0; i < 8; i++) tagView.setInt32(4 * i, this.#state[i]!);
    return tag;
  }

  /** Continue SHA-256 from #state over `parts`, padded, counting `prefixBytes` already hashed. */
  #hash(parts: Uint8Array[], prefixBytes: number): void {
    const block = this.#block;
    let fill = 0;
    let total = 0;
    for (const part of parts) {
      let offset = 0;
      while (offset < part.length) {
        const n = Math.min(64 - fill, part.length - offset);
        block.set(part.subarray(offset, offset + n), fill);
        fill += n;
        offset += n;
        if (fill === 64) {
          this.#compress();
          fill = 0;
        }
      }
      total += part.length;
    }
    block[fill++] = 0x80;
    if (fill > 56) {
      block.fill(0, fill);
      this.#compress();
      fill = 0;
    }
    block.fill(0, fill, 56);
    const bits = (prefixBytes + total) * 8;
    this.#blockView.setUint32(56, Math.floor(bits / 2 ** 32));
    this.#blockView.setUint32(60, bits >>> 0);
    this.#compress();
  }

  /** Compress #block into #state. */
  #compress(): void {
    const w = this.#w;
    const view = this.#blockView;
    for (let t = 0; t < 16; t++) w[t] = view.getInt32(4 * t);
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!;
      const y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (s1 + w[t - 7]! + s0 + w[t - 16]!) | 0;
    }

    const s = this.#state;
    let a = s[0]!;
    let b = s[1]!;
    let c = s[2]!;
    let d = s[3]!;
    let e = s[4]!;
    let f = s[5]!;
    let g = s[6]!;
    let h = s[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
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
}

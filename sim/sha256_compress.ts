/**
 * SHA-256 compression function (FIPS 180-4), the block step of
 * hw/tnic_sha256_core.v. Kept separate from @noble/hashes so that the model
 * can hold raw chaining values (the HMAC inner and outer states), and so
 * that tests can check the model against an independent implementation.
 */

/** Round constants K[0..63] (FIPS 180-4, section 4.2.2). */
export const SHA256_K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export const SHA256_IV = new Uint32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

/** Compress one 16-word block into the 8-word chaining value; returns the new value. */
export function sha256Compress(state: Uint32Array, block: Uint32Array): Uint32Array {
  const out = state.slice(0, 8);
  sha256CompressInPlace(out, block);
  return out;
}

/** Message schedule of the block being compressed; one is enough, as a compression never yields. */
const SCHEDULE = new Uint32Array(64);

/** Compress block[offset .. offset + 15] into the 8-word chaining value `state`, in place. */
export function sha256CompressInPlace(state: Uint32Array, block: Uint32Array, offset = 0): void {
  const w = SCHEDULE;
  for (let t = 0; t < 16; t++) w[t] = block[offset + t]!;
  for (let t = 16; t < 64; t++) {
    const w15 = w[t - 15]!;
    const w2 = w[t - 2]!;
    const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
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
    const bigS1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + bigS1 + ch + SHA256_K[t]! + w[t]!) | 0;
    const bigS0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (bigS0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }

  state[0] = state[0]! + a;
  state[1] = state[1]! + b;
  state[2] = state[2]! + c;
  state[3] = state[3]! + d;
  state[4] = state[4]! + e;
  state[5] = state[5]! + f;
  state[6] = state[6]! + g;
  state[7] = state[7]! + h;
}

/** Big-endian words of `bytes`, zero-padded to a whole word. */
export function bytesToWords(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  for (let i = 0; i < bytes.length; i++) {
    words[i >> 2]! |= bytes[i]! << (24 - 8 * (i & 3));
  }
  return words;
}

export function wordsToBytes(words: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setUint32(4 * i, w));
  return bytes;
}

/**
 * Hash `data` starting from chaining value `state`, counting `prefixBytes`
 * already hashed (for HMAC: the 64-byte key block) in the padded length.
 */
export function sha256From(state: Uint32Array, data: Uint8Array, prefixBytes: number): Uint32Array {
  const blocks = Math.floor((data.length + 72) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const bits = BigInt(prefixBytes + data.length) * 8n;
  new DataView(padded.buffer).setBigUint64(padded.length - 8, bits);

  const words = bytesToWords(padded);
  let h = state;
  for (let b = 0; b < blocks; b++) h = sha256Compress(h, words.subarray(16 * b, 16 * b + 16));
  return h;
}

/**
 * Stimulus shared by the cycle-by-cycle driver and the event-driven batch
 * runner: the harness's stall generator, and the packing of requests into
 * 32-bit words and beats as verify/harness/tnic_harness.cpp packs them.
 */

import { InputError } from '../errors.ts';
import type { KernelRequest } from '../kernel_port.ts';

/**
 * Reject a stall share the harness would reject: an integer percentage of
 * cycles from 0 to 99. At 100 the channel never moves and the batch hangs.
 */
export function checkStallPercent(channel: string, percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 99) {
    throw new InputError(`${channel} stall ${percent} is not an integer percentage from 0 to 99`);
  }
}

/**
 * xorshift64, the generator of the harness's stalls; seed 0 counts as 1.
 * The state is kept as two 32-bit halves so that a draw costs no BigInt
 * arithmetic; the sequence is the 64-bit one.
 */
export class XorShift64 {
  #hi = 0;
  #lo = 1;

  seed(seed: number | bigint): void {
    const s = BigInt(seed) & ((1n << 64n) - 1n);
    const x = s === 0n ? 1n : s;
    this.#hi = Number(x >> 32n) >>> 0;
    this.#lo = Number(x & 0xffffffffn) >>> 0;
  }

  /** True in about `percent` of calls; draws nothing for 0, like the harness. */
  draw(percent: number): boolean {
    if (percent === 0) return false;
    let hi = this.#hi;
    let lo = this.#lo;
    // x ^= x << 13
    hi = (hi ^ ((hi << 13) | (lo >>> 19))) >>> 0;
    lo = (lo ^ (lo << 13)) >>> 0;
    // x ^= x >> 7
    lo = (lo ^ ((lo >>> 7) | (hi << 25))) >>> 0;
    hi = (hi ^ (hi >>> 7)) >>> 0;
    // x ^= x << 17
    hi = (hi ^ ((hi << 17) | (lo >>> 15))) >>> 0;
    lo = (lo ^ (lo << 17)) >>> 0;
    this.#hi = hi;
    this.#lo = lo;
    // x mod 100, with 2^32 mod 100 = 96.
    return (((hi % 100) * 96 + (lo % 100)) % 100) < percent;
  }
}

/** Big-endian words of `bytes`, zero-padded to a multiple of `multiple` words. */
export function toWords(bytes: Uint8Array, multiple = 1): Uint32Array {
  const words = new Uint32Array(Math.ceil(bytes.length / (4 * multiple)) * multiple);
  for (let i = 0; i < bytes.length; i++) words[i >> 2]! |= bytes[i]! << (24 - 8 * (i & 3));
  return words;
}

/** Input beats of `bytes`: `lanes` big-endian words each, the last one zero-padded. */
export function toBeats(bytes: Uint8Array, lanes: number): Uint32Array[] {
  const words = toWords(bytes, lanes);
  const beats: Uint32Array[] = [];
  for (let w = 0; w < words.length; w += lanes) beats.push(words.subarray(w, w + lanes));
  return beats;
}

/** Return the bytes a request streams on the input channel: the key, the message, or nothing. */
export function requestData(req: KernelRequest): Uint8Array {
  if (req.op === 'load-key') return req.key;
  if (req.op === 'attest' || req.op === 'verify' || req.op === 'check') return req.msg;
  return new Uint8Array(0);
}

/** cmd_tag: the tag as 8 big-endian words, zeros when the request has none. */
export function tagWords(tag: Uint8Array | undefined): Uint32Array {
  const words = new Uint32Array(8);
  if (tag) words.set(toWords(tag).subarray(0, 8));
  return words;
}

/** Big-endian bytes of `words`. */
export function wordsToBytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    out[4 * i] = w >>> 24;
    out[4 * i + 1] = w >>> 16;
    out[4 * i + 2] = w >>> 8;
    out[4 * i + 3] = w;
  }
  return out;
}

/**
 * Beat `beat` of `bytes` as `lanes` big-endian words into out[offset ..],
 * zero-padded past the end of `bytes`: the same words as toBeats, without
 * building them all first.
 */
export function beatWords(bytes: Uint8Array, beat: number, lanes: number, out: Uint32Array, offset: number): void {
  let i = beat * lanes * 4;
  for (let l = 0; l < lanes; l++, i += 4) {
    if (i + 3 < bytes.length) {
      out[offset + l] = (bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!;
    } else {
      let w = 0;
      for (let b = 0; b < 4 && i + b < bytes.length; b++) w |= bytes[i + b]! << (24 - 8 * b);
      out[offset + l] = w;
    }
  }
}

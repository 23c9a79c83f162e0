/**
 * Cycle model of hw/tnic_sha256_core.v: one SHA-256 round per clock, 65
 * cycles per block (a load edge and 64 rounds). Register names follow the
 * RTL; 256-bit values are 8 words, H0 first.
 */

import { SHA256_K } from '../sha256_compress.ts';

export const CORE_IDLE = 0;
export const CORE_ROUND = 1;
export const CORE_DONE = 2;

/** start_src: load state_a, state_b, or continue from the core's own digest. */
export const SRC_A = 0;
export const SRC_B = 1;
export const SRC_CHAIN = 2;

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

export class TnicSha256Core {
  core_state_reg = CORE_IDLE;
  t_reg = 0;
  h_reg: Uint32Array = new Uint32Array(8);
  a_reg = 0;
  b_reg = 0;
  c_reg = 0;
  d_reg = 0;
  e_reg = 0;
  f_reg = 0;
  g_reg = 0;
  hh_reg = 0;
  /**
   * The RTL's shift register of the last 16 schedule words, kept as a ring:
   * W[t-16+k] is at index (w_oldest + k) & 15, so a round writes one word
   * instead of shifting sixteen.
   */
  w_window_reg: Uint32Array = new Uint32Array(16);
  w_oldest = 0;

  // Outputs: functions of the registers only.
  get w_ready(): boolean {
    return this.core_state_reg === CORE_ROUND && this.t_reg < 16;
  }
  get round(): number {
    return this.t_reg;
  }
  get idle(): boolean {
    return this.core_state_reg === CORE_IDLE;
  }
  get digest_valid(): boolean {
    return this.core_state_reg === CORE_DONE;
  }
  get digest(): Uint32Array {
    return this.h_reg;
  }

  reset(): void {
    this.core_state_reg = CORE_IDLE;
    this.t_reg = 0;
    this.h_reg = new Uint32Array(8);
    this.a_reg = this.b_reg = this.c_reg = this.d_reg = 0;
    this.e_reg = this.f_reg = this.g_reg = this.hh_reg = 0;
    this.w_window_reg = new Uint32Array(16);
    this.w_oldest = 0;
  }

  /** Clock edge. `stateA` and `stateB` are read only when a block starts from them. */
  tick(start: boolean, startSrc: number, stateA: Uint32Array, stateB: Uint32Array, wValid: boolean, wData: number): void {
    const canStart = this.core_state_reg === CORE_IDLE || this.core_state_reg === CORE_DONE;
    if (start && canStart) {
      // SRC_CHAIN keeps h_reg, the digest of the last block, and loads it.
      if (startSrc === SRC_A) this.h_reg = stateA.slice();
      else if (startSrc === SRC_B) this.h_reg = stateB.slice();
      const s = this.h_reg;
      this.core_state_reg = CORE_ROUND;
      this.t_reg = 0;
      [this.a_reg, this.b_reg, this.c_reg, this.d_reg] = [s[0]!, s[1]!, s[2]!, s[3]!];
      [this.e_reg, this.f_reg, this.g_reg, this.hh_reg] = [s[4]!, s[5]!, s[6]!, s[7]!];
      return;
    }

    const fromInput = this.t_reg < 16;
    if (this.core_state_reg === CORE_ROUND && (!fromInput || wValid)) {
      this.#round(fromInput ? wData >>> 0 : this.#expand());
      return;
    }
    if (this.core_state_reg === CORE_DONE) this.core_state_reg = CORE_IDLE;
  }

  /**
   * Run `n` rounds at once, as n clock edges without a start would. Only
   * for rounds 16..62, which need no input word and do not finish the block.
   */
  advance(n: number): void {
    if (this.core_state_reg !== CORE_ROUND || this.t_reg < 16 || this.t_reg + n > 63) {
      throw new Error(`advance(${n}) at round ${this.t_reg} would cross a block boundary or need input`);
    }
    for (let r = 0; r < n; r++) this.#round(this.#expand());
  }

  #expand(): number {
    const w = this.w_window_reg;
    const o = this.w_oldest;
    const w15 = w[(o + 1) & 15]!;
    const w2 = w[(o + 14) & 15]!;
    const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
    return (s1 + w[(o + 9) & 15]! + s0 + w[o]!) >>> 0;
  }

  #round(w: number): void {
    const a = this.a_reg;
    const b = this.b_reg;
    const c = this.c_reg;
    const d = this.d_reg;
    const e = this.e_reg;
    const f = this.f_reg;
    const g = this.g_reg;
    const h = this.hh_reg;
    const bigS1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + bigS1 + ch + SHA256_K[this.t_reg]! + w) | 0;
    const bigS0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const aNext = (t1 + ((bigS0 + maj) | 0)) >>> 0;
    const eNext = (d + t1) >>> 0;

    // Feed-forward over rounds 60..63: each half of h_reg shifts down one
    // word, and H0 and H4 take the sums of H3 and H7 with the new a and e.
    if (this.t_reg >= 60) {
      const hv = this.h_reg;
      const out = new Uint32Array(8);
      out[0] = hv[3]! + aNext;
      out[1] = hv[0]!;
      out[2] = hv[1]!;
      out[3] = hv[2]!;
      out[4] = hv[7]! + eNext;
      out[5] = hv[4]!;
      out[6] = hv[5]!;
      out[7] = hv[6]!;
      this.h_reg = out;
    }
    if (this.t_reg === 63) this.core_state_reg = CORE_DONE;
    this.a_reg = aNext;
    this.b_reg = a;
    this.c_reg = b;
    this.d_reg = c;
    this.e_reg = eNext;
    this.f_reg = e;
    this.g_reg = f;
    this.hh_reg = g;
    // The oldest word W[t-16] drops out and W[t] takes its slot.
    this.w_window_reg[this.w_oldest] = w;
    this.w_oldest = (this.w_oldest + 1) & 15;
    this.t_reg = (this.t_reg + 1) & 63;
  }
}

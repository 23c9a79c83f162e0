/**
 * Cycle model of hw/tnic_engine.v: one MAC engine with its message buffer
 * and SHA-256 core. Register names follow the RTL.
 */

import { TnicSha256Core } from './tnic_sha256_core.ts';

export const ENG_IDLE = 0;
export const ENG_INNER = 1;
export const ENG_OUTER = 2;
export const ENG_DONE = 3;

/** Inputs of one clock edge, driven by the kernel. */
export interface EngineInputs {
  start: boolean;
  start_bypass: boolean;
  start_len: number;
  /** session, device, counter high, counter low */
  start_header: Uint32Array;
  start_istate: Uint32Array;
  start_ostate: Uint32Array;
  wr_valid: boolean;
  wr_data: number;
  release_engine: boolean;
}

export class TnicEngine {
  readonly u_core = new TnicSha256Core();
  readonly bufWords: number;

  eng_state_reg = ENG_IDLE;
  bypass_reg = false;
  len_reg = 0;
  header_reg: Uint32Array = new Uint32Array(4);
  ostate_reg: Uint32Array = new Uint32Array(8);
  inner_digest_reg: Uint32Array = new Uint32Array(8);
  tag_reg: Uint32Array = new Uint32Array(8);
  blk_reg = 0;
  wr_count_reg = 0;
  rd_count_reg = 0;
  pref_data_reg = 0;
  pref_valid_reg = false;
  buf_mem: Uint32Array;

  constructor(bufAddrBits: number) {
    this.bufWords = 1 << bufAddrBits;
    this.buf_mem = new Uint32Array(this.bufWords);
  }

  reset(): void {
    this.u_core.reset();
    this.eng_state_reg = ENG_IDLE;
    this.bypass_reg = false;
    this.len_reg = 0;
    this.header_reg = new Uint32Array(4);
    this.ostate_reg = new Uint32Array(8);
    this.inner_digest_reg = new Uint32Array(8);
    this.tag_reg = new Uint32Array(8);
    this.blk_reg = 0;
    this.wr_count_reg = 0;
    this.rd_count_reg = 0;
    this.pref_valid_reg = false;
    // NOTE: the RTL does not reset buf_mem or pref_data_reg; neither is read before written.
  }

  get msg_words(): number {
    return Math.ceil(this.len_reg / 4);
  }
  get idle(): boolean {
    return this.eng_state_reg === ENG_IDLE;
  }
  get done(): boolean {
    return this.eng_state_reg === ENG_DONE;
  }
  get tag(): Uint32Array {
    return this.tag_reg;
  }
  get wr_ready(): boolean {
    return (
      this.eng_state_reg !== ENG_IDLE &&
      this.wr_count_reg !== this.msg_words &&
      this.wr_count_reg - this.rd_count_reg < this.bufWords
    );
  }

  /** Blocks of the inner hash: ceil((16 + len + 9) / 64). */
  get inner_blocks(): number {
    return Math.floor((this.len_reg + 88) / 64);
  }

  /** The word of the padded inner stream at `round` is a message word (else header or padding). */
  #innerIsData(round: number): boolean {
    const wordIdx = this.blk_reg * 16 + round;
    return wordIdx >= 4 && wordIdx * 4 < this.len_reg + 16;
  }

  /** Word of the padded inner stream at the core's round. */
  #innerWord(round: number): number {
    const wordIdx = this.blk_reg * 16 + round;
    const byteOff = wordIdx * 4;
    const total = this.len_reg + 16;
    const lastWord = this.inner_blocks * 16;
    if (wordIdx < 4) return this.header_reg[wordIdx]!;
    if (byteOff < total) {
      // Data word: keep bytes before `total`, put 0x80 right after the last.
      const keep = total - byteOff;
      if (keep >= 4) return this.pref_data_reg >>> 0;
      const mask = (0xffffffff << (32 - 8 * keep)) >>> 0;
      return ((this.pref_data_reg & mask) | (0x80 << (24 - 8 * keep))) >>> 0;
    }
    // Message length in bits, counting the ipad block: (64 + total) * 8 < 2^32 here.
    const bits = (total + 64) * 8;
    if (wordIdx === lastWord - 2) return Math.floor(bits / 2 ** 32);
    if (wordIdx === lastWord - 1) return bits >>> 0;
    if (byteOff === total) return 0x80000000;
    return 0;
  }

  #outerWord(round: number): number {
    if (round < 8) return this.inner_digest_reg[round]!;
    if (round === 8) return 0x80000000;
    if (round === 15) return 768;
    return 0;
  }

  /**
   * Nothing can change: idle without a start, or done and not released.
   * The core is idle in both states, and the buffer is neither written nor read.
   */
  quiet(start: boolean, release: boolean): boolean {
    if (this.eng_state_reg === ENG_IDLE) return !start;
    return this.eng_state_reg === ENG_DONE && !release;
  }

  /**
   * Edges this engine can skip with nothing but core rounds happening: its
   * core is in rounds 16..62 (no input words, no block end) and no prefetch
   * load is pending. Infinity when idle; 0 when anything else can happen.
   */
  skippableEdges(): number {
    if (this.eng_state_reg === ENG_IDLE) return Infinity;
    if (this.eng_state_reg === ENG_DONE || this.bypass_reg) return 0;
    const core = this.u_core;
    if (!core.w_ready && core.round >= 16 && !core.digest_valid && !core.idle) {
      const loadPending = this.rd_count_reg !== this.wr_count_reg && !this.pref_valid_reg;
      return loadPending ? 0 : 63 - core.round;
    }
    return 0;
  }

  /** Clock edge. */
  tick(i: EngineInputs): void {
    const core = this.u_core;
    const round = core.round;
    const coreDigestValid = core.digest_valid;
    const coreDigest = core.digest;
    const coreWReady = core.w_ready;

    // Buffer write side.
    const wrFire = i.wr_valid && this.wr_ready;

    // Word generator and prefetch.
    const inInner = this.eng_state_reg === ENG_INNER && !this.bypass_reg;
    const wantData = inInner && this.#innerIsData(round);
    const coreWData = inInner ? this.#innerWord(round) : this.#outerWord(round);
    const coreWValid = !wantData || this.pref_valid_reg;
    const bypassing = this.eng_state_reg === ENG_INNER && this.bypass_reg;
    const prefTake = this.pref_valid_reg && ((wantData && coreWReady) || bypassing);
    const prefLoad = this.rd_count_reg !== this.wr_count_reg && (!this.pref_valid_reg || prefTake);

    // Block sequencing.
    const innerLast = this.blk_reg + 1 === this.inner_blocks;
    const startFire = i.start && this.eng_state_reg === ENG_IDLE;
    const coreStart =
      (startFire && !i.start_bypass) || (this.eng_state_reg === ENG_INNER && !this.bypass_reg && coreDigestValid);
    const coreStateIn = startFire ? i.start_istate : innerLast ? this.ostate_reg : coreDigest;
    const bypassDone = bypassing && !this.pref_valid_reg && this.rd_count_reg === this.msg_words;

    core.tick(coreStart, coreStateIn, coreWValid, coreWData);

    // Buffer RAM (not reset).
    const wrIndex = this.wr_count_reg & (this.bufWords - 1);
    const rdIndex = this.rd_count_reg & (this.bufWords - 1);
    if (prefLoad) this.pref_data_reg = this.buf_mem[rdIndex]!;
    if (wrFire) this.buf_mem[wrIndex] = i.wr_data;

    if (wrFire) this.wr_count_reg++;
    if (prefLoad) {
      this.rd_count_reg++;
      this.pref_valid_reg = true;
    } else if (prefTake) {
      this.pref_valid_reg = false;
    }

    switch (this.eng_state_reg) {
      case ENG_IDLE:
        if (startFire) {
          this.eng_state_reg = ENG_INNER;
          this.bypass_reg = i.start_bypass;
          this.len_reg = i.start_len;
          this.header_reg = i.start_header.slice();
          this.ostate_reg = i.start_ostate.slice();
          this.blk_reg = 0;
          this.wr_count_reg = 0;
          this.rd_count_reg = 0;
          this.tag_reg = new Uint32Array(8);
        }
        break;
      case ENG_INNER:
        if (this.bypass_reg) {
          if (bypassDone) this.eng_state_reg = ENG_DONE;
        } else if (coreDigestValid) {
          this.blk_reg++;
          if (innerLast) {
            this.inner_digest_reg = coreDigest;
            this.eng_state_reg = ENG_OUTER;
          }
        }
        break;
      case ENG_OUTER:
        if (coreDigestValid) {
          this.tag_reg = coreDigest;
          this.eng_state_reg = ENG_DONE;
        }
        break;
      default:
        if (i.release_engine) this.eng_state_reg = ENG_IDLE;
    }
  }
}

/**
 * Cycle model of hw/tnic_engine.v: one MAC engine with its message buffer
 * and SHA-256 core. Register names follow the RTL.
 */

import { SRC_A, SRC_B, SRC_CHAIN, TnicSha256Core } from './tnic_sha256_core.ts';

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
  /** One beat: dataWidth / 32 words, the first bytes in word 0. */
  wr_data: Uint32Array;
  release_engine: boolean;
}

export class TnicEngine {
  readonly u_core = new TnicSha256Core();
  /** 32-bit words per beat, and beats the buffer holds. */
  readonly lanes: number;
  readonly bufBeats: number;

  eng_state_reg = ENG_IDLE;
  bypass_reg = false;
  len_reg = 0;
  header_reg: Uint32Array = new Uint32Array(4);
  ostate_reg: Uint32Array = new Uint32Array(8);
  inner_digest_reg: Uint32Array = new Uint32Array(8);
  blk_reg = 0;
  /** Beats written into and read out of the buffer. */
  wr_count_reg = 0;
  rd_count_reg = 0;
  /** Beat rd_count_reg - 1, read ahead. */
  pref_data_reg: Uint32Array;
  pref_valid_reg = false;
  /** Beat b in words lanes * b .. lanes * b + lanes - 1. */
  buf_mem: Uint32Array;

  /** Create an engine whose buffer holds 2^bufAddrBits 32-bit words, written in beats of dataWidth bits. */
  constructor(bufAddrBits: number, dataWidth = 32) {
    this.lanes = dataWidth / 32;
    this.bufBeats = (1 << bufAddrBits) / this.lanes;
    this.buf_mem = new Uint32Array(1 << bufAddrBits);
    this.pref_data_reg = new Uint32Array(this.lanes);
  }

  reset(): void {
    this.u_core.reset();
    this.eng_state_reg = ENG_IDLE;
    this.bypass_reg = false;
    this.len_reg = 0;
    this.header_reg = new Uint32Array(4);
    this.ostate_reg = new Uint32Array(8);
    this.inner_digest_reg = new Uint32Array(8);
    this.blk_reg = 0;
    this.wr_count_reg = 0;
    this.rd_count_reg = 0;
    this.pref_valid_reg = false;
    // NOTE: the RTL does not reset buf_mem or pref_data_reg; neither is read before written.
  }

  get msg_beats(): number {
    return Math.ceil(this.len_reg / (4 * this.lanes));
  }
  get idle(): boolean {
    return this.eng_state_reg === ENG_IDLE;
  }
  get done(): boolean {
    return this.eng_state_reg === ENG_DONE;
  }
  /** The HMAC while done, because the core keeps its digest until the next start. Undefined after a bypass. */
  get tag(): Uint32Array {
    return this.u_core.digest;
  }
  get wr_ready(): boolean {
    return (
      this.eng_state_reg !== ENG_IDLE &&
      this.wr_count_reg !== this.msg_beats &&
      this.wr_count_reg - this.rd_count_reg < this.bufBeats
    );
  }

  /** Blocks of the inner hash: ceil((16 + len + 9) / 64). */
  get inner_blocks(): number {
    return Math.floor((this.len_reg + 88) / 64);
  }

  /**
   * Index of the word at the core's round in the padded inner stream,
   * header (4 words) || msg || 0x80 || zeros || 64-bit length. Only rounds
   * 0..15 take words, so the RTL concatenates blk_reg and round[3:0].
   */
  #wordIdx(round: number): number {
    return this.blk_reg * 16 + (round & 15);
  }

  /** Index of the first word that is not a full message word. */
  get full_end(): number {
    return (this.len_reg >>> 2) + 4;
  }

  /** Index after the last message word. */
  get data_end(): number {
    return this.full_end + ((this.len_reg & 3) !== 0 ? 1 : 0);
  }

  /** The word at `wordIdx` of the padded inner stream is a message word (else header or padding). */
  #innerIsData(wordIdx: number): boolean {
    return wordIdx >= 4 && wordIdx < this.data_end;
  }

  /**
   * Lane of the word at `wordIdx` in the prefetched beat: message word k is in
   * lane k mod lanes, which equals the word index mod lanes after 4 header words.
   */
  #lane(wordIdx: number): number {
    return wordIdx & (this.lanes - 1);
  }

  /** The prefetched beat is used up after the word at `wordIdx`: its last lane, or the last message word. */
  #beatEnd(wordIdx: number): boolean {
    return this.#lane(wordIdx) === this.lanes - 1 || wordIdx + 1 === this.data_end;
  }

  /** Word `wordIdx` of the padded inner stream, at the core's `round`. */
  #innerWord(wordIdx: number, round: number): number {
    if (wordIdx < 4) return this.header_reg[wordIdx]!;
    const prefWord = this.pref_data_reg[this.#lane(wordIdx)]!;
    if (wordIdx < this.full_end) return prefWord >>> 0;
    if (wordIdx === this.full_end) {
      // The message bytes of the word, then 0x80, then zeros.
      const keep = this.len_reg & 3;
      if (keep === 0) return 0x80000000;
      const mask = (0xffffffff << (32 - 8 * keep)) >>> 0;
      return ((prefWord & mask) | (0x80 << (24 - 8 * keep))) >>> 0;
    }
    // The last word of the last block: the length of ipad block || header || msg in bits.
    const innerLast = this.blk_reg + 1 === this.inner_blocks;
    if (innerLast && (round & 15) === 15) return ((this.len_reg + 80) * 8) >>> 0;
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

    // Word generator and prefetch. The core reads w_data and w_valid only
    // while it takes input words (w_ready), so the model skips them otherwise.
    const inInner = this.eng_state_reg === ENG_INNER && !this.bypass_reg;
    let wantData = false;
    let coreWData = 0;
    let beatEnd = false;
    if (coreWReady) {
      const wordIdx = this.#wordIdx(round);
      wantData = inInner && this.#innerIsData(wordIdx);
      beatEnd = wantData && this.#beatEnd(wordIdx);
      coreWData = inInner ? this.#innerWord(wordIdx, round) : this.#outerWord(round);
    }
    const coreWValid = !wantData || this.pref_valid_reg;
    const bypassing = this.eng_state_reg === ENG_INNER && this.bypass_reg;
    const prefTake = this.pref_valid_reg && ((wantData && beatEnd) || bypassing);
    const prefLoad = this.rd_count_reg !== this.wr_count_reg && (!this.pref_valid_reg || prefTake);

    // Block sequencing.
    const innerLast = this.blk_reg + 1 === this.inner_blocks;
    const startFire = i.start && this.eng_state_reg === ENG_IDLE;
    const coreStart =
      (startFire && !i.start_bypass) || (this.eng_state_reg === ENG_INNER && !this.bypass_reg && coreDigestValid);
    let coreStartSrc = SRC_CHAIN;
    if (startFire) coreStartSrc = SRC_A;
    else if (innerLast) coreStartSrc = SRC_B;
    const bypassDone = bypassing && !this.pref_valid_reg && this.rd_count_reg === this.msg_beats;

    core.tick(coreStart, coreStartSrc, i.start_istate, this.ostate_reg, coreWValid, coreWData);

    // Buffer RAM (not reset): the read takes the old contents, as in the RTL.
    const lanes = this.lanes;
    const wrIndex = (this.wr_count_reg & (this.bufBeats - 1)) * lanes;
    const rdIndex = (this.rd_count_reg & (this.bufBeats - 1)) * lanes;
    if (prefLoad) for (let l = 0; l < lanes; l++) this.pref_data_reg[l] = this.buf_mem[rdIndex + l]!;
    if (wrFire) for (let l = 0; l < lanes; l++) this.buf_mem[wrIndex + l] = i.wr_data[l]!;

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
        if (coreDigestValid) this.eng_state_reg = ENG_DONE;
        break;
      default:
        if (i.release_engine) this.eng_state_reg = ENG_IDLE;
    }
  }
}

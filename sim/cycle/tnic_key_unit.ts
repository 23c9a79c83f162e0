/**
 * Cycle model of hw/tnic_key_unit.v: derives the HMAC inner and outer
 * states of a session key. Register names follow the RTL.
 */

import { SHA256_IV } from '../sha256_compress.ts';
import { SRC_A, SRC_CHAIN, TnicSha256Core } from './tnic_sha256_core.ts';

export const KU_IDLE = 0;
export const KU_FILL = 1;
export const KU_HASH = 2;
export const KU_DONE = 3;

export const PASS_KEYHASH = 0;
export const PASS_IPAD = 1;
export const PASS_OPAD = 2;

const ZERO_BEAT = new Uint32Array(4);

export class TnicKeyUnit {
  readonly u_core = new TnicSha256Core();
  /** 32-bit words per input beat. */
  readonly lanes: number;

  ku_state_reg = KU_IDLE;
  pass_reg = PASS_IPAD;
  len_reg = 0;
  blk_reg = 0;
  words_left_reg = 0;
  fill_idx_reg = 0;
  istate_reg: Uint32Array = new Uint32Array(8);
  /** SHA-256(key) for a key over 64 bytes, until the opad pass writes ostate. */
  ostate_reg: Uint32Array = new Uint32Array(8);
  /** A key of at most 64 bytes, one word each; not reset, as in the RTL. */
  keybuf_mem: Uint32Array = new Uint32Array(16);

  constructor(dataWidth = 32) {
    this.lanes = dataWidth / 32;
  }

  reset(): void {
    this.u_core.reset();
    this.ku_state_reg = KU_IDLE;
    this.pass_reg = PASS_IPAD;
    this.len_reg = 0;
    this.blk_reg = 0;
    this.words_left_reg = 0;
    this.fill_idx_reg = 0;
    this.istate_reg = new Uint32Array(8);
    this.ostate_reg = new Uint32Array(8);
  }

  get done(): boolean {
    return this.ku_state_reg === KU_DONE;
  }
  get istate(): Uint32Array {
    return this.istate_reg;
  }
  get ostate(): Uint32Array {
    return this.ostate_reg;
  }

  get key_blocks(): number {
    return Math.floor((this.len_reg + 72) / 64);
  }

  /**
   * Word of the padded SHA-256(key) stream, key || 0x80 || zeros || 64-bit
   * length, at the core's round; `data` marks words that carry key bytes.
   */
  #hashWord(inData: Uint32Array): { word: number; data: boolean } {
    const wordIdx = this.#hashIdx();
    const round = wordIdx & 15;
    const inWord = inData[wordIdx & (this.lanes - 1)]!;
    const len = this.len_reg;
    const fullEnd = len >>> 2;
    const keep = len & 3;
    if (wordIdx < fullEnd) return { word: inWord >>> 0, data: true };
    if (wordIdx === fullEnd) {
      // The key bytes of the word, then 0x80, then zeros.
      if (keep === 0) return { word: 0x80000000, data: false };
      const mask = (0xffffffff << (32 - 8 * keep)) >>> 0;
      return { word: ((inWord & mask) | (0x80 << (24 - 8 * keep))) >>> 0, data: true };
    }
    if (this.blk_reg + 1 === this.key_blocks && round === 15) return { word: (len * 8) >>> 0, data: false };
    return { word: 0, data: false };
  }

  /** Index of the word at the core's round in the padded SHA-256(key) stream: blk_reg and round[3:0]. */
  #hashIdx(): number {
    return this.blk_reg * 16 + (this.u_core.round & 15);
  }

  get key_words(): number {
    return Math.ceil(this.len_reg / 4);
  }

  /** Word of K0 at the core's round: SHA-256(key) or the key, zero-padded to 16 words. */
  #k0Word(): number {
    const round = this.u_core.round & 15;
    if (this.len_reg > 64) return round < 8 ? this.ostate_reg[round]! : 0;
    return round < Math.ceil(this.len_reg / 4) ? this.keybuf_mem[round]! : 0;
  }

  /** The unit takes a word per cycle and accepts a beat with its last lane or the last key word. */
  get in_ready(): boolean {
    const lastLane = this.lanes - 1;
    if (this.ku_state_reg === KU_FILL) {
      const beatEnd = (this.fill_idx_reg & lastLane) === lastLane || this.words_left_reg === 1;
      return this.words_left_reg !== 0 && beatEnd;
    }
    const hashing = this.ku_state_reg === KU_HASH && this.pass_reg === PASS_KEYHASH;
    if (!hashing || !this.u_core.w_ready || !this.#hashWord(ZERO_BEAT).data) return false;
    const wordIdx = this.#hashIdx();
    return (wordIdx & lastLane) === lastLane || wordIdx + 1 === this.key_words;
  }

  /** Clock edge. */
  tick(start: boolean, startLen: number, inValid: boolean, inData: Uint32Array): void {
    const core = this.u_core;
    const inHash = this.ku_state_reg === KU_HASH;
    const hashing = inHash && this.pass_reg === PASS_KEYHASH;
    const hw = hashing ? this.#hashWord(inData) : { word: 0, data: false };
    const wantData = hashing && hw.data;
    const padWord = (this.#k0Word() ^ (this.pass_reg === PASS_IPAD ? 0x36363636 : 0x5c5c5c5c)) >>> 0;
    const coreWData = hashing ? hw.word : padWord;
    const coreWValid = !wantData || inValid;

    const curBlocks = this.pass_reg === PASS_KEYHASH ? this.key_blocks : 1;
    const lastBlk = this.blk_reg + 1 === curBlocks;
    const firstLaunch = inHash && core.idle;
    const blkDone = inHash && core.digest_valid;
    const allDone = blkDone && this.pass_reg === PASS_OPAD;
    const coreStart = firstLaunch || (blkDone && !allDone);
    const chain = blkDone && !lastBlk;
    const coreDigest = core.digest;
    const nextPass = this.pass_reg === PASS_KEYHASH ? PASS_IPAD : PASS_OPAD;
    const startFire = start && (this.ku_state_reg === KU_IDLE || this.ku_state_reg === KU_DONE);

    // The last key word keeps only its first len[1:0] bytes (all four when 0).
    const keep = this.len_reg & 3;
    const lastFill = this.words_left_reg === 1 && keep !== 0;
    const fillIn = inData[this.fill_idx_reg & (this.lanes - 1)]!;
    const fillWord = lastFill ? (fillIn & (0xffffffff << (32 - 8 * keep))) >>> 0 : fillIn >>> 0;

    core.tick(coreStart, chain ? SRC_CHAIN : SRC_A, SHA256_IV, SHA256_IV, coreWValid, coreWData);

    if (startFire) {
      this.len_reg = startLen;
      this.blk_reg = 0;
      this.words_left_reg = Math.ceil(startLen / 4);
      this.fill_idx_reg = 0;
      if (startLen > 64) {
        this.pass_reg = PASS_KEYHASH;
        this.ku_state_reg = KU_HASH;
      } else {
        this.pass_reg = PASS_IPAD;
        this.ku_state_reg = KU_FILL;
      }
      return;
    }

    if (this.ku_state_reg === KU_FILL) {
      if (this.words_left_reg === 0) {
        this.ku_state_reg = KU_HASH;
      } else if (inValid) {
        this.keybuf_mem[this.fill_idx_reg] = fillWord;
        this.fill_idx_reg = (this.fill_idx_reg + 1) & 15;
        this.words_left_reg--;
      }
    } else if (this.ku_state_reg === KU_HASH) {
      if (allDone) {
        this.ostate_reg = coreDigest;
        this.ku_state_reg = KU_DONE;
      } else if (blkDone) {
        if (lastBlk) {
          if (this.pass_reg === PASS_KEYHASH) this.ostate_reg = coreDigest;
          else this.istate_reg = coreDigest;
          this.blk_reg = 0;
          this.pass_reg = nextPass;
        } else {
          this.blk_reg++;
        }
      }
    }
  }
}

/**
 * Cycle model of hw/tnic_key_unit.v: derives the HMAC inner and outer
 * states of a session key. Register names follow the RTL.
 */

import { SHA256_IV } from '../sha256_compress.ts';
import { TnicSha256Core } from './tnic_sha256_core.ts';

export const KU_IDLE = 0;
export const KU_FILL = 1;
export const KU_HASH = 2;
export const KU_DONE = 3;

export const PASS_KEYHASH = 0;
export const PASS_IPAD = 1;
export const PASS_OPAD = 2;

export class TnicKeyUnit {
  readonly u_core = new TnicSha256Core();

  ku_state_reg = KU_IDLE;
  pass_reg = PASS_IPAD;
  len_reg = 0;
  blk_reg = 0;
  words_left_reg = 0;
  fill_idx_reg = 0;
  /** K0 as 16 words. */
  keybuf_reg: Uint32Array = new Uint32Array(16);
  istate_reg: Uint32Array = new Uint32Array(8);
  ostate_reg: Uint32Array = new Uint32Array(8);

  reset(): void {
    this.u_core.reset();
    this.ku_state_reg = KU_IDLE;
    this.pass_reg = PASS_IPAD;
    this.len_reg = 0;
    this.blk_reg = 0;
    this.words_left_reg = 0;
    this.fill_idx_reg = 0;
    this.keybuf_reg = new Uint32Array(16);
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

  /** Word of the padded SHA-256(key) stream at the core's round; `data` marks key words. */
  #hashWord(inData: number): { word: number; data: boolean } {
    const wordIdx = this.blk_reg * 16 + this.u_core.round;
    const byteOff = wordIdx * 4;
    const len = this.len_reg;
    const lastWord = this.key_blocks * 16;
    if (byteOff < len) {
      let word = 0;
      for (let j = 0; j < 4; j++) {
        const shift = 24 - 8 * j;
        let byte = 0;
        if (byteOff + j < len) byte = (inData >>> shift) & 0xff;
        else if (byteOff + j === len) byte = 0x80;
        word |= byte << shift;
      }
      return { word: word >>> 0, data: true };
    }
    const bits = len * 8;
    if (wordIdx === lastWord - 2) return { word: Math.floor(bits / 2 ** 32), data: false };
    if (wordIdx === lastWord - 1) return { word: bits >>> 0, data: false };
    if (byteOff === len) return { word: 0x80000000, data: false };
    return { word: 0, data: false };
  }

  get in_ready(): boolean {
    if (this.ku_state_reg === KU_FILL) return this.words_left_reg !== 0;
    const hashing = this.ku_state_reg === KU_HASH && this.pass_reg === PASS_KEYHASH;
    return hashing && this.#hashWord(0).data && this.u_core.w_ready;
  }

  /** Clock edge. */
  tick(start: boolean, startLen: number, inValid: boolean, inData: number): void {
    const core = this.u_core;
    const inHash = this.ku_state_reg === KU_HASH;
    const hashing = inHash && this.pass_reg === PASS_KEYHASH;
    const hw = hashing ? this.#hashWord(inData) : { word: 0, data: false };
    const wantData = hashing && hw.data;
    const keybufWord = this.keybuf_reg[core.round & 15]!;
    const padWord = (keybufWord ^ (this.pass_reg === PASS_IPAD ? 0x36363636 : 0x5c5c5c5c)) >>> 0;
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

    // Byte mask of a key word while filling keybuf.
    let fillWord = 0;
    for (let b = 0; b < 4; b++) {
      const shift = 24 - 8 * b;
      if (this.fill_idx_reg * 4 + b < this.len_reg) fillWord |= ((inData >>> shift) & 0xff) << shift;
    }

    core.tick(coreStart, chain ? coreDigest : SHA256_IV, coreWValid, coreWData);

    if (startFire) {
      this.len_reg = startLen;
      this.blk_reg = 0;
      this.words_left_reg = Math.ceil(startLen / 4);
      this.fill_idx_reg = 0;
      this.keybuf_reg = new Uint32Array(16);
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
        this.keybuf_reg[this.fill_idx_reg] = fillWord >>> 0;
        this.fill_idx_reg = (this.fill_idx_reg + 1) & 15;
        this.words_left_reg--;
      }
    } else if (this.ku_state_reg === KU_HASH) {
      if (allDone) {
        this.ostate_reg = coreDigest;
        this.ku_state_reg = KU_DONE;
      } else if (blkDone) {
        if (lastBlk) {
          if (this.pass_reg === PASS_KEYHASH) {
            // K0 = SHA-256(key) || zeros.
            const k0 = new Uint32Array(16);
            k0.set(coreDigest);
            this.keybuf_reg = k0;
          } else {
            this.istate_reg = coreDigest;
          }
          this.blk_reg = 0;
          this.pass_reg = nextPass;
        } else {
          this.blk_reg++;
        }
      }
    }
  }
}

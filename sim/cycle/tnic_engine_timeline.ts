/**
 * Event-driven model of one MAC engine (hw/tnic_engine.v and its
 * tnic_sha256_core.v), for batch runs where only results and cycle counts
 * matter. TnicEngine clocks the core round by round. This class starts from
 * the edges at which the input beats were written. From them it works out
 * the edge at which each beat enters the read-ahead register (pref), the
 * edge at which the core consumes each word, and the edge at which the
 * engine reaches DONE. It hashes each block at once.
 *
 * Edges are numbered within a batch: a register written at edge e has
 * its new value from cycle e + 1 on. The rules below restate the engine's
 * RTL in those terms (tnic_engine.ts has them cycle by cycle):
 * - Beat k can be written at edge e only when the engine is busy, fewer
 *   than msg_beats beats were written, and fewer than bufBeats are unread.
 * - pref is a one-beat register, empty when a message starts. Beat k is
 *   loaded at Ld[k] = max(W[k] + 1, Take[k-1]) (Ld[0] = W[0] + 1), where
 *   W[k] is its write edge and Take[k-1] the edge at which the core
 *   consumed the last word of beat k - 1; a load and a take can share an edge.
 * - A block takes 65 edges when nothing stalls: the start edge, then rounds
 *   0..63, one per edge. Rounds 0..15 take the block's words; a message
 *   word in beat k waits until edge Ld[k] + 1. Header and padding words
 *   never wait, and rounds 16..63 never wait.
 * - The next block starts at the edge after round 63; the outer block
 *   starts after the last inner block, and the engine is DONE after the
 *   edge that follows the outer block's round 63.
 * - A bypassed command (unknown session, counter overflow) only drains its
 *   beats through pref, one per edge: Ld[k] = max(W[k] + 1, Ld[k-1] + 1),
 *   DONE after edge Ld[last] + 2, or after the edge that follows the start
 *   for an empty message.
 * test/kernel_events.test.ts checks these rules against the cycle model
 * on seeded batches with stalls, and the kernel bench against the RTL.
 */

import { sha256CompressInPlace } from '../sha256_compress.ts';
import type { TnicEngine } from './tnic_engine.ts';
import { ENG_IDLE } from './tnic_engine.ts';
import { CORE_IDLE } from './tnic_sha256_core.ts';

/** Most input beats of one message: a 16-bit length in 32-bit beats. */
const MAX_BEATS = Math.ceil(0xffff / 4);

export class TnicEngineTimeline {
  /** 32-bit words per beat, its log2, and beats the buffer holds. */
  readonly lanes: number;
  readonly #laneShift: number;
  readonly bufBeats: number;

  /** Not ENG_IDLE: started and not yet released. */
  busy = false;
  bypass = false;
  len = 0;
  msgBeats = 0;
  /** Inner hash blocks: ceil((16 + len + 9) / 64). */
  innerBlocks = 0;
  /** Word index (in header || message || padding) after the last message word. */
  #dataEnd = 0;
  readonly header = new Uint32Array(4);
  #istate: Uint32Array = new Uint32Array(8);
  #ostate: Uint32Array = new Uint32Array(8);

  /**
   * The command's input bytes, whose beats are written in order. Beat k
   * contains bytes 4 * lanes * k onwards, zero-padded past the end, as the
   * drivers pack them. The hash reads the words from here once every beat
   * is written, instead of copying each beat into a buffer.
   */
  #data: Uint8Array = new Uint8Array(0);
  /** Write edge of each beat (W), and load edge into pref (Ld) of each beat. */
  readonly #writeEdge = new Float64Array(MAX_BEATS);
  readonly #loadEdge = new Float64Array(MAX_BEATS);
  /** Beats written (wr_count_reg), and beats whose load edge is known. */
  wr = 0;
  #loadsKnown = 0;
  /** Loads at edges before the last edge passed to #readBefore(). */
  #rdCounted = 0;

  // Where the walk over the inner words stopped: block, round, the edge of
  // the previous round (or of the block's start), and the last take edge.
  #walkBlk = 0;
  #walkRound = 0;
  #walkPrev = 0;
  #lastTake = 0;

  /** Edge after which the engine is DONE; -1 while unknown. */
  doneEdge = -1;
  /** The HMAC, valid once doneEdge is known for a command that is not bypassed. */
  readonly tag = new Uint32Array(8);
  readonly innerDigest = new Uint32Array(8);
  readonly #block = new Uint32Array(16);

  constructor(bufAddrBits: number, dataWidth: number) {
    this.lanes = dataWidth / 32;
    this.#laneShift = Math.log2(this.lanes);
    this.bufBeats = (1 << bufAddrBits) / this.lanes;
  }

  /** Start a command at `edge`: the engine was idle and the kernel dispatched to it. */
  start(edge: number, bypass: boolean, len: number, header: Uint32Array, istate: Uint32Array, ostate: Uint32Array): void {
    this.busy = true;
    this.bypass = bypass;
    this.len = len;
    this.msgBeats = Math.ceil(len / (4 * this.lanes));
    this.innerBlocks = Math.floor((len + 88) / 64);
    this.#dataEnd = 4 + Math.ceil(len / 4);
    this.header.set(header);
    this.#istate = istate;
    this.#ostate = ostate;
    this.wr = 0;
    this.#loadsKnown = 0;
    this.#rdCounted = 0;
    this.#walkBlk = 0;
    this.#walkRound = 0;
    this.#walkPrev = edge;
    this.#lastTake = 0;
    this.doneEdge = -1;
    if (this.msgBeats === 0) this.#finish(edge);
  }

  /** wr_ready before edge `edge`; `edge` never decreases between two starts. */
  wrReady(edge: number): boolean {
    if (this.wr === this.msgBeats) return false;
    if (this.msgBeats <= this.bufBeats) return true;
    return this.wr - this.#readBefore(edge) < this.bufBeats;
  }

  /** Record that beat `wr` of the command's input bytes `data` is written at `edge`. */
  write(edge: number, data: Uint8Array): void {
    const k = this.wr;
    if (k === 0) this.#data = data;
    else if (data !== this.#data) throw new Error('engine timeline: the beats of one message must come from one byte array');
    this.#writeEdge[k] = edge;
    if (this.bypass) {
      this.#loadEdge[k] = k === 0 ? edge + 1 : Math.max(edge + 1, this.#loadEdge[k - 1]! + 1);
      this.#loadsKnown = k + 1;
    }
    this.wr = k + 1;
    if (this.wr === this.msgBeats) this.#finish(edge);
  }

  /** done before edge `edge`: DONE was reached at an earlier edge. */
  doneBefore(edge: number): boolean {
    return this.doneEdge >= 0 && this.doneEdge < edge;
  }

  release(): void {
    this.busy = false;
  }

  /** rd_count_reg before `edge`: the loads at earlier edges. */
  #readBefore(edge: number): number {
    if (!this.bypass) this.#walk();
    while (this.#rdCounted < this.#loadsKnown && this.#loadEdge[this.#rdCounted]! < edge) this.#rdCounted++;
    return this.#rdCounted;
  }

  /** All beats are written (or there are none): the rest of the timeline is fixed. */
  #finish(edge: number): void {
    if (this.bypass) {
      this.doneEdge = this.msgBeats === 0 ? edge + 1 : this.#loadEdge[this.msgBeats - 1]! + 2;
      return;
    }
    if (!this.#walk()) throw new Error('engine timeline stopped with every beat written');
    // #walkPrev is now the outer block's start edge; its round 63 is 64 edges later.
    this.doneEdge = this.#walkPrev + 65;
    this.#hash();
  }

  /**
   * Walk the inner rounds 0..15 of every block as far as the written beats
   * allow, fixing each word's consumption edge and each beat's load edge.
   * Returns true at the end of the inner hash, when #walkPrev is the outer
   * block's start edge.
   */
  #walk(): boolean {
    const lastLane = this.lanes - 1;
    const dataEnd = this.#dataEnd;
    let prev = this.#walkPrev;
    while (this.#walkBlk < this.innerBlocks) {
      for (let t = this.#walkRound; t < 16; t++) {
        const i = this.#walkBlk * 16 + t;
        if (i < 4 || i >= dataEnd) {
          prev++;
          continue;
        }
        const k = (i - 4) >> this.#laneShift;
        if (k >= this.#loadsKnown) {
          if (k >= this.wr) {
            this.#walkRound = t;
            this.#walkPrev = prev;
            return false;
          }
          const w = this.#writeEdge[k]! + 1;
          this.#loadEdge[k] = k === 0 ? w : Math.max(w, this.#lastTake);
          this.#loadsKnown = k + 1;
        }
        prev = Math.max(prev + 1, this.#loadEdge[k]! + 1);
        if ((i & lastLane) === lastLane || i + 1 === dataEnd) this.#lastTake = prev;
      }
      // Rounds 16..63, then the next block's start edge.
      prev += 49;
      this.#walkBlk++;
      this.#walkRound = 0;
    }
    this.#walkPrev = prev;
    return true;
  }

  /** The HMAC: the inner hash from istate over header || message || padding, the outer from ostate. */
  #hash(): void {
    const block = this.#block;
    const inner = this.innerDigest;
    inner.set(this.#istate);
    const data = this.#data;
    const fullEnd = (this.len >>> 2) + 4;
    const keep = this.len & 3;
    for (let b = 0; b < this.innerBlocks; b++) {
      for (let t = 0; t < 16; t++) {
        const i = b * 16 + t;
        let word = 0;
        if (i < 4) word = this.header[i]!;
        else if (i < fullEnd) {
          const at = 4 * (i - 4);
          word = (data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!;
        } else if (i === fullEnd) {
          // The message bytes of the word, then 0x80, then zeros.
          word = 0x80 << (24 - 8 * keep);
          for (let b = 0; b < keep; b++) word |= data[4 * (i - 4) + b]! << (24 - 8 * b);
        } else if (b + 1 === this.innerBlocks && t === 15) {
          // The length of ipad block || header || message in bits.
          word = (this.len + 80) * 8;
        }
        block[t] = word;
      }
      sha256CompressInPlace(inner, block);
    }
    const tag = this.tag;
    tag.set(this.#ostate);
    block.fill(0);
    block.set(inner);
    block[8] = 0x80000000;
    block[15] = 768;
    sha256CompressInPlace(tag, block);
  }

  /**
   * Leave `engine` (the cycle model) in the state it would have after this
   * engine's last message, once released: idle, every beat read, pref
   * empty, the core idle at round 0 holding the tag. The core's working
   * registers, the buffer and pref's data keep stale values; nothing reads
   * them before the next start overwrites them, and none is observed.
   */
  storeInto(engine: TnicEngine): void {
    engine.eng_state_reg = ENG_IDLE;
    engine.bypass_reg = this.bypass;
    engine.len_reg = this.len;
    engine.header_reg = this.header.slice();
    engine.ostate_reg = this.#ostate.slice();
    engine.wr_count_reg = this.msgBeats;
    engine.rd_count_reg = this.msgBeats;
    engine.pref_valid_reg = false;
    engine.blk_reg = this.bypass ? 0 : this.innerBlocks;
    if (!this.bypass) {
      engine.inner_digest_reg = this.innerDigest.slice();
      engine.u_core.h_reg = this.tag.slice();
      engine.u_core.core_state_reg = CORE_IDLE;
      engine.u_core.t_reg = 0;
    }
  }
}

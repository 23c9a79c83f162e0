/**
 * Generates the multi-buffer HMAC-SHA256 kernel: a WebAssembly module whose
 * function `hmac_x4` computes four independent HMACs at once, one per
 * 32-bit lane of 128-bit SIMD vectors (i32x4), with every SHA-256 round
 * unrolled. Its function `hmac_x1` (sha256_x1_wasm.ts) computes one HMAC
 * from the same inputs as one lane, for a message without partners.
 *
 * Exported function `hmac_x4(desc, groups)` runs `groups` groups of four
 * lanes. Each group has a 64-byte descriptor at `desc + 64 * g`, four i32
 * per field, lane 0 first:
 *   +0  data: address of the lane's inner-hash input after the key block,
 *       already padded as SHA-256 requires (header || msg || 0x80 || zeros
 *       || 64-bit bit length), `blocks * 64` bytes;
 *   +16 blocks: number of 64-byte blocks at `data`, at least 1;
 *   +32 key: address of 16 little-endian i32, the HMAC inner state
 *       H(key ^ ipad) then the outer state H(key ^ opad);
 *   +48 tag: address where the 32-byte tag is written.
 * Lanes of one group may have different block counts: a lane whose blocks
 * are done keeps its state (the compression result is masked off) until
 * the longest lane finishes, so groups of equal lengths waste nothing.
 *
 * The kernel owns the first KERNEL_RESERVED_BYTES of its memory: a scratch
 * tag, the round constants (set by the module's data segment) and the
 * message schedule of the current block. Callers place everything else
 * after it.
 *
 * Each block runs in two passes: the message schedule first, storing
 * W[t] + K[t] for all 64 rounds, then the rounds, which read it back, so
 * the 16-word window is not live during the rounds. With Node 20 on an AMD
 * EPYC (Zen 4) this measured within a few percent of a single pass, ahead
 * at 4 KiB; V8 spills vectors either way, because x64 has 16 registers.
 */

import { SHA256_K } from '../sim/sha256_compress.ts';
import { emitHmacX1 } from './sha256_x1_wasm.ts';
import { FunctionBody, I32, Op, SimdOp, V128, encodeModule } from './sha256_wasm_encoder.ts';

export const DESCRIPTOR_BYTES = 64;
export const KEY_STATE_BYTES = 64;
export const LANES = 4;

/** Tags of unused lanes are written here (32 bytes), never to a caller. */
export const SCRATCH_TAG_OFFSET = 0;
/** K[t] repeated in each lane: 64 vectors of 16 bytes. */
const K_TABLE_OFFSET = 1024;
/** W[t] + K[t] of the block being compressed: 64 vectors. */
const KW_OFFSET = 2048;
export const KERNEL_RESERVED_BYTES = 3072;

type Quad = [number, number, number, number];

// Lanes of i8x16.shuffle for the 4x4 transpose of 32-bit words (V8 emits one punpck
// instruction for each), and for reversing the bytes of each word (big-endian words).
const INTERLEAVE_LOW_WORDS = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
const INTERLEAVE_HIGH_WORDS = [8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31];
const JOIN_LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const JOIN_HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];
const BYTE_SWAP = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];

/** Emitter of the kernel's code into one function body, with every local declared once. */
class KernelEmitter {
  readonly f = new FunctionBody([I32, I32]);
  readonly desc = 0;
  readonly groups = 1;
  readonly block = this.f.local(I32);
  readonly maxBlocks = this.f.local(I32);
  readonly data = this.quad(I32);
  readonly blocks = this.quad(I32);
  readonly address = this.quad(I32);
  readonly keyAddress = this.quad(I32);
  readonly state = this.octet(V128);
  readonly work = this.octet(V128);
  readonly w = Array.from({ length: 16 }, () => this.f.local(V128));
  readonly t1 = this.f.local(V128);
  readonly xor = [this.f.local(V128), this.f.local(V128)];
  readonly rows = this.quad(V128);
  readonly halves = this.quad(V128);
  readonly blocksVector = this.f.local(V128);
  readonly mask = this.f.local(V128);

  quad(type: typeof I32 | typeof V128): Quad {
    return [this.f.local(type), this.f.local(type), this.f.local(type), this.f.local(type)];
  }

  octet(type: typeof V128): number[] {
    return Array.from({ length: 8 }, () => this.f.local(type));
  }

  /** Load out[j] = word j of the four 16-byte rows at address[l] + offset, one row per lane. */
  gather(address: readonly number[], offset: number, out: readonly number[], byteSwap: boolean): void {
    const f = this.f;
    for (let l = 0; l < LANES; l++) f.get(address[l]!).v128Load(offset).set(this.rows[l]!);
    this.transpose(this.rows, out);
    if (byteSwap) for (const v of out) f.get(v).get(v).shuffle(BYTE_SWAP).set(v);
  }

  /** Store word j of lane l from vectors[j] to address[l] + offset + 4j, byte-swapped (big-endian). */
  scatter(vectors: readonly number[], address: readonly number[], offset: number): void {
    const f = this.f;
    for (let j = 0; j < 4; j++) f.get(vectors[j]!).get(vectors[j]!).shuffle(BYTE_SWAP).set(this.rows[j]!);
    this.transpose(this.rows, this.rows);
    for (let l = 0; l < LANES; l++) f.get(address[l]!).get(this.rows[l]!).v128Store(offset);
  }

  /** Set `out` to the 4x4 transpose of the words of `rows` (`out` may be `rows`). */
  transpose(rows: readonly number[], out: readonly number[]): void {
    const f = this.f;
    const [r0, r1, r2, r3] = rows as Quad;
    const [h0, h1, h2, h3] = this.halves;
    f.get(r0).get(r1).shuffle(INTERLEAVE_LOW_WORDS).set(h0);
    f.get(r2).get(r3).shuffle(INTERLEAVE_LOW_WORDS).set(h1);
    f.get(r0).get(r1).shuffle(INTERLEAVE_HIGH_WORDS).set(h2);
    f.get(r2).get(r3).shuffle(INTERLEAVE_HIGH_WORDS).set(h3);
    f.get(h0).get(h1).shuffle(JOIN_LOW).set(out[0]!);
    f.get(h0).get(h1).shuffle(JOIN_HIGH).set(out[1]!);
    f.get(h2).get(h3).shuffle(JOIN_LOW).set(out[2]!);
    f.get(h2).get(h3).shuffle(JOIN_HIGH).set(out[3]!);
  }

  /** Push rotr(x, n) for each lane. */
  rotr(x: number, n: number): void {
    this.f.get(x).i32Const(n).simd(SimdOp.i32x4ShrU);
    this.f.get(x).i32Const(32 - n).simd(SimdOp.i32x4Shl);
    this.f.simd(SimdOp.v128Or);
  }

  /** Push rotr(x, r1) ^ rotr(x, r2) ^ rotr(x, r3), or with a plain shift for `shift` (the small sigmas). */
  sigma(x: number, r1: number, r2: number, r3: number, shift: boolean): void {
    this.rotr(x, r1);
    this.rotr(x, r2);
    this.f.simd(SimdOp.v128Xor);
    if (shift) this.f.get(x).i32Const(r3).simd(SimdOp.i32x4ShrU);
    else this.rotr(x, r3);
    this.f.simd(SimdOp.v128Xor);
  }

  /**
   * Emit the message schedule of the block in this.w (W[0..15]): it stores
   * W[t] + K[t] for t = 0..63 at KW_OFFSET. W[t] for t >= 16 replaces
   * W[t - 16] in the 16-word window: w[t] += sigma1(w[t-2]) + w[t-7] + sigma0(w[t-15]).
   */
  schedule(): void {
    const w = (i: number): number => this.w[i & 15]!;
    const f = this.f;
    for (let t = 0; t < 64; t++) {
      if (t >= 16) {
        f.get(w(t));
        this.sigma(w(t - 2), 17, 19, 10, true);
        f.simd(SimdOp.i32x4Add);
        f.get(w(t - 7)).simd(SimdOp.i32x4Add);
        this.sigma(w(t - 15), 7, 18, 3, true);
        f.simd(SimdOp.i32x4Add).set(w(t));
      }
      f.i32Const(0);
      f.get(w(t)).i32Const(0).v128Load(K_TABLE_OFFSET + 16 * t).simd(SimdOp.i32x4Add);
      f.v128Store(KW_OFFSET + 16 * t);
    }
  }

  /**
   * Emit 64 rounds on the working variables, reading W[t] + K[t] from KW_OFFSET.
   * Locals are renamed each round instead of moved: the local of h
   * receives the new a and that of d the new e, so after 64 rounds every
   * role is back in its first local.
   */
  rounds(): void {
    const f = this.f;
    let v = [...this.work];
    // Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and b ^ c of a round is a ^ b of the round before.
    let bc = this.xor[0]!;
    let ab = this.xor[1]!;
    f.get(v[1]!).get(v[2]!).simd(SimdOp.v128Xor).set(bc);
    for (let t = 0; t < 64; t++) {
      const [a, b, c, d, e, ff, g, h] = v as [number, number, number, number, number, number, number, number];

      // t1 = h + Sigma1(e) + Ch(e, f, g) + K[t] + W[t], with Ch as a bitwise select by e.
      f.get(h);
      this.sigma(e, 6, 11, 25, false);
      f.simd(SimdOp.i32x4Add);
      f.get(ff).get(g).get(e).simd(SimdOp.v128Bitselect).simd(SimdOp.i32x4Add);
      f.i32Const(0).v128Load(KW_OFFSET + 16 * t).simd(SimdOp.i32x4Add).tee(this.t1);
      f.get(d).simd(SimdOp.i32x4Add).set(d);

      // New a = t1 + Sigma0(a) + Maj(a, b, c).
      f.get(this.t1);
      this.sigma(a, 2, 13, 22, false);
      f.simd(SimdOp.i32x4Add);
      f.get(b).get(a).get(b).simd(SimdOp.v128Xor).tee(ab).get(bc).simd(SimdOp.v128And).simd(SimdOp.v128Xor);
      f.simd(SimdOp.i32x4Add).set(h);

      v = [h, a, b, c, d, e, ff, g];
      [bc, ab] = [ab, bc];
      void c;
    }
  }

  copyStateToWork(): void {
    for (let i = 0; i < 8; i++) this.f.get(this.state[i]!).set(this.work[i]!);
  }

  /** Emit the whole function: the loop over groups, inner blocks, outer block and tags. */
  emit(): FunctionBody {
    const f = this.f;
    f.block().loop();
    f.get(this.groups).op(Op.i32Eqz).brIf(1);

    // Lane descriptors and the longest lane's block count.
    for (let l = 0; l < LANES; l++) {
      f.get(this.desc).i32Load(4 * l).set(this.data[l]!);
      f.get(this.desc).i32Load(16 + 4 * l).set(this.blocks[l]!);
    }
    f.get(this.desc).v128Load(16).set(this.blocksVector);
    f.get(this.blocks[0]).set(this.maxBlocks);
    for (let l = 1; l < LANES; l++) {
      f.get(this.blocks[l]!).get(this.maxBlocks).get(this.blocks[l]!).get(this.maxBlocks).op(Op.i32GtU);
      f.op(Op.select).set(this.maxBlocks);
    }

    // Inner hash from H(key ^ ipad).
    for (let l = 0; l < LANES; l++) f.get(this.desc).i32Load(32 + 4 * l).set(this.keyAddress[l]!);
    this.gather(this.keyAddress, 0, this.state.slice(0, 4), false);
    this.gather(this.keyAddress, 16, this.state.slice(4, 8), false);
    f.i32Const(0).set(this.block);
    f.block().loop();
    f.get(this.block).get(this.maxBlocks).op(Op.i32GeU).brIf(1);
    this.innerBlock();
    f.get(this.block).i32Const(1).op(Op.i32Add).set(this.block);
    f.br(0).op(Op.end).op(Op.end);

    // Outer hash from H(key ^ opad) over the inner digest: one padded block of 96 bytes in all.
    for (let i = 0; i < 8; i++) f.get(this.state[i]!).set(this.w[i]!);
    f.v128Const([0x80000000, 0x80000000, 0x80000000, 0x80000000]).set(this.w[8]!);
    for (let i = 9; i < 15; i++) f.v128Const([0, 0, 0, 0]).set(this.w[i]!);
    f.v128Const([768, 768, 768, 768]).set(this.w[15]!);
    this.schedule();
    this.gather(this.keyAddress, 32, this.state.slice(0, 4), false);
    this.gather(this.keyAddress, 48, this.state.slice(4, 8), false);
    this.copyStateToWork();
    this.rounds();
    for (let i = 0; i < 8; i++) {
      f.get(this.state[i]!).get(this.work[i]!).simd(SimdOp.i32x4Add).set(this.state[i]!);
    }

    for (let l = 0; l < LANES; l++) f.get(this.desc).i32Load(48 + 4 * l).set(this.address[l]!);
    this.scatter(this.state.slice(0, 4), this.address, 0);
    this.scatter(this.state.slice(4, 8), this.address, 16);

    f.get(this.desc).i32Const(DESCRIPTOR_BYTES).op(Op.i32Add).set(this.desc);
    f.get(this.groups).i32Const(1).op(Op.i32Sub).set(this.groups);
    f.br(0).op(Op.end).op(Op.end);
    return f;
  }

  /** Emit one block of every lane. A lane past its last block re-reads that block and keeps its state. */
  innerBlock(): void {
    const f = this.f;
    for (let l = 0; l < LANES; l++) {
      // address = data + 64 * min(block, blocks - 1)
      const last = (): FunctionBody => f.get(this.blocks[l]!).i32Const(1).op(Op.i32Sub);
      f.get(this.data[l]!);
      last();
      f.get(this.block);
      f.get(this.block);
      last();
      f.op(Op.i32GtU).op(Op.select); // block > last ? last : block
      f.i32Const(6).op(Op.i32Shl).op(Op.i32Add).set(this.address[l]!);
    }
    for (let j = 0; j < 4; j++) this.gather(this.address, 16 * j, this.w.slice(4 * j, 4 * j + 4), true);
    this.schedule();

    f.get(this.blocksVector).get(this.block).simd(SimdOp.i32x4Splat).simd(SimdOp.i32x4GtS).set(this.mask);
    this.copyStateToWork();
    this.rounds();
    for (let i = 0; i < 8; i++) {
      f.get(this.state[i]!).get(this.work[i]!).simd(SimdOp.i32x4Add);
      f.get(this.state[i]!).get(this.mask).simd(SimdOp.v128Bitselect).set(this.state[i]!);
    }
  }
}

let cached: WebAssembly.Module | undefined;

/** Generate the kernel module's binary (anew on each call). */
export function hmacKernelWasmBytes(): Uint8Array<ArrayBuffer> {
  const kTable = new Uint8Array(64 * 16);
  const view = new DataView(kTable.buffer);
  for (let t = 0; t < 64; t++) {
    for (let l = 0; l < LANES; l++) view.setUint32(16 * t + 4 * l, SHA256_K[t]!, true);
  }
  const functions = [
    { name: 'hmac_x4', body: new KernelEmitter().emit() },
    { name: 'hmac_x1', body: emitHmacX1() },
  ];
  return encodeModule(functions, 1, [{ offset: K_TABLE_OFFSET, bytes: kTable }]);
}

/** Return the compiled kernel module, generated and compiled once per process. */
export function hmacKernelModule(): WebAssembly.Module {
  cached ??= new WebAssembly.Module(hmacKernelWasmBytes());
  return cached;
}

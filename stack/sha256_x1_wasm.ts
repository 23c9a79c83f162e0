/**
 * Emits `hmac_x1(data, blocks, key, tag)`: one HMAC-SHA256 in scalar
 * WebAssembly, for a message that has no other message to share the four
 * lanes of `hmac_x4` with. It takes the same inputs as one lane of
 * `hmac_x4` (see sha256_x4_wasm.ts): `blocks` padded 64-byte blocks at
 * `data`, the 16 key-state words at `key`, the 32-byte tag written to `tag`.
 *
 * WebAssembly has a rotate instruction and 32-bit locals, so a block costs
 * about 200 to 230 ns of CPU time here against about 300 ns for the
 * JavaScript compression of software_hmac.ts (Node 20, AMD EPYC Zen 4).
 * The rounds are unrolled and the 16-word schedule window stays in locals.
 */

import { SHA256_K } from '../sim/sha256_compress.ts';
import { FunctionBody, I32, Op } from './sha256_wasm_encoder.ts';

class ScalarEmitter {
  readonly f = new FunctionBody([I32, I32, I32, I32]);
  readonly data = 0;
  readonly blocks = 1;
  readonly key = 2;
  readonly tag = 3;
  readonly state = Array.from({ length: 8 }, () => this.f.local(I32));
  readonly work = Array.from({ length: 8 }, () => this.f.local(I32));
  readonly w = Array.from({ length: 16 }, () => this.f.local(I32));
  readonly t1 = this.f.local(I32);

  /** Push x with its bytes reversed: (rotr(x, 8) & 0xff00ff00) | (rotr(x, 24) & 0x00ff00ff). */
  byteSwap(x: number): void {
    const f = this.f;
    f.get(x).i32Const(8).op(Op.i32Rotr).i32Const(0xff00ff00 | 0).op(Op.i32And);
    f.get(x).i32Const(24).op(Op.i32Rotr).i32Const(0x00ff00ff).op(Op.i32And);
    f.op(Op.i32Or);
  }

  /** Push rotr(x, r1) ^ rotr(x, r2) ^ rotr(x, r3), or x >>> r3 for the third term of the small sigmas. */
  sigma(x: number, r1: number, r2: number, r3: number, shift: boolean): void {
    const f = this.f;
    f.get(x).i32Const(r1).op(Op.i32Rotr);
    f.get(x).i32Const(r2).op(Op.i32Rotr).op(Op.i32Xor);
    f.get(x).i32Const(r3).op(shift ? Op.i32ShrU : Op.i32Rotr).op(Op.i32Xor);
  }

  /** Emit 64 rounds on this.work over the block in this.w, then add them into this.state. */
  compress(): void {
    const f = this.f;
    for (let i = 0; i < 8; i++) f.get(this.state[i]!).set(this.work[i]!);
    const w = (i: number): number => this.w[i & 15]!;
    let v = [...this.work];
    for (let t = 0; t < 64; t++) {
      if (t >= 16) {
        // w[t] += sigma1(w[t-2]) + w[t-7] + sigma0(w[t-15]), in place of w[t-16].
        f.get(w(t));
        this.sigma(w(t - 2), 17, 19, 10, true);
        f.op(Op.i32Add).get(w(t - 7)).op(Op.i32Add);
        this.sigma(w(t - 15), 7, 18, 3, true);
        f.op(Op.i32Add).set(w(t));
      }
      const [a, b, c, d, e, ff, g, h] = v as [number, number, number, number, number, number, number, number];

      // t1 = h + Sigma1(e) + Ch(e, f, g) + K[t] + W[t], with Ch = g ^ (e & (f ^ g)).
      f.get(h);
      this.sigma(e, 6, 11, 25, false);
      f.op(Op.i32Add);
      f.get(g).get(e).get(ff).get(g).op(Op.i32Xor).op(Op.i32And).op(Op.i32Xor).op(Op.i32Add);
      f.get(w(t)).op(Op.i32Add).i32Const(SHA256_K[t]! | 0).op(Op.i32Add).tee(this.t1);
      f.get(d).op(Op.i32Add).set(d);

      // New a = t1 + Sigma0(a) + Maj(a, b, c), with Maj = (a & b) | (c & (a | b)).
      f.get(this.t1);
      this.sigma(a, 2, 13, 22, false);
      f.op(Op.i32Add);
      f.get(a).get(b).op(Op.i32And).get(c).get(a).get(b).op(Op.i32Or).op(Op.i32And).op(Op.i32Or);
      f.op(Op.i32Add).set(h);

      // Renamed instead of moved, as in the vector kernel: after 64 rounds each role is back in its first local.
      v = [h, a, b, c, d, e, ff, g];
    }
    for (let i = 0; i < 8; i++) f.get(this.state[i]!).get(this.work[i]!).op(Op.i32Add).set(this.state[i]!);
  }

  emit(): FunctionBody {
    const f = this.f;
    for (let i = 0; i < 8; i++) f.get(this.key).i32Load(4 * i).set(this.state[i]!);

    // Inner hash: `blocks` blocks from `data`, which advances by 64 bytes per block.
    f.block().loop();
    f.get(this.blocks).op(Op.i32Eqz).brIf(1);
    for (let i = 0; i < 16; i++) {
      f.get(this.data).i32Load(4 * i).set(this.w[i]!);
      this.byteSwap(this.w[i]!);
      f.set(this.w[i]!);
    }
    this.compress();
    f.get(this.data).i32Const(64).op(Op.i32Add).set(this.data);
    f.get(this.blocks).i32Const(1).op(Op.i32Sub).set(this.blocks);
    f.br(0).op(Op.end).op(Op.end);

    // Outer hash over the inner digest: one block, 96 bytes in all with the key block.
    for (let i = 0; i < 8; i++) f.get(this.state[i]!).set(this.w[i]!);
    f.i32Const(0x80000000 | 0).set(this.w[8]!);
    for (let i = 9; i < 15; i++) f.i32Const(0).set(this.w[i]!);
    f.i32Const(768).set(this.w[15]!);
    for (let i = 0; i < 8; i++) f.get(this.key).i32Load(32 + 4 * i).set(this.state[i]!);
    this.compress();

    for (let i = 0; i < 8; i++) {
      f.get(this.tag);
      this.byteSwap(this.state[i]!);
      f.i32Store(4 * i);
    }
    return f;
  }
}

/** Emit the body of `hmac_x1`. */
export function emitHmacX1(): FunctionBody {
  return new ScalarEmitter().emit();
}

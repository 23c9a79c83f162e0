/**
 * A small WebAssembly binary encoder with only the sections, instructions
 * and SIMD opcodes that the multi-buffer SHA-256 kernel (sha256_x4_wasm.ts)
 * uses. The kernel is generated from TypeScript when it is first needed, so
 * no binary is checked in. Encodings follow the WebAssembly core
 * specification 2.0, binary format, including its 128-bit SIMD instructions
 * (prefix byte 0xfd followed by the opcode as an unsigned LEB128).
 */

export const I32 = 0x7f;
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof V128;

/** Core opcodes used by the kernel (one byte each). */
export const Op = {
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  select: 0x1b,
  i32Eqz: 0x45,
  i32GeU: 0x4f,
  i32GtU: 0x4b,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i32Rotr: 0x78,
} as const;

/** SIMD opcodes used by the kernel, without their 0xfd prefix. */
export const SimdOp = {
  i32x4Splat: 0x11,
  i32x4GtS: 0x3b,
  v128And: 0x4e,
  v128Xor: 0x51,
  v128Or: 0x50,
  v128Bitselect: 0x52,
  i32x4Shl: 0xab,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
} as const;

const SIMD_PREFIX = 0xfd;
const BLOCK_TYPE_EMPTY = 0x40;

/** Append `value` as an unsigned LEB128. */
function pushU32(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
}

/** Append `value` as a signed LEB128 (the encoding of i32.const immediates). */
function pushS32(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** The body of one function: its locals and its instructions, appended in order. */
export class FunctionBody {
  readonly #code: number[] = [];
  readonly #locals: ValueType[] = [];
  readonly #paramCount: number;

  constructor(readonly params: readonly ValueType[]) {
    this.#paramCount = params.length;
  }

  /** Declare a local and return its index (parameters come first). */
  local(type: ValueType): number {
    this.#locals.push(type);
    return this.#paramCount + this.#locals.length - 1;
  }

  op(code: number): this {
    this.#code.push(code);
    return this;
  }

  simd(code: number): this {
    this.#code.push(SIMD_PREFIX);
    pushU32(this.#code, code);
    return this;
  }

  get(index: number): this {
    this.#code.push(0x20);
    pushU32(this.#code, index);
    return this;
  }

  set(index: number): this {
    this.#code.push(0x21);
    pushU32(this.#code, index);
    return this;
  }

  tee(index: number): this {
    this.#code.push(0x22);
    pushU32(this.#code, index);
    return this;
  }

  i32Const(value: number): this {
    this.#code.push(0x41);
    pushS32(this.#code, value);
    return this;
  }

  /** i32.load with a constant byte offset; the address is on the stack. */
  i32Load(offset: number): this {
    return this.#memory([0x28], 2, offset);
  }

  /** i32.store with a constant byte offset; the address and then the value are on the stack. */
  i32Store(offset: number): this {
    return this.#memory([0x36], 2, offset);
  }

  /** v128.load with a constant byte offset; the address is on the stack. */
  v128Load(offset: number): this {
    return this.#memory([SIMD_PREFIX, 0x00], 4, offset);
  }

  /** v128.store with a constant byte offset; the address and then the value are on the stack. */
  v128Store(offset: number): this {
    return this.#memory([SIMD_PREFIX, 0x0b], 4, offset);
  }

  /** v128.const of four 32-bit lanes, lane 0 first. */
  v128Const(lanes: readonly [number, number, number, number]): this {
    this.#code.push(SIMD_PREFIX, 0x0c);
    for (const lane of lanes) {
      this.#code.push(lane & 0xff, (lane >>> 8) & 0xff, (lane >>> 16) & 0xff, (lane >>> 24) & 0xff);
    }
    return this;
  }

  /** i8x16.shuffle: byte i of the result is byte lanes[i] of the 32-byte concatenation of both operands. */
  shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) {
      throw new RangeError(`shuffle lanes [${lanes.join(', ')}] must be 16 integers in 0..31`);
    }
    this.#code.push(SIMD_PREFIX, 0x0d, ...lanes);
    return this;
  }

  block(): this {
    this.#code.push(0x02, BLOCK_TYPE_EMPTY);
    return this;
  }

  loop(): this {
    this.#code.push(0x03, BLOCK_TYPE_EMPTY);
    return this;
  }

  /** Branch to the enclosing block or loop `depth` levels out (0 is the innermost). */
  br(depth: number): this {
    this.#code.push(Op.br);
    pushU32(this.#code, depth);
    return this;
  }

  brIf(depth: number): this {
    this.#code.push(Op.brIf);
    pushU32(this.#code, depth);
    return this;
  }

  /** Encode the body as the code section stores it: size, local declarations, instructions, end. */
  encode(): number[] {
    const body: number[] = [];
    const runs: [number, ValueType][] = [];
    for (const type of this.#locals) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === type) last[0] += 1;
      else runs.push([1, type]);
    }
    pushU32(body, runs.length);
    for (const [count, type] of runs) {
      pushU32(body, count);
      body.push(type);
    }
    body.push(...this.#code, Op.end);

    const out: number[] = [];
    pushU32(out, body.length);
    out.push(...body);
    return out;
  }

  #memory(opcode: number[], alignLog2: number, offset: number): this {
    this.#code.push(...opcode);
    pushU32(this.#code, alignLog2);
    pushU32(this.#code, offset);
    return this;
  }
}

export interface ExportedFunction {
  name: string;
  body: FunctionBody;
}

/** Bytes that the module copies into its memory at `offset` when it is instantiated. */
export interface DataSegment {
  offset: number;
  bytes: Uint8Array;
}

/**
 * Encode a module with one memory of `memoryPages` 64 KiB pages, exported as
 * "memory", initialized with `data`, and `functions`, each exported under
 * its name. Every function returns nothing.
 */
export function encodeModule(
  functions: readonly ExportedFunction[],
  memoryPages: number,
  data: readonly DataSegment[] = [],
): Uint8Array<ArrayBuffer> {
  const section = (id: number, content: number[]): number[] => {
    const out = [id];
    pushU32(out, content.length);
    return out.concat(content);
  };
  const vector = (items: number[][]): number[] => {
    const out: number[] = [];
    pushU32(out, items.length);
    for (const item of items) out.push(...item);
    return out;
  };
  const name = (text: string): number[] => {
    const bytes = [...new TextEncoder().encode(text)];
    const out: number[] = [];
    pushU32(out, bytes.length);
    return out.concat(bytes);
  };
  const u32 = (value: number): number[] => {
    const out: number[] = [];
    pushU32(out, value);
    return out;
  };
  const s32 = (value: number): number[] => {
    const out: number[] = [];
    pushS32(out, value);
    return out;
  };

  // One function type per function keeps the encoder simple; the kernel has one or two.
  const types = functions.map((f) => [0x60, ...u32(f.body.params.length), ...f.body.params, 0x00]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, // magic "\0asm"
    0x01, 0x00, 0x00, 0x00, // version 1
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, i) => u32(i)))),
    ...section(5, vector([[0x00, ...u32(memoryPages)]])), // limits: minimum only
    ...section(
      7,
      vector([
        ...functions.map((f, i) => [...name(f.name), 0x00, ...u32(i)]),
        [...name('memory'), 0x02, ...u32(0)],
      ]),
    ),
    ...section(10, vector(functions.map((f) => f.body.encode()))),
    // Active segments of memory 0: flags 0, offset as a constant expression, bytes.
    ...section(11, vector(data.map((d) => [0x00, 0x41, ...s32(d.offset), Op.end, ...u32(d.bytes.length), ...d.bytes]))),
  ];
  return new Uint8Array(bytes);
}

/**
 * The model backend: drives the cycle model (TnicKernelCycle) exactly as
 * the Verilator harness (verify/harness/tnic_harness.cpp) drives the RTL,
 * cycle for cycle, so the two report the same results and the same cycles.
 * Change one and the other together.
 *
 * One command at a time: wait for cmd_ready (the accepting edge is edge 0),
 * stream the input words, count edges until res_valid rises, then take the
 * result with one res_ready edge.
 */

import { TnicError } from '../errors.ts';
import {
  OP_CODES,
  STATUS_NAMES,
  type AttestationKernel,
  type KernelRequest,
  type KernelResult,
} from '../kernel_port.ts';
import { checkRequest } from '../tnic_kernel.ts';
import { TnicKernelCycle, type KernelInputs, type KernelParams, DEFAULT_PARAMS } from './tnic_kernel.ts';

const MAX_CYCLES_PER_OP = 50_000_000;
const MASK64 = (1n << 64n) - 1n;

/** xorshift64, the generator of the harness's input stalls. */
export class StallGenerator {
  #state = 1n;
  #percent = 0;

  set(seed: number | bigint, percent: number): void {
    this.#state = BigInt(seed) === 0n ? 1n : BigInt(seed) & MASK64;
    this.#percent = percent;
  }

  /** True when the input stream idles this cycle. */
  stall(): boolean {
    if (this.#percent === 0) return false;
    let x = this.#state;
    x ^= (x << 13n) & MASK64;
    x ^= x >> 7n;
    x ^= (x << 17n) & MASK64;
    this.#state = x;
    return Number(x % 100n) < this.#percent;
  }
}

/** Big-endian words of `bytes`, the last one zero-padded. */
function toWords(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  for (let i = 0; i < bytes.length; i++) words[i >> 2]! |= bytes[i]! << (24 - 8 * (i & 3));
  return words;
}

function tagWords(tag: Uint8Array | undefined): Uint32Array {
  const words = new Uint32Array(8);
  if (tag) words.set(toWords(tag).subarray(0, 8));
  return words;
}

function wordsToBytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(4 * i, w));
  return out;
}

export class CycleKernel implements AttestationKernel {
  readonly backend = 'model';
  readonly kernel: TnicKernelCycle;
  readonly stalls = new StallGenerator();
  /** Clock edges since reset. */
  cycle = 0;
  #inputs: KernelInputs;

  constructor(params: KernelParams = DEFAULT_PARAMS) {
    this.kernel = new TnicKernelCycle(params);
    this.#inputs = {
      cmd_valid: false,
      cmd_op: 0,
      cmd_session: 0,
      cmd_len: 0,
      cmd_device: 0,
      cmd_counter: 0n,
      cmd_tag: new Uint32Array(8),
      in_valid: false,
      in_data: 0,
      res_ready: false,
    };
    this.#resetInputs();
  }

  #resetInputs(): void {
    this.#inputs.cmd_valid = false;
    this.#inputs.in_valid = false;
    this.#inputs.res_ready = false;
  }

  #tick(): void {
    this.kernel.tick(this.#inputs);
    this.cycle++;
  }

  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    requests.forEach(checkRequest);
    return requests.map((r) => this.step(r));
  }

  async setStalls(seed: number, percent: number): Promise<void> {
    this.stalls.set(seed, percent);
  }

  async reset(): Promise<void> {
    // The harness holds rst_n low for 4 edges; the model's reset is immediate.
    this.kernel.reset();
    this.#resetInputs();
  }

  async close(): Promise<void> {}

  /** Run one command to completion. */
  step(req: KernelRequest): KernelResult {
    const inp = this.#inputs;
    const k = this.kernel;
    const data = req.op === 'load-key' ? req.key : req.op === 'attest' || req.op === 'verify' || req.op === 'check' ? req.msg : new Uint8Array(0);

    inp.cmd_valid = true;
    inp.cmd_op = OP_CODES[req.op];
    inp.cmd_session = 'session' in req ? req.session : 0;
    inp.cmd_len = data.length;
    inp.cmd_device = 'device' in req ? req.device : 0;
    inp.cmd_counter = 'counter' in req ? req.counter : 0n;
    inp.cmd_tag = tagWords('tag' in req ? req.tag : undefined);

    for (let waited = 0; ; waited++) {
      const fire = k.cmd_ready;
      this.#tick();
      if (fire) break;
      if (waited > MAX_CYCLES_PER_OP) throw new TnicError('model-hang', 'cmd_ready stayed low in the cycle model');
    }
    inp.cmd_valid = false;

    const words = toWords(data);
    let next = 0;
    let cycles = 0;
    while (!k.res_valid) {
      const offer = next < words.length && !this.stalls.stall();
      inp.in_valid = offer;
      inp.in_data = offer ? words[next]! : 0;
      const inFire = offer && k.in_ready;
      this.#tick();
      cycles++;
      if (inFire) next++;
      if (cycles > MAX_CYCLES_PER_OP) throw new TnicError('model-hang', `no result after ${cycles} cycles`);
    }
    inp.in_valid = false;
    if (next !== words.length) {
      throw new TnicError('model-hang', `kernel consumed ${next} of ${words.length} input words`);
    }

    const result: KernelResult = {
      status: STATUS_NAMES[k.res_status_reg]!,
      tag: wordsToBytes(k.res_tag_reg),
      counter: k.res_counter_reg,
      cycles,
    };

    inp.res_ready = true;
    this.#tick();
    inp.res_ready = false;
    return result;
  }
}

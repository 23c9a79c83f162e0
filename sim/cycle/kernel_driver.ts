/**
 * The model backend: drives the cycle model (TnicKernelCycle) exactly as
 * the Verilator harness (verify/harness/tnic_harness.cpp) drives the RTL,
 * cycle for cycle, so the two report the same results and the same cycles.
 * Change one and the other together.
 *
 * One command at a time: wait for cmd_ready (the accepting edge is edge 0),
 * stream the input beats, count edges until res_valid rises, then take the
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
import { KernelEventRunner, MAX_BATCH_EDGES, batchHangError } from './kernel_events.ts';
import { FNV_OFFSET, foldWords, observe } from './observation.ts';
import { XorShift64, checkStallPercent, requestData, tagWords, toBeats, wordsToBytes } from './stimulus.ts';
import { TnicKernelCycle, idleInputs, type KernelInputs, type KernelParams, DEFAULT_PARAMS } from './tnic_kernel.ts';

const MAX_CYCLES_PER_OP = 50_000_000;
const NO_STALLS: PipeOptions = { seed: 1, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 };

/** Options of a pipelined batch: stalls per channel in percent of cycles. */
export interface PipeOptions {
  seed: number;
  cmdStall: number;
  inStall: number;
  resStall: number;
  /** 0: nothing, 1: observation hash, 2: hash and every observed word of every cycle. */
  trace: 0 | 1 | 2;
  /** Stop after this many edges with `finished` false (a run that must not outlast another). */
  maxEdges?: number;
}

export interface PipeRun {
  results: (KernelResult & { acceptEdge: number })[];
  edges: number;
  hash: number;
  /** trace 2: observed words per cycle. */
  cycles: number[][];
  /** False when maxEdges stopped the run before every result was taken. */
  finished: boolean;
}

export class CycleKernel implements AttestationKernel {
  readonly backend = 'model';
  readonly kernel: TnicKernelCycle;
  readonly rng = new XorShift64();
  #stallPercent = 0;
  /** Clock edges since reset. */
  cycle = 0;
  /**
   * Fast mode. Untraced batches, and single commands without stalls, go to
   * the event-driven runner (kernel_events.ts), which clocks no engine.
   * A single command with input stalls skips only the edges in which
   * nothing but SHA-256 rounds happen (TnicKernelCycle.fastForward).
   * Results and cycle counts equal those of the plain mode; with onEdge set
   * every edge is clocked.
   */
  fast = false;
  /** The fast mode's event-driven runner, made on first use. */
  #events: KernelEventRunner | undefined;
  /** Reason the last command or batch stopped with work in flight, so that the next one needs a reset first. */
  #stopped: string | undefined;
  /** Called after every clock edge, with the inputs of the cycle just clocked (VCD tracing). */
  onEdge: ((kernel: TnicKernelCycle, inputs: KernelInputs) => void) | undefined;
  #inputs: KernelInputs;
  /** 32-bit words per input beat, and the beat driven while in_valid is low. */
  readonly #lanes: number;
  readonly #idleBeat: Uint32Array;

  constructor(params: KernelParams = DEFAULT_PARAMS, options: { fast?: boolean } = {}) {
    this.kernel = new TnicKernelCycle(params);
    this.#lanes = params.dataWidth / 32;
    this.#idleBeat = new Uint32Array(this.#lanes);
    this.fast = options.fast ?? false;
    this.#inputs = { ...idleInputs(params.dataWidth), in_data: this.#idleBeat };
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
    this.onEdge?.(this.kernel, this.#inputs);
  }

  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    // Every request is checked before the first runs, so a bad one loses nothing.
    requests.forEach(checkRequest);
    return requests.map((r) => this.#stepChecked(r));
  }

  async setStalls(seed: number, percent: number): Promise<void> {
    checkStallPercent('input', percent);
    this.rng.seed(seed);
    this.#stallPercent = percent;
  }

  async reset(): Promise<void> {
    // The harness keeps rst_n low for 4 edges, but the model's reset is immediate.
    this.kernel.reset();
    this.#events?.reset();
    this.#resetInputs();
    this.cycle = 0;
    this.#stopped = undefined;
  }

  /** Throw when the last command or batch stopped with work in flight: the model needs reset() first. */
  #checkNotStopped(): void {
    if (this.#stopped !== undefined) {
      throw new TnicError('model-state', `${this.#stopped}; call reset() before the next command`);
    }
  }

  async close(): Promise<void> {}

  #driveCommand(req: KernelRequest): Uint8Array {
    const inp = this.#inputs;
    const data = requestData(req);
    inp.cmd_op = OP_CODES[req.op];
    inp.cmd_session = 'session' in req ? req.session : 0;
    inp.cmd_len = data.length;
    inp.cmd_device = 'device' in req ? req.device : 0;
    inp.cmd_counter = 'counter' in req ? req.counter : 0n;
    inp.cmd_tag = tagWords('tag' in req ? req.tag : undefined);
    return data;
  }

  #readResult(cycles: number): KernelResult {
    const k = this.kernel;
    return {
      status: STATUS_NAMES[k.res_status_reg]!,
      tag: wordsToBytes(k.res_tag_reg),
      counter: k.res_counter_reg,
      cycles,
    };
  }

  /**
   * Run requests back to back, exactly as Harness::run_pipelined does. Each
   * cycle the seeded generator decides, in this order, whether cmd_valid,
   * in_valid and res_ready idle. Beats of accepted commands queue for the
   * input stream. The cycles of a result run from its accepting edge to the
   * edge that raised res_valid for it.
   */
  runPipelined(requests: readonly KernelRequest[], opt: PipeOptions): PipeRun {
    this.#checkNotStopped();
    checkStallPercent('command', opt.cmdStall);
    checkStallPercent('input', opt.inStall);
    checkStallPercent('result', opt.resStall);
    if (this.fast && opt.trace === 0 && opt.maxEdges === undefined && this.onEdge === undefined && this.kernel.quiescent) {
      return this.#runEvents(requests, opt);
    }
    requests.forEach(checkRequest);
    const inp = this.#inputs;
    const k = this.kernel;
    const rng = new XorShift64();
    rng.seed(opt.seed);
    const results: PipeRun['results'] = [];
    const acceptEdge: number[] = [];
    const firstSeen: number[] = [];
    const beats: Uint32Array[] = [];
    const observed: number[] = [];
    const cycles: number[][] = [];
    let beatHead = 0;
    let nextCmd = 0;
    let hash = FNV_OFFSET;
    let c = 0;

    const maxEdges = opt.maxEdges ?? MAX_BATCH_EDGES;
    while (results.length < requests.length) {
      if (c >= maxEdges) {
        if (opt.maxEdges !== undefined) {
          this.#stopped = `the last batch stopped at maxEdges ${opt.maxEdges} with commands in flight`;
          return { results, edges: c, hash, cycles, finished: false };
        }
        this.#stopped = `the last batch hung after ${c} cycles`;
        throw batchHangError(c);
      }
      const cmdIdle = rng.draw(opt.cmdStall);
      const inIdle = rng.draw(opt.inStall);
      const resIdle = rng.draw(opt.resStall);

      const data = nextCmd < requests.length ? this.#driveCommand(requests[nextCmd]!) : undefined;
      inp.cmd_valid = data !== undefined && !cmdIdle;
      const haveBeat = beatHead < beats.length;
      inp.in_valid = haveBeat && !inIdle;
      inp.in_data = haveBeat ? beats[beatHead]! : this.#idleBeat;
      inp.res_ready = !resIdle;

      if (opt.trace > 0) {
        observe(k, inp, observed);
        hash = foldWords(hash, observed);
        if (opt.trace > 1) cycles.push(observed.slice());
      }
      const cmdFire = inp.cmd_valid && k.cmd_ready;
      const inFire = inp.in_valid && k.in_ready;
      const resFire = k.res_valid && inp.res_ready;
      const next = results.length;
      if (k.res_valid && firstSeen[next] === undefined) firstSeen[next] = c;
      if (resFire) results.push({ ...this.#readResult(firstSeen[next]! - acceptEdge[next]!), acceptEdge: acceptEdge[next]! });
      if (cmdFire) {
        acceptEdge[nextCmd] = c + 1;
        for (const beat of toBeats(data!, this.#lanes)) beats.push(beat);
        nextCmd++;
      }
      if (inFire) beatHead++;
      this.#tick();
      c++;
    }
    inp.cmd_valid = false;
    inp.in_valid = false;
    inp.res_ready = false;
    return { results, edges: c, hash, cycles, finished: true };
  }

  #runEvents(requests: readonly KernelRequest[], opt: PipeOptions): PipeRun {
    const events = (this.#events ??= new KernelEventRunner(this.kernel));
    try {
      return events.run(requests, opt);
    } catch (error) {
      // The engines' work in flight lives only in the runner, which reset() clears.
      if (error instanceof TnicError && error.code === 'model-hang') this.#stopped = `the last batch hung after ${events.lastEdges} cycles`;
      throw error;
    } finally {
      this.cycle += events.lastEdges;
    }
  }

  /** Run one command to completion. */
  step(req: KernelRequest): KernelResult {
    checkRequest(req);
    return this.#stepChecked(req);
  }

  #stepChecked(req: KernelRequest): KernelResult {
    this.#checkNotStopped();
    try {
      return this.#step(req);
    } catch (error) {
      if (error instanceof TnicError && error.code === 'model-hang') this.#stopped = `the last command hung: ${error.message}`;
      throw error;
    }
  }

  #step(req: KernelRequest): KernelResult {
    if (this.fast && this.#stallPercent === 0 && this.onEdge === undefined && this.kernel.quiescent) {
      // Without stalls, one command alone is a batch of one: the same edges, the same result.
      const { status, tag, counter, cycles } = this.#runEvents([req], NO_STALLS).results[0]!;
      return { status, tag, counter, cycles };
    }
    const inp = this.#inputs;
    const k = this.kernel;
    const data = this.#driveCommand(req);
    inp.cmd_valid = true;

    for (let waited = 0; ; waited++) {
      const fire = k.cmd_ready;
      this.#tick();
      if (fire) break;
      if (waited > MAX_CYCLES_PER_OP) throw new TnicError('model-hang', 'cmd_ready stayed low in the cycle model');
    }
    inp.cmd_valid = false;

    const beats = toBeats(data, this.#lanes);
    let next = 0;
    let cycles = 0;
    while (!k.res_valid) {
      if (this.fast && next === beats.length && this.onEdge === undefined) {
        const skipped = k.fastForward(MAX_CYCLES_PER_OP - cycles);
        cycles += skipped;
        this.cycle += skipped;
        if (skipped > 0) continue;
      }
      const offer = next < beats.length && !this.rng.draw(this.#stallPercent);
      inp.in_valid = offer;
      inp.in_data = offer ? beats[next]! : this.#idleBeat;
      const inFire = offer && k.in_ready;
      this.#tick();
      cycles++;
      if (inFire) next++;
      if (cycles > MAX_CYCLES_PER_OP) throw new TnicError('model-hang', `no result after ${cycles} cycles`);
    }
    inp.in_valid = false;
    if (next !== beats.length) {
      throw new TnicError('model-hang', `kernel consumed ${next} of ${beats.length} input beats`);
    }

    const result = this.#readResult(cycles);

    inp.res_ready = true;
    this.#tick();
    inp.res_ready = false;
    return result;
  }
}

/**
 * Kernel benchmark: sustained cycles per byte for back-to-back messages from
 * mixed sessions, latency of a 64-byte ATTEST, RTL size, and the speed of
 * the cycle model against Verilator on the same stimulus in one run. Cycle
 * counts are exact (simulated clock edges); speeds are wall-clock on the
 * machine that runs it.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CycleKernel, type PipeRun } from '../sim/cycle/kernel_driver.ts';
import { TnicError } from '../sim/errors.ts';
import type { KernelRequest } from '../sim/kernel_port.ts';
import { Prng } from '../sim/prng.ts';
import { REPO_ROOT } from '../verify/build_rtl.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';
import { countRtlLines } from '../verify/rtl_lines.ts';

/** The published prototype's attestation kernel (Alveo U280, HLS HMAC-SHA384). */
export const PROTOTYPE = {
  cyclesPerByte: 3.1,
  latency64Cycles: 400 * (Math.ceil((64 + 145) / 128) + 2) + 14,
  lut: 34_138,
  ff: 56_914,
  bram: 81,
  rtlLines: 2_114,
};

export interface SizePoint {
  bytes: number;
  messages: number;
  /** Steady state: edges between the first and last accepted command per byte in between. */
  cyclesPerByte: number;
  /** Whole batch including pipeline fill and drain. */
  cyclesPerByteWithDrain: number;
}

export interface KernelBench {
  engines: number;
  sessions: number;
  cyclesPerByte: SizePoint[];
  latency64Cycles: number;
  rtlLines: number;
  lut: number | null;
  ff: number | null;
  bram: number | null;
  /** The model's fast mode (the event-driven batch runner), cycle-exact against the RTL on every batch. */
  modelCyclesPerSecond: number;
  verilatorCyclesPerSecond: number;
  modelToVerilatorRatio: number;
  /** The model clocked one edge at a time, as lockstep co-simulation runs it (untraced). */
  lockstepModelCyclesPerSecond: number;
  lockstepToVerilatorRatio: number;
  simulatedCycles: number;
  prototype: typeof PROTOTYPE;
  machine: string;
}

function messages(rng: Prng, bytes: number, count: number, sessions: number): KernelRequest[] {
  return Array.from({ length: count }, () => ({
    op: 'attest' as const,
    session: rng.int(0, sessions - 1),
    msg: rng.bytes(bytes),
  }));
}

export interface KernelBenchOptions {
  sizes?: number[];
  /** Messages per size; the default keeps a run under a minute here. */
  messages?: number;
  log?: (line: string) => void;
}

export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<KernelBench> {
  const log = opts.log ?? (() => {});
  const sizes = opts.sizes ?? [64, 256, 1024, 4096];
  const sessions = 8;
  const rng = new Prng(1);
  const keys: KernelRequest[] = Array.from({ length: sessions }, (_, s) => ({
    op: 'load-key' as const,
    session: s,
    key: rng.bytes(32),
  }));

  const model = new CycleKernel(undefined, { fast: true });
  const lockstep = new CycleKernel();
  warmUp(keys, sizes, sessions);
  const rtl = await RtlKernel.start({ log });
  let modelSeconds = 0;
  let lockstepSeconds = 0;
  let rtlSeconds = 0;
  let simulated = 0;
  const points: SizePoint[] = [];
  try {
    for (const bytes of sizes) {
      const count = opts.messages ?? Math.max(40, Math.min(1000, Math.floor(800_000 / bytes)));
      const batch = messages(rng, bytes, count, sessions);
      await Promise.all([model.reset(), lockstep.reset(), rtl.reset()]);
      await Promise.all([model.run(keys), lockstep.run(keys), rtl.run(keys)]);
      const opt = { seed: 1, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 as const };

      const t0 = performance.now();
      const r = await rtl.runPipelined(batch, opt);
      const t1 = performance.now();
      const m = model.runPipelined(batch, opt);
      const t2 = performance.now();
      const l = lockstep.runPipelined(batch, opt);
      const t3 = performance.now();
      rtlSeconds += (t1 - t0) / 1000;
      modelSeconds += (t2 - t1) / 1000;
      lockstepSeconds += (t3 - t2) / 1000;
      simulated += r.edges;
      checkSameRun(`${bytes}-byte batch, fast model`, m, r);
      checkSameRun(`${bytes}-byte batch, lockstep model`, l, r);

      const first = r.results[0]!.acceptEdge;
      const last = r.results[count - 1]!.acceptEdge;
      const point = {
        bytes,
        messages: count,
        cyclesPerByte: (last - first) / ((count - 1) * bytes),
        cyclesPerByteWithDrain: r.edges / (count * bytes),
      };
      points.push(point);
      log(`  ${bytes} B x ${count}: ${point.cyclesPerByte.toFixed(3)} cycles/byte sustained`);
    }

    await rtl.reset();
    const [, latency] = await rtl.run([keys[0]!, { op: 'attest', session: 0, msg: new Uint8Array(64) }]);
    const synth = readSynth();
    return {
      engines: model.kernel.params.nEngines,
      sessions: model.kernel.params.nSessions,
      cyclesPerByte: points,
      latency64Cycles: latency!.cycles,
      rtlLines: countRtlLines().total,
      lut: synth?.lut ?? null,
      ff: synth?.ff ?? null,
      bram: synth?.bram ?? null,
      modelCyclesPerSecond: simulated / modelSeconds,
      verilatorCyclesPerSecond: simulated / rtlSeconds,
      modelToVerilatorRatio: rtlSeconds / modelSeconds,
      lockstepModelCyclesPerSecond: simulated / lockstepSeconds,
      lockstepToVerilatorRatio: rtlSeconds / lockstepSeconds,
      simulatedCycles: simulated,
      prototype: PROTOTYPE,
      machine: `${process.platform} ${process.arch}, Node ${process.version}`,
    };
  } finally {
    await rtl.close();
  }
}

/**
 * Run every size once on throwaway kernels, untimed, so that the timed runs
 * measure compiled JavaScript rather than the JIT's first passes; Verilator's
 * model is compiled ahead of time.
 */
function warmUp(keys: KernelRequest[], sizes: number[], sessions: number): void {
  const rng = new Prng(2);
  const opt = { seed: 1, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 as const };
  // The fast mode needs more messages before the JIT has compiled its loops.
  for (const [kernel, count] of [[new CycleKernel(undefined, { fast: true }), 400], [new CycleKernel(), 40]] as const) {
    kernel.runPipelined(keys, opt);
    for (const bytes of sizes) kernel.runPipelined(messages(rng, bytes, count, sessions), opt);
  }
}

/** The model's batch must equal the RTL's in edges and in every field of every result. */
function checkSameRun(label: string, model: PipeRun, rtl: PipeRun): void {
  if (model.edges !== rtl.edges) {
    throw new TnicError('cosim-mismatch', `${label}: model ${model.edges} edges, rtl ${rtl.edges}`);
  }
  rtl.results.forEach((r, i) => {
    const m = model.results[i]!;
    const same =
      m.status === r.status &&
      m.counter === r.counter &&
      m.cycles === r.cycles &&
      m.acceptEdge === r.acceptEdge &&
      Buffer.from(m.tag).equals(Buffer.from(r.tag));
    if (!same) {
      throw new TnicError('cosim-mismatch', `${label}: result ${i} differs: model ${describeResult(m)}, rtl ${describeResult(r)}`);
    }
  });
}

function describeResult(r: PipeRun['results'][number]): string {
  return `${r.status} counter ${r.counter} cycles ${r.cycles} accepted at edge ${r.acceptEdge} tag ${Buffer.from(r.tag).toString('hex')}`;
}

/** Area of the default configuration, if `tnic hw synth --json bench/results/synth.json` has run. */
function readSynth(): { lut: number; ff: number; bram: number } | undefined {
  try {
    const data = JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'results', 'synth.json'), 'utf8')) as {
      configurations?: { config?: { sessions?: number; flatten?: boolean }; lut?: number; ff?: number; bramRamb36?: number }[];
    };
    // The default configuration: 16 sessions, hierarchy kept.
    const d = data.configurations?.find((c) => c.config?.sessions === 16 && !c.config.flatten);
    if (typeof d?.lut !== 'number') return undefined;
    return { lut: d.lut, ff: d.ff ?? 0, bram: d.bramRamb36 ?? 0 };
  } catch {
    return undefined;
  }
}

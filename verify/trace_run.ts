/**
 * Writes matching VCD traces of the RTL (Verilator --trace build) and the
 * cycle model for the same pipelined batch, then compares them.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { CycleKernel, type PipeOptions } from '../sim/cycle/kernel_driver.ts';
import { VcdWriter } from '../sim/cycle/vcd_writer.ts';
import type { KernelRequest } from '../sim/kernel_port.ts';
import type { BuildOptions } from './build_rtl.ts';
import { RtlKernel } from './rtl_bridge.ts';
import { diffVcd, type WaveDiff } from './vcd_diff.ts';

export interface TraceResult {
  rtlVcd: string;
  modelVcd: string;
  edges: number;
  diff: WaveDiff;
}

export async function traceBoth(
  dir: string,
  requests: readonly KernelRequest[],
  opt: PipeOptions,
  build: BuildOptions = {},
): Promise<TraceResult> {
  mkdirSync(dir, { recursive: true });
  const rtlVcd = join(dir, 'rtl.vcd');
  const modelVcd = join(dir, 'model.vcd');
  const rtl = await RtlKernel.start({ ...build, trace: true });
  const model = new CycleKernel();
  try {
    await Promise.all([rtl.reset(), model.reset()]);
    await rtl.trace(rtlVcd);
    const writer = new VcdWriter(modelVcd, model.kernel);
    model.onEdge = (k, i) => writer.edge(k, i);
    const r = await rtl.runPipelined(requests, opt);
    model.runPipelined(requests, opt);
    await rtl.trace('-');
    model.onEdge = undefined;
    await writer.close();
    return { rtlVcd, modelVcd, edges: r.edges, diff: diffVcd(rtlVcd, modelVcd) };
  } finally {
    await rtl.close();
  }
}

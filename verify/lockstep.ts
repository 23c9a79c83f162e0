/**
 * Lockstep co-simulation: the cycle model and the Verilator RTL run the same
 * seeded transactions back to back, with seeded valid/ready stalls on the
 * command, input and result channels, and every cycle's interface signals
 * and internal state (sim/cycle/observation.ts) are folded into a hash on
 * both sides. A batch whose hash, edge count or any result differs is run
 * again from reset with a full per-cycle dump, and the first differing
 * cycle and signal is reported with both values and the seed.
 */

import { CycleKernel, type PipeOptions, type PipeRun } from '../sim/cycle/kernel_driver.ts';
import { observationName } from '../sim/cycle/observation.ts';
import type { KernelRequest } from '../sim/kernel_port.ts';
import { describeRequest, generateTransactions, type Transaction } from './cosim.ts';
import type { RtlKernel } from './rtl_bridge.ts';

export interface LockstepOptions {
  seed: number;
  count: number;
  /** Stall percentages; by default each channel idles in 20% of cycles. */
  cmdStall?: number;
  inStall?: number;
  resStall?: number;
  batch?: number;
  progress?: (done: number, total: number, cycles: number) => void;
}

export interface LockstepReport {
  seed: number;
  transactions: number;
  cycles: number;
  modelSeconds: number;
  rtlSeconds: number;
  /** One line naming the cycle, signal, both values and the seed; absent when equal. */
  mismatch?: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function batchOptions(o: LockstepOptions, index: number, trace: 0 | 1 | 2): PipeOptions {
  return {
    // A different stall pattern per batch, fixed by the seed.
    seed: (o.seed * 1_000_003 + index + 1) >>> 0,
    cmdStall: o.cmdStall ?? 20,
    inStall: o.inStall ?? 20,
    resStall: o.resStall ?? 20,
    trace,
  };
}

function compareResults(model: PipeRun, rtl: PipeRun, batch: Transaction[], offset: number): string | undefined {
  for (let i = 0; i < batch.length; i++) {
    const m = model.results[i]!;
    const r = rtl.results[i]!;
    const fields: [string, string, string][] = [
      ['status', m.status, r.status],
      ['tag', hex(m.tag), hex(r.tag)],
      ['counter', String(m.counter), String(r.counter)],
      ['cycles', String(m.cycles), String(r.cycles)],
      ['accept edge', String(m.acceptEdge), String(r.acceptEdge)],
    ];
    for (const [field, a, b] of fields) {
      if (a !== b) return `transaction ${offset + i} (${describeRequest(batch[i]!.request)}): ${field} model=${a} rtl=${b}`;
    }
    const expect = batch[i]!.expect;
    if (expect.status !== r.status) {
      return `transaction ${offset + i} (${describeRequest(batch[i]!.request)}): status ${r.status}, reference expects ${expect.status}`;
    }
    if (expect.tag && hex(expect.tag) !== hex(r.tag)) {
      return `transaction ${offset + i} (${describeRequest(batch[i]!.request)}): alpha differs from the reference HMAC`;
    }
  }
  return undefined;
}

/** Re-run batches 0..failing from reset, the failing one with a per-cycle dump, and find the first difference. */
async function locate(
  model: CycleKernel,
  rtl: RtlKernel,
  batches: KernelRequest[][],
  failing: number,
  o: LockstepOptions,
): Promise<string> {
  await Promise.all([model.reset(), rtl.reset()]);
  let base = 0;
  for (let b = 0; b < failing; b++) {
    const run = model.runPipelined(batches[b]!, batchOptions(o, b, 0));
    await rtl.runPipelined(batches[b]!, batchOptions(o, b, 0));
    base += run.edges;
  }
  const opt = batchOptions(o, failing, 2);
  const r = await rtl.runPipelined(batches[failing]!, opt);
  const m = model.runPipelined(batches[failing]!, { ...opt, maxEdges: r.edges + 1 });
  const n = Math.max(m.cycles.length, r.cycles.length);
  for (let c = 0; c < n; c++) {
    const mw = m.cycles[c];
    const rw = r.cycles[c];
    if (!mw || !rw) return `cycle ${base + c}: one side finished the batch first (model ${m.edges} edges, rtl ${r.edges})`;
    for (let w = 0; w < Math.max(mw.length, rw.length); w++) {
      if (mw[w] !== rw[w]) {
        const show = (v: number | undefined): string => (v === undefined ? 'absent' : `0x${v.toString(16)}`);
        return `cycle ${base + c} (batch ${failing}, edge ${c}): ${observationName(w)} model=${show(mw[w])} rtl=${show(rw[w])}`;
      }
    }
  }
  return `batch ${failing}: results differ but every observed cycle is equal`;
}

export async function lockstep(model: CycleKernel, rtl: RtlKernel, o: LockstepOptions): Promise<LockstepReport> {
  const txs = generateTransactions(o.seed, o.count);
  const size = o.batch ?? 1000;
  const groups: Transaction[][] = [];
  for (let i = 0; i < txs.length; i += size) groups.push(txs.slice(i, i + size));
  const batches = groups.map((g) => g.map((t) => t.request));
  const report: LockstepReport = { seed: o.seed, transactions: txs.length, cycles: 0, modelSeconds: 0, rtlSeconds: 0 };

  await Promise.all([model.reset(), rtl.reset()]);
  let done = 0;
  for (let b = 0; b < batches.length; b++) {
    const opt = batchOptions(o, b, 1);
    const t0 = performance.now();
    const r = await rtl.runPipelined(batches[b]!, opt);
    const t1 = performance.now();
    // The RTL runs first so a model that stops making progress is cut off one edge later.
    const m = model.runPipelined(batches[b]!, { ...opt, maxEdges: r.edges + 1 });
    const t2 = performance.now();
    report.rtlSeconds += (t1 - t0) / 1000;
    report.modelSeconds += (t2 - t1) / 1000;

    const differs =
      !m.finished || m.hash !== r.hash || m.edges !== r.edges
        ? 'observation'
        : compareResults(m, r, groups[b]!, done);
    if (differs) {
      const where = differs === 'observation' ? await locate(model, rtl, batches, b, o) : differs;
      report.mismatch = `${where}; replay with --seed ${o.seed}`;
      return report;
    }
    report.cycles += m.edges;
    done += batches[b]!.length;
    o.progress?.(done, txs.length, report.cycles);
  }
  return report;
}

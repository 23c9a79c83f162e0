import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KernelRequest, KernelResult } from '../sim/kernel_port.ts';
import { testSeed } from './seed.ts';
import { CycleKernel } from '../sim/cycle/kernel_driver.ts';
import { TnicKernelModel } from '../sim/tnic_kernel.ts';
import { cosimulate, formatMismatch, generateTransactions } from '../verify/cosim.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';

/** A model whose result `index` has one tag bit flipped: the co-simulation must notice. */
class CorruptedModel extends CycleKernel {
  constructor(private readonly index: number) {
    super();
  }
  #seen = 0;
  override async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    const results = await super.run(requests);
    results.forEach((r) => {
      if (this.#seen++ === this.index) r.tag[0]! ^= 1;
    });
    return results;
  }
}

describe('random co-simulation', () => {
  let rtl: RtlKernel;
  beforeAll(async () => {
    rtl = await RtlKernel.start();
  });
  afterAll(async () => {
    await rtl.close();
  });

  it('model and RTL agree on 3000 random transactions', async () => {
    const seed = testSeed(expect.getState().currentTestName ?? 'cosim');
    const report = await cosimulate(new CycleKernel(), rtl, { seed, count: 3000 });
    expect(report.mismatch ? formatMismatch(report.mismatch, seed) : 'none', `seed ${seed}`).toBe('none');
    expect(report.transactions).toBeGreaterThan(3000);
  });

  it('agree cycle for cycle with random input stalls', async () => {
    const seed = testSeed(expect.getState().currentTestName ?? 'cosim');
    const model = new CycleKernel();
    await Promise.all([model.setStalls(seed, 30), rtl.setStalls(seed, 30)]);
    try {
      const report = await cosimulate(model, rtl, { seed, count: 500 });
      expect(report.mismatch ? formatMismatch(report.mismatch, seed) : 'none', `seed ${seed}`).toBe('none');
    } finally {
      await rtl.setStalls(1, 0);
    }
  });

  it('reports the first corrupted result with index, field and seed', async () => {
    const seed = 7;
    const report = await cosimulate(new CorruptedModel(100), rtl, { seed, count: 300 });
    expect(report.mismatch?.index).toBe(100);
    expect(report.mismatch?.field).toBe('tag');
    expect(formatMismatch(report.mismatch!, seed)).toContain('--seed 7');
  });

  it('reference model matches the cycle model and its formulas', async () => {
    const seed = testSeed(expect.getState().currentTestName ?? 'cosim');
    const report = await cosimulate(new TnicKernelModel(), new CycleKernel(), { seed, count: 1500 });
    expect(report.mismatch ? formatMismatch(report.mismatch, seed) : 'none', `seed ${seed}`).toBe('none');
  });

  it('fast mode lands on the same results and cycles', async () => {
    const seed = testSeed(expect.getState().currentTestName ?? 'cosim');
    const plain = new CycleKernel();
    const fast = new CycleKernel(undefined, { fast: true });
    await Promise.all([plain.setStalls(seed, 20), fast.setStalls(seed, 20)]);
    const report = await cosimulate(plain, fast, { seed, count: 1500 });
    expect(report.mismatch ? formatMismatch(report.mismatch, seed) : 'none', `seed ${seed}`).toBe('none');
    expect(fast.cycle, 'edges since reset').toBe(plain.cycle);
  });

  it('generates the same stream from the same seed', () => {
    const a = generateTransactions(99, 200).map((t) => JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    const b = generateTransactions(99, 200).map((t) => JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    expect(a).toEqual(b);
  });
});


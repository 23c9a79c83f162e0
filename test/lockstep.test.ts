import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CycleKernel } from '../sim/cycle/kernel_driver.ts';
import { lockstep } from '../verify/lockstep.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';
import { testSeed } from './seed.ts';

/** A cycle model that corrupts fe_words_left after its `at`-th edge since reset. */
function corruptedModel(at: number): CycleKernel {
  const model = new CycleKernel();
  const k = model.kernel;
  const tick = k.tick.bind(k);
  const reset = k.reset.bind(k);
  let edges = 0;
  k.tick = (inputs) => {
    tick(inputs);
    if (++edges === at) k.fe_words_left_reg ^= 0x40;
  };
  k.reset = () => {
    reset();
    edges = 0;
  };
  return model;
}

describe('lockstep co-simulation', () => {
  let rtl: RtlKernel;
  beforeAll(async () => {
    rtl = await RtlKernel.start();
  });
  afterAll(async () => {
    await rtl.close();
  });

  it('model and RTL agree on every cycle with stalls', async () => {
    const seed = testSeed('lockstep');
    const report = await lockstep(new CycleKernel(), rtl, { seed, count: 1500, batch: 400 });
    expect(report.mismatch, `seed ${seed}`).toBeUndefined();
    expect(report.cycles).toBeGreaterThan(1500 * 100);
  });

  it('agree without stalls, fully back to back', async () => {
    const seed = testSeed('lockstep no stalls');
    const report = await lockstep(new CycleKernel(), rtl, {
      seed,
      count: 800,
      cmdStall: 0,
      inStall: 0,
      resStall: 0,
    });
    expect(report.mismatch, `seed ${seed}`).toBeUndefined();
  });

  it('reports the first differing cycle and signal', async () => {
    const report = await lockstep(corruptedModel(5000), rtl, { seed: 3, count: 600, batch: 200 });
    expect(report.mismatch).toMatch(/^cycle 5000 /);
    expect(report.mismatch).toContain('fe_words_left');
    expect(report.mismatch).toContain('--seed 3');
  });
});

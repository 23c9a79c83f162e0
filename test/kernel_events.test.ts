// Checks the model's fast mode (sim/cycle/kernel_events.ts) against the model
// clocked edge by edge and against the Verilator RTL. Compared: every result
// (status, tag, counter, cycles, accepting edge), the edge count of every
// batch, and the observed state the cycle model is left in afterwards.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CycleKernel, type PipeOptions, type PipeRun } from '../sim/cycle/kernel_driver.ts';
import { observe } from '../sim/cycle/observation.ts';
import { DEFAULT_PARAMS, idleInputs, type KernelParams } from '../sim/cycle/tnic_kernel.ts';
import type { KernelRequest } from '../sim/kernel_port.ts';
import { Prng } from '../sim/prng.ts';
import { cosimulate, describeRequest, formatMismatch, generateTransactions } from '../verify/cosim.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';
import { testSeed } from './seed.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Find the first difference between two runs of `batch` and describe it in one line (undefined when equal). */
function firstDifference(batch: readonly KernelRequest[], a: PipeRun, b: PipeRun, names: [string, string]): string | undefined {
  for (let i = 0; i < batch.length; i++) {
    const x = a.results[i];
    const y = b.results[i];
    if (x === undefined || y === undefined) return `result ${i}: missing in ${x === undefined ? names[0] : names[1]}`;
    const fields: [string, string, string][] = [
      ['status', x.status, y.status],
      ['tag', hex(x.tag), hex(y.tag)],
      ['counter', String(x.counter), String(y.counter)],
      ['cycles', String(x.cycles), String(y.cycles)],
      ['accept edge', String(x.acceptEdge), String(y.acceptEdge)],
    ];
    for (const [field, u, v] of fields) {
      if (u !== v) return `result ${i} (${describeRequest(batch[i]!)}): ${field} ${names[0]}=${u} ${names[1]}=${v}`;
    }
  }
  if (a.edges !== b.edges) return `edges ${names[0]}=${a.edges} ${names[1]}=${b.edges}`;
  return undefined;
}

/** Return what observe() reports with every input idle: the registers that lockstep co-simulation compares. */
function observedState(model: CycleKernel, params: KernelParams): string {
  return observe(model.kernel, idleInputs(params.dataWidth), []).join(',');
}

/**
 * Run `batches` on a fast and an edge-by-edge model, both from reset. Returns
 * the first difference in results, edges or the state after a batch, or undefined.
 */
function compareModes(params: KernelParams, batches: KernelRequest[][], options: (b: number) => PipeOptions): string | undefined {
  const plain = new CycleKernel(params);
  const fast = new CycleKernel(params, { fast: true });
  for (let b = 0; b < batches.length; b++) {
    const opt = options(b);
    const p = plain.runPipelined(batches[b]!, opt);
    const f = fast.runPipelined(batches[b]!, opt);
    const diff = firstDifference(batches[b]!, f, p, ['fast', 'edge-by-edge']);
    if (diff !== undefined) return `batch ${b}: ${diff}`;
    const [sf, sp] = [observedState(fast, params), observedState(plain, params)];
    if (sf !== sp) return `batch ${b}: observed state after the batch differs:\n  fast ${sf}\n  edge-by-edge ${sp}`;
  }
  if (fast.cycle !== plain.cycle) return `edges since reset: fast ${fast.cycle}, edge-by-edge ${plain.cycle}`;
  return undefined;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

describe('fast mode for batches', () => {
  const stallSets = [
    { cmdStall: 0, inStall: 0, resStall: 0 },
    { cmdStall: 20, inStall: 20, resStall: 20 },
    { cmdStall: 5, inStall: 60, resStall: 40 },
  ];

  for (const dataWidth of [32, 64, 128]) {
    it(`matches edge by edge at ${dataWidth} bits`, () => {
      const seed = testSeed(`kernel events ${dataWidth}`);
      const params = { ...DEFAULT_PARAMS, dataWidth };
      // Key loads, SET_ID, rejected second keys, unknown sessions, every VERIFY fault, up to 9 KiB.
      const batches = chunks(generateTransactions(seed, 450).map((t) => t.request), 150);
      for (const stalls of stallSets) {
        const diff = compareModes(params, batches, (b) => ({ seed: seed + b, ...stalls, trace: 0 }));
        expect(diff, `seed ${seed}, stalls ${JSON.stringify(stalls)}`).toBeUndefined();
      }
    });
  }

  it('matches at padding boundaries and LOCK', () => {
    const seed = testSeed('kernel events edges');
    const rng = new Prng(seed);
    const key: KernelRequest = { op: 'load-key', session: 0, key: rng.bytes(32) };
    const lengths = [0, 1, 3, 4, 47, 48, 55, 56, 63, 64, 119, 120, 8191, 8192, 8193, 65535];
    const attests: KernelRequest[] = lengths.map((n) => ({ op: 'attest', session: 0, msg: rng.bytes(n) }));
    const batches: KernelRequest[][] = [
      [{ op: 'set-id', device: 7 }, key, ...attests],
      [
        // Session 16 is past the 16-entry keystore, 0x10000 masks to session 0, and the CHECK has 0 bytes.
        { op: 'attest', session: 16, msg: rng.bytes(40) },
        { op: 'attest', session: 0x10000, msg: rng.bytes(40) },
        { op: 'check', session: 0, device: 3, counter: 5n, tag: rng.bytes(32), msg: new Uint8Array(0) },
        { op: 'lock' },
        { op: 'load-key', session: 1, key: rng.bytes(100) },
        { op: 'set-id', device: 9 },
        { op: 'attest', session: 0, msg: rng.bytes(70) },
      ],
    ];
    for (const dataWidth of [32, 128]) {
      const params = { ...DEFAULT_PARAMS, dataWidth };
      for (const stall of [0, 30]) {
        const diff = compareModes(params, batches, (b) => ({ seed: seed + b, cmdStall: stall, inStall: stall, resStall: stall, trace: 0 }));
        expect(diff, `seed ${seed}, ${dataWidth}-bit input, stalls ${stall}%`).toBeUndefined();
      }
    }
  });

  it('leaves the model ready for step()', async () => {
    const seed = testSeed('kernel events then step');
    const [batch, after] = [generateTransactions(seed, 120).map((t) => t.request), generateTransactions(seed + 1, 40).map((t) => t.request)];
    const plain = new CycleKernel();
    const fast = new CycleKernel(undefined, { fast: true });
    const opt: PipeOptions = { seed, cmdStall: 10, inStall: 10, resStall: 10, trace: 0 };
    plain.runPipelined(batch, opt);
    fast.runPipelined(batch, opt);
    // The second stream's keys are already loaded, so they are rejected on both; its MAC commands use the first's keys.
    const [p, f] = [await plain.run(after), await fast.run(after)];
    const show = (r: typeof p): string[] => r.map((x) => `${x.status} ${x.counter} ${x.cycles} ${hex(x.tag)}`);
    expect(show(f), `seed ${seed}`).toEqual(show(p));
    expect(fast.cycle, `seed ${seed}: edges since reset`).toBe(plain.cycle);
  });

  it('runs unstalled single commands', async () => {
    const seed = testSeed('kernel events single commands');
    const plain = new CycleKernel();
    const fast = new CycleKernel(undefined, { fast: true });
    const report = await cosimulate(plain, fast, { seed, count: 800 });
    expect(report.mismatch ? formatMismatch(report.mismatch, seed) : 'none', `seed ${seed}`).toBe('none');
    expect(fast.cycle, `seed ${seed}: edges since reset`).toBe(plain.cycle);
    expect(observedState(fast, DEFAULT_PARAMS), `seed ${seed}: observed state at the end`).toBe(observedState(plain, DEFAULT_PARAMS));
  });

  it('matches with 31 and 64 engines', () => {
    const seed = testSeed('kernel events many engines');
    const batches = chunks(generateTransactions(seed, 200).map((t) => t.request), 100);
    for (const nEngines of [31, 64]) {
      const diff = compareModes({ ...DEFAULT_PARAMS, nEngines }, batches, (b) => ({ seed: seed + b, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 }));
      expect(diff, `seed ${seed}, ${nEngines} engines`).toBeUndefined();
    }
  });

  it('rejects stalls of 100%', async () => {
    for (const fast of [false, true]) {
      const model = new CycleKernel(undefined, { fast });
      const batch: KernelRequest[] = [{ op: 'set-id', device: 1 }];
      expect(() => model.runPipelined(batch, { seed: 1, cmdStall: 0, inStall: 100, resStall: 0, trace: 0 }), `fast ${fast}`).toThrow(
        /input stall 100 is not an integer percentage from 0 to 99/,
      );
      await expect(model.setStalls(1, 100), `fast ${fast}`).rejects.toThrow(/from 0 to 99/);
    }
  });

  it('checks requests in step()', () => {
    for (const fast of [false, true]) {
      const model = new CycleKernel(undefined, { fast });
      expect(() => model.step({ op: 'attest', session: -1, msg: new Uint8Array(4) }), `fast ${fast}`).toThrow(/session -1/);
    }
  });

  it('needs a reset after a batch stopped early', () => {
    const batch = generateTransactions(3, 40).map((t) => t.request);
    const opt: PipeOptions = { seed: 3, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 };
    const model = new CycleKernel(undefined, { fast: true });
    const stopped = model.runPipelined(batch, { ...opt, maxEdges: 500 });
    expect(stopped.finished, 'a batch cut at 500 edges').toBe(false);
    expect(() => model.runPipelined(batch, opt), 'next batch before reset').toThrow(/call reset\(\) before the next command/);
    expect(() => model.step(batch[0]!), 'next command before reset').toThrow(/call reset\(\) before the next command/);
  });

  it('resets cleanly after a hang', async () => {
    // 860 messages of 65,535 bytes need more than the 50,000,000 edges a batch may take.
    const msg = new Uint8Array(65535).fill(7);
    const keys = generateTransactions(4, 0).map((t) => t.request);
    const huge: KernelRequest[] = Array.from({ length: 860 }, () => ({ op: 'attest', session: 0, msg }));
    const model = new CycleKernel(undefined, { fast: true });
    model.runPipelined(keys, { seed: 4, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 });
    expect(() => model.runPipelined(huge, { seed: 4, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 }), 'batch of 860 x 64 KiB').toThrow(
      /did not finish in 50000000 cycles/,
    );
    expect(model.cycle, 'edges counted up to the hang').toBeGreaterThanOrEqual(50_000_000);
    await model.reset();
    const fresh = new CycleKernel();
    expect(observedState(model, DEFAULT_PARAMS), 'observed state after reset').toBe(observedState(fresh, DEFAULT_PARAMS));
    const after = generateTransactions(5, 60).map((t) => t.request);
    const opt: PipeOptions = { seed: 5, cmdStall: 0, inStall: 0, resStall: 0, trace: 0 };
    expect(firstDifference(after, model.runPipelined(after, opt), fresh.runPipelined(after, opt), ['reset', 'fresh'])).toBeUndefined();
  });

  it('clocks traced batches edge by edge', () => {
    const batch = generateTransactions(5, 30).map((t) => t.request);
    const opt: PipeOptions = { seed: 5, cmdStall: 10, inStall: 10, resStall: 10, trace: 1 };
    const plain = new CycleKernel().runPipelined(batch, opt);
    const fast = new CycleKernel(undefined, { fast: true }).runPipelined(batch, opt);
    expect(fast.hash, 'hash of a traced fast-mode batch').toBe(plain.hash);
    expect(fast.hash, 'an untraced batch reports hash 0; a traced one must not').not.toBe(0);
  });
});

describe('fast mode against the RTL', () => {
  let rtl: RtlKernel;
  beforeAll(async () => {
    rtl = await RtlKernel.start();
  });
  afterAll(async () => {
    await rtl.close();
  });

  it('takes an empty batch on the RTL', async () => {
    await rtl.reset();
    expect(await rtl.run([]), 'empty batch').toEqual([]);
    const [result] = await rtl.run([{ op: 'set-id', device: 5 }]);
    expect(result?.status, 'the command after an empty batch').toBe('ok');
  });

  it('matches the RTL with and without stalls', async () => {
    const seed = testSeed('kernel events vs RTL');
    const model = new CycleKernel(undefined, { fast: true });
    await rtl.reset();
    const batches = chunks(generateTransactions(seed, 600).map((t) => t.request), 200);
    for (let b = 0; b < batches.length; b++) {
      const stall = b === 0 ? 0 : 25;
      const opt: PipeOptions = { seed: seed + b, cmdStall: stall, inStall: stall, resStall: stall, trace: 0 };
      const r = await rtl.runPipelined(batches[b]!, opt);
      const m = model.runPipelined(batches[b]!, opt);
      expect(firstDifference(batches[b]!, m, r, ['model', 'rtl']), `seed ${seed}, batch ${b}`).toBeUndefined();
    }
  });
});

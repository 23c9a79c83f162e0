import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TnicKernelModel } from '../sim/tnic_kernel.ts';
import { describeRequest, generateTransactions } from '../verify/cosim.ts';
import { IcarusKernel } from '../verify/cocotb_bridge.ts';
import { parseResultsXml, runCocotbVectors, type CocotbSuiteReport } from '../verify/cocotb_suite.ts';
import { testSeed } from './seed.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('cocotb testbench on Icarus Verilog', () => {
  const vectorSeed = testSeed('cocotb vectors');
  const bridgeSeed = testSeed('cocotb bridge');
  // The vector suite runs in its own simulator process while the bridge tests run beside it.
  let vectorRun: Promise<CocotbSuiteReport | Error>;
  let icarus: IcarusKernel;

  beforeAll(async () => {
    vectorRun = runCocotbVectors(vectorSeed).catch((err: Error) => err);
    icarus = await IcarusKernel.start({ seed: bridgeSeed, stallPercent: 30 });
  });
  afterAll(async () => {
    await icarus.close();
  });

  it('results parser reads passes and failures', () => {
    const xml =
      '<testsuites><testsuite name="t" tests="2">' +
      '<testcase classname="t" name="ok_case" time="0.1"><properties /></testcase>' +
      '<testcase classname="t" name="bad_case"><failure message="status 2, expected 3&#10;assert 2 == 3 &amp; more" /></testcase>' +
      '</testsuite></testsuites>';
    const cases = parseResultsXml(xml);
    expect(cases.map((c) => c.name)).toEqual(['ok_case', 'bad_case']);
    expect(cases[0]!.failure).toBeUndefined();
    expect(cases[1]!.failure).toBe('status 2, expected 3\nassert 2 == 3 & more');
  });

  it('bridge agrees with the model on 200 random transactions', async () => {
    const txs = generateTransactions(bridgeSeed, 200);
    const requests = txs.map((t) => t.request);
    const model = new TnicKernelModel();
    await Promise.all([model.reset(), icarus.reset()]);
    const [expected, actual] = await Promise.all([model.run(requests), icarus.run(requests)]);

    expect(actual).toHaveLength(requests.length);
    requests.forEach((req, i) => {
      const label = `seed ${bridgeSeed}, transaction ${i} (${describeRequest(req)})`;
      expect(actual[i]!.status, `${label}: status`).toBe(expected[i]!.status);
      expect(hex(actual[i]!.tag), `${label}: tag`).toBe(hex(expected[i]!.tag));
      expect(actual[i]!.counter, `${label}: counter`).toBe(expected[i]!.counter);
      expect(actual[i]!.status, `${label}: status against the reference`).toBe(txs[i]!.expect.status);
    });
  });

  it('bridge reset clears keys and counters', async () => {
    await icarus.reset();
    const key = new Uint8Array(32).fill(7);
    const [attest, load, first] = await icarus.run([
      { op: 'attest', session: 0, msg: new Uint8Array(4) },
      { op: 'load-key', session: 0, key },
      { op: 'attest', session: 0, msg: new Uint8Array(4) },
    ]);
    expect(attest!.status, 'attest before any key').toBe('unknown-session');
    expect(load!.status, 'first key after reset').toBe('ok');
    expect(first!.status).toBe('ok');
    expect(first!.counter, 'send_cnt restarts at 0').toBe(0n);
  });

  it('passes the vector and negative-case suite', async () => {
    const report = await vectorRun;
    if (report instanceof Error) throw report;
    const failed = report.cases.filter((c) => c.failure !== undefined);
    const details = failed.map((c) => `${c.name}: ${c.failure}`).join('\n') || report.outputTail;
    expect(failed, `seed ${vectorSeed}, ${report.resultsFile}:\n${details}`).toEqual([]);
    expect(report.exitCode, report.outputTail).toBe(0);
    expect(report.cases.map((c) => c.name)).toContain('hmac_vectors_as_attestations');
    expect(report.cases.length).toBeGreaterThanOrEqual(10);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';

import { baselineSystemsSection } from '../bench/baseline_report.ts';
import { hmacNs, runBaselineSystemsBench, type BaselineSystemsBench } from '../bench/baseline_systems.ts';

describe('baseline systems bench, quick mode', () => {
  let bench: BaselineSystemsBench;
  beforeAll(async () => {
    bench = await runBaselineSystemsBench({ quick: true, log: () => {} });
  });

  it('verifies every A2M entry on each baseline', () => {
    for (const row of bench.a2m.rows.filter((r) => r.device !== 'tnic')) {
      expect(row.verified, `${row.device} entries verified`).toBe(bench.a2m.entries);
    }
    expect(bench.a2m.rows.find((r) => r.device === 'tnic')!.verified).toBeNull();
  });

  it('costs A2M appends with the profile latency', () => {
    const calibrated = Object.fromEntries(bench.a2m.rows.map((r) => [r.device, r.calibratedPerSec]));
    // One 64-byte ATTEST per append: access + compute + per-byte cost of the 16 header bytes past 64.
    expect(calibrated['ssl-lib']).toBeCloseTo(1e9 / (1260 + 0.5 * 16), 6);
    expect(calibrated['sgx']).toBeCloseTo(1e9 / (16000 + 29000 + 9 * 16), 6);
    expect(calibrated['sev']).toBeCloseTo(1e9 / (35000 + 63000 + 20 * 16), 6);
  });

  it('charges the fixed latency on top of the measured HMAC', () => {
    const paper = Object.fromEntries(bench.a2m.rows.map((r) => [r.device, r.paperPerSec]));
    const h = hmacNs(bench.hmac, 64);
    expect(paper['ssl-lib']).toBeCloseTo(1e9 / h, 6);
    expect(paper['tnic']).toBeCloseTo(1e9 / (7000 + h), 6);
    expect(paper['sgx']).toBeCloseTo(1e9 / (45000 + h), 6);
  });

  it('counts three BFT commands per replica and operation at batch 1', () => {
    const run = bench.bft.runs.find((r) => r.batch === 1)!;
    const operations = bench.bft.processes * bench.bft.operationsPerProcess;
    expect(run.completed).toBe(operations);
    expect(run.batches).toBe(operations);
    // Leader: ATTEST propose, VERIFY two accepts. Follower: VERIFY propose, ATTEST accept, VERIFY the other accept.
    expect(run.replicaCommands).toEqual([3 * operations, 3 * operations, 3 * operations]);
    expect(run.clientCommands, 'one leader VERIFY per client request').toBe(operations);
  });

  it('runs batch 8 and 16 with fewer commands per operation', () => {
    expect(bench.bft.runs.map((r) => r.batch)).toEqual([1, 8, 16]);
    const perOperation = bench.bft.runs.map((r) => r.replicaCommands[0]! / r.completed);
    expect(perOperation[1]).toBeLessThan(perOperation[0]!);
    expect(perOperation[2]).toBeLessThan(perOperation[1]!);
  });

  it('renders the page section with every table', () => {
    const text = baselineSystemsSection(bench).join('\n');
    expect(text).toContain('### A2M appends per device');
    expect(text).toContain('### BFT throughput per device');
    expect(text).toContain('| TNIC / SGX | 1 | 4-6x |');
    expect(text).toContain('| TNIC | 158,000/s |');
  });
});

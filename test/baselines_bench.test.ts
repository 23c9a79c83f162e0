import { beforeAll, describe, expect, it } from 'vitest';

import { baselineSystemsSection, crChart, crSection, peerReviewChart, peerReviewSection } from '../bench/baseline_report.ts';
import {
  hmacNs,
  runBaselineSystemsBench,
  runCrBench,
  runPeerReviewBench,
  type BaselineSystemsBench,
  type CrBench,
  type PeerReviewBench,
  type SystemRow,
} from '../bench/baseline_systems.ts';
import { barChartSvg } from '../bench/svg_plot.ts';

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

/** Device time per operation of the busiest node in the published method, in ns. */
function paperNsPerOperation(rows: SystemRow[], device: string): number {
  return 1e9 / rows.find((r) => r.device === device)!.paperPerSec;
}

describe('chain replication bench, quick mode', () => {
  let bench: CrBench;
  beforeAll(async () => {
    bench = await runCrBench({ quick: true, log: () => {} });
  });

  it('completes every operation', () => {
    expect(bench.completed).toBe(bench.processes * bench.operationsPerProcess);
  });

  it('counts the commands of each chain node', () => {
    const operations = bench.completed;
    // Head: VERIFY request, ATTEST. Middle: VERIFY, ATTEST. Tail: VERIFY, CHECK the head's message, ATTEST.
    expect(bench.perNode.map((n) => n.name)).toEqual(['n0', 'n1', 'n2']);
    expect(bench.perNode.map((n) => n.commands)).toEqual([2 * operations, 2 * operations, 3 * operations]);
  });

  it('grows messages along the chain', () => {
    const bytes = bench.perNode.map((n) => n.meanBytes);
    expect(bytes[1]).toBeGreaterThan(bytes[0]!);
    expect(bytes[2]).toBeGreaterThan(bytes[1]!);
    expect(bench.requestBytes).toBeGreaterThan(0);
  });

  it('is bound by the tail on every device', () => {
    for (const row of bench.rows) {
      expect(row.paperBottleneck, `${row.device} published method`).toBe('n2');
      expect(row.calibratedBottleneck, `${row.device} calibrated`).toBe('n2');
    }
  });

  it('charges the fixed latency per tail command', () => {
    // The tail runs three commands per operation, so SGX costs 3 x (45 - 7) us more than TNIC per operation.
    const sgx = paperNsPerOperation(bench.rows, 'sgx');
    const tnic = paperNsPerOperation(bench.rows, 'tnic');
    const sslLib = paperNsPerOperation(bench.rows, 'ssl-lib');
    expect(sgx - tnic).toBeCloseTo(3 * 38_000, 3);
    expect(tnic - sslLib).toBeCloseTo(3 * 7_000, 3);
  });

  it('renders rows next to the published factors', () => {
    const text = crSection(bench).join('\n');
    expect(text).toContain('### Chain replication per device');
    expect(text).toContain('| n2 | ');
    expect(text).toMatch(/\| SGX \| \d+ B request \| 1 \| 3 \| 32 processes \| 7 \| yes \| 5\.0x \|/);
    expect(text).toContain('| SSL-lib |');
    expect(text, 'SSL-lib leads TNIC 4.6x').toContain('| 0.22x |');
    expect(text).toContain('| TNIC |');
  });

  it('plots TNIC over each other device', () => {
    const chart = crChart(bench);
    expect(chart.categories).toEqual(['SSL-lib', 'SSL-server', 'SGX', 'AMD-SEV']);
    expect(chart.series[0]!.values).toEqual([1 / 4.6, 1.3, 5, 3.4]);
    const svg = barChartSvg(chart);
    expect(svg.match(/<rect [^>]*><title>/g)?.length, 'one bar per device and series').toBe(12);
  });
});

describe('peerreview bench, quick mode', () => {
  let bench: PeerReviewBench;
  beforeAll(async () => {
    bench = await runPeerReviewBench({ quick: true, log: () => {} });
  });

  it('runs without and with audits', () => {
    expect(bench.runs.map((r) => r.audit)).toEqual([false, true]);
  });

  it('counts the stream commands of each node', () => {
    const run = bench.runs[0]!;
    const chunks = run.chunks;
    // Source: ATTEST per chunk. Child: VERIFY and ATTEST its half, VERIFY the sibling's forwards.
    const commands = Object.fromEntries(run.perNode.map((n) => [n.name, n.commands]));
    expect(commands).toEqual({ s: chunks, c1: 1.5 * chunks, c2: 1.5 * chunks, w: 0 });
    expect(run.auditStats.requests).toBe(0);
  });

  it('audits every log entry', () => {
    const run = bench.runs[1]!;
    // Each chunk is two messages, each logged by its sender and its receiver.
    expect(run.auditStats.entriesAudited).toBe(4 * run.chunks);
    const witness = run.perNode.find((n) => n.name === bench.witness)!;
    for (const node of run.perNode.filter((n) => n !== witness)) {
      expect(witness.commands, `witness against ${node.name}`).toBeGreaterThan(node.commands);
    }
  });

  it('charges the fixed latency per child command', () => {
    const without = bench.runs[0]!;
    const sgx = paperNsPerOperation(without.rows, 'sgx');
    const tnic = paperNsPerOperation(without.rows, 'tnic');
    expect(sgx - tnic, 'a child runs 1.5 commands per chunk').toBeCloseTo(1.5 * 38_000, 3);
  });

  it('costs more with audits on every device', () => {
    const [without, withAudits] = [bench.runs[0]!, bench.runs[1]!];
    for (const row of withAudits.rows) {
      const before = without.rows.find((r) => r.device === row.device)!;
      expect(row.paperPerSec, `${row.device} published method`).toBeLessThan(before.paperPerSec);
      expect(row.calibratedPerSec, `${row.device} calibrated`).toBeLessThan(before.calibratedPerSec);
      expect(row.witnessPaperPerSec, `${row.device} witness`).not.toBeNull();
    }
    expect(without.rows.every((r) => r.witnessPaperPerSec === null)).toBe(true);
  });

  it('renders rows next to the published ranges', () => {
    const text = peerReviewSection(bench).join('\n');
    expect(text).toContain('### PeerReview per device, without and with audits');
    expect(text).toContain('| no audit | SGX | 32 B chunk | 1 | 3 + witness | none (source streams) | 7 | yes | 3-5x |');
    expect(text).toContain('| audits | AMD-SEV | 32 B chunk | 1 | 3 + witness | none (source streams) | 7 | yes | 3.7-5x |');
    expect(text).toContain('| no audit | SSL-lib | 32 B chunk | 1 | 3 + witness | none (source streams) | 7 | yes | - |');
    expect(text).toContain('+17 us (+25%) of latency');
  });

  it('plots the published ranges as floating bars', () => {
    const chart = peerReviewChart(bench);
    expect(chart.categories).toHaveLength(8);
    const svg = barChartSvg(chart);
    expect(svg).toContain('<title>published (range), SGX audits: 3.7 to 5</title>');
    expect(svg, 'no published bar for SSL-lib').not.toContain('published (range), SSL-lib');
    expect(svg, 'two label lines').toContain('>no audit</text>');
  });
});

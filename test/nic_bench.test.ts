import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readSimBench, runSimBench } from '../bench/all.ts';
import { writeBenchmarksPage } from '../bench/report.ts';
import { runSimScale } from '../bench/sim_scale.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-sim-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sim bench, quick mode', () => {
  const bench = runSimBench(true);

  it('covers the three paths from 128 B to 32 KiB', () => {
    for (const profile of ['tnic-prototype', 'tnic']) {
      const rows = bench.send.filter((r) => r.profile === profile);
      expect(rows.map((r) => r.size), profile).toEqual([128, 32768]);
      for (const r of rows) {
        const where = `${profile} ${r.size} B`;
        expect(r.latencyUs.rdma, `${where} rdma latency`).toBeGreaterThan(0);
        // Attestation only adds work: untrusted RDMA is fastest, attest+verify slowest.
        expect(r.latencyUs.rdma, `${where} rdma below send-only`).toBeLessThan(r.latencyUs['send-only']);
        expect(r.latencyUs['send-only'], `${where} send-only below attest+verify`).toBeLessThan(r.latencyUs['attest-verify']);
        expect(r.throughputMBps.rdma, `${where} rdma throughput`).toBeGreaterThanOrEqual(r.throughputMBps['send-only']);
        expect(r.throughputMBps['attest-verify'], `${where} attest+verify throughput`).toBeGreaterThan(0);
      }
    }
  });

  it('includes the scale figures of a small run', () => {
    const s = bench.scale;
    expect(s.nodes).toBe(16);
    expect(s.messages).toBe(20_000);
    expect(s.completed, 'every message completed').toBe(20_000);
    expect(s.verifyFailures).toBe(0);
    expect(s.events, 'nine events per 64-byte message and one per batch of posts').toBe(9 * 20_000 + 1);
    expect(s.eventsPerSecond).toBeGreaterThan(0);
    expect(s.peakHeapBytes).toBeGreaterThan(0);
    expect(s.peakRssBytes).toBeGreaterThanOrEqual(s.peakHeapBytes);
    expect(s.machine).toMatch(/Node v\d+/);
  });

  it('renders the rdma column and the scale table', () => {
    writeFileSync(join(dir, 'sim.json'), JSON.stringify(bench));
    const page = writeBenchmarksPage(dir, join(dir, 'BENCHMARKS.md'));
    const text = readFileSync(page, 'utf8');
    expect(text).toContain('### Send path by message size: untrusted RDMA, TNIC send-only, TNIC attest+verify');
    expect(text).toMatch(/\| tnic \| 32768 B \|( [\d.]+ \|){6}/);
    expect(text).toContain('### Simulator speed at scale');
    expect(text).toMatch(/\| events \| 180,001 \(9\.00 per message\) \|/);
    expect(text).toMatch(/\| peak heap \(sampled every 100,000 events\) \| \d+ MiB \|/);
    expect(readSimBench(dir)?.scale.messages).toBe(20_000);
  });

  it('treats a sim.json without rdma and scale figures as stale', () => {
    const old = { attest: bench.attest, anchors: bench.anchors, send: [{ profile: 'tnic', size: 128, sendOnlyUs: 1, attestVerifyUs: 2, throughputMBps: 3 }] };
    const oldDir = mkdtempSync(join(dir, 'old-'));
    writeFileSync(join(oldDir, 'sim.json'), JSON.stringify(old));
    expect(readSimBench(oldDir)).toBeUndefined();
    const text = readFileSync(writeBenchmarksPage(oldDir, join(oldDir, 'BENCHMARKS.md')), 'utf8');
    expect(text).toContain('predates the rdma column');
    expect(text).toContain('No scale figures in this sim.json');
  });
});

describe('scale run', () => {
  // Recorded with the simulator before the scale optimizations (bench/sim_scale.ts at 64 nodes, seed 7).
  it('reproduces the pinned completions of 20,000 messages on 64 nodes', () => {
    const r = runSimScale({ nodes: 64, messages: 20_000, size: 64, profile: 'tnic', path: 'attest-verify', seed: 7 });
    expect(r.completed).toBe(20_000);
    expect(r.connections).toBe(4006);
    expect(r.events).toBe(180_001);
    expect(r.virtualTimeNs).toBe(6002007.703703703);
    expect(r.completionDigest).toBe('ac2ae100cb11db7c');
  });
});

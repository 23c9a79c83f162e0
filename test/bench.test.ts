import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import type { KernelBench } from '../bench/kernel_bench.ts';
import type { RealSystemRow } from '../bench/real_systems.ts';
import { REPO_ROOT } from '../verify/build_rtl.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tnic(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'tnic.js'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('tnic bench all --quick', () => {
  it('writes every part and the page, then resumes', () => {
    const page = join(dir, 'BENCHMARKS.md');
    const first = tnic(['bench', 'all', '--quick', '--out', dir, '--page', page]);
    expect(first.status, first.out).toBe(0);

    const kernel = JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as KernelBench;
    expect(kernel.cyclesPerByte.map((p) => p.bytes)).toEqual([64, 4096]);
    expect(kernel.latency64Cycles, 'isolated 64-byte ATTEST: 65 * 3 + 1').toBe(196);
    expect(kernel.rtlLines).toBeGreaterThan(0);

    const text = readFileSync(page, 'utf8');
    expect(text).toContain('## Attestation kernel');
    expect(text).toContain('## Software attest path');
    expect(text).toContain('### Prototype profile against the published send-path anchors');
    expect(text).toContain('### Attest latency breakdown (published Figure 6)');
    expect(text).toContain('### Chain replication per device');
    expect(text).toContain('### PeerReview per device, without and with audits');
    expect(text).toContain('## Real mode: systems as processes on this machine');
    const real = JSON.parse(readFileSync(join(dir, 'real_systems.json'), 'utf8')) as { rows: RealSystemRow[] };
    expect(real.rows.map((r) => r.system), 'every system ran as processes').toEqual(['a2m', 'bft', 'cr', 'peerreview']);
    for (const row of real.rows) {
      expect(row.completed, `${row.system} completed every unit`).toBe(row.operations);
      if (row.system === 'bft' || row.system === 'cr') expect(row.verdict, `${row.system} history`).toBe('linearizable');
    }
    const plots = ['kernel_cycles_per_byte.svg', 'attest_latency_64b.svg', 'cr_tnic_over_device.svg', 'peerreview_tnic_over_device.svg'];
    for (const plot of plots) {
      const svg = readFileSync(join(dir, plot), 'utf8');
      expect(svg.startsWith('<svg '), `${plot} is an SVG document`).toBe(true);
      expect(svg.match(/<rect /g)?.length ?? 0, `${plot} draws its bars`).toBeGreaterThan(4);
      expect(text, `the page links ${plot}`).toContain(`(${plot})`);
    }

    const second = tnic(['bench', 'all', '--quick', '--out', dir, '--page', page]);
    expect(second.status, second.out).toBe(0);
    expect(second.out.match(/kept /g)?.length, 'every part resumed from its file').toBe(7);

    rmSync(join(dir, 'baseline_cr.json'));
    const third = tnic(['bench', 'all', '--quick', '--out', dir, '--page', page]);
    expect(third.status, third.out).toBe(0);
    expect(third.out.match(/kept /g)?.length, 'the other parts resumed').toBe(6);
    expect(third.out, 'the removed part ran again').toMatch(/chain replication per device[^\n]*: running/);
    expect(existsSync(join(dir, 'baseline_cr.json')), 'baseline_cr.json written again').toBe(true);
  });
});

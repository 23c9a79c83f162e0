import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { localAttestNs } from '../sim/nic/experiments.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';
import { REPO_ROOT } from '../verify/build_rtl.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-sim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tnic(args: string[]): { status: number | null; stdout: string; out: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'tnic.js'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

interface SimJson {
  anchors: Array<{ withinTolerance: boolean; ratio: number }>;
  baselines: {
    modelled: Array<{ size: number; sslLibUs: number; sslServerUs: number }>;
    measured: null | {
      machine: string;
      rows: Array<{ size: number; nodeCryptoUs: number; nobleUs: number; socketServerUs: number | null }>;
    };
  };
}

const BASELINE_HEADER =
  '| message B | ssl-lib modelled | ssl-server modelled | measured: node:crypto in process | ' +
  'measured: @noble/hashes in process | measured: ssl-server process over a Unix socket |';

describe('tnic sim', () => {
  it('lists --no-measured in its help', () => {
    const r = tnic(['sim', '--help']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/--no-measured\s+skip measuring the CPU baselines/);
  });

  it('prints measured baselines beside the modelled ones', () => {
    const out = join(dir, 'measured');
    const r = tnic(['sim', '--profile', 'tnic-prototype', '--sizes', '128,32768,70000', '--out', out, '--seed', '1']);
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain(BASELINE_HEADER);
    expect(r.stdout).toMatch(/\| 128 \| 1\.30 \| 10\.64 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    expect(r.stdout, 'no server figure above the kernel limit').toMatch(/\| 70000 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| - \|/);

    const json = JSON.parse(readFileSync(join(out, 'sim-tnic-prototype.json'), 'utf8')) as SimJson;
    expect(json.anchors.length).toBe(6);
    for (const a of json.anchors) expect(Math.abs(a.ratio - 1), 'anchor within 1%').toBeLessThanOrEqual(0.01);

    const profiles = loadProfiles();
    const modelled = json.baselines.modelled.find((m) => m.size === 128)!;
    expect(modelled.sslLibUs).toBeCloseTo(localAttestNs(getProfile(profiles, 'ssl-lib'), 128) / 1000, 9);
    expect(modelled.sslServerUs).toBeCloseTo(localAttestNs(getProfile(profiles, 'ssl-server'), 128) / 1000, 9);

    const measured = json.baselines.measured;
    expect(measured, 'measured figures in the JSON').not.toBeNull();
    expect(measured!.machine).toMatch(/Node v\d+/);
    expect(measured!.rows.map((row) => row.size)).toEqual([128, 32768, 70000]);
    for (const row of measured!.rows) {
      expect(row.nodeCryptoUs, `node:crypto at ${row.size} B`).toBeGreaterThan(0);
      expect(row.nobleUs, `@noble/hashes at ${row.size} B`).toBeGreaterThan(0);
    }
    expect(measured!.rows[0]!.socketServerUs, 'server round trip at 128 B').toBeGreaterThan(0);
    expect(measured!.rows[2]!.socketServerUs, 'server at 70000 B').toBeNull();
  });

  it('leaves the measured columns empty with --no-measured', () => {
    const out = join(dir, 'modelled');
    const r = tnic(['sim', '--profile', 'tnic', '--sizes', '64', '--out', out, '--seed', '2', '--no-measured']);
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain('Measured columns: not measured (--no-measured).');
    expect(r.stdout).toMatch(/\| 64 \| 1\.27 \| 10\.61 \| - \| - \| - \|/);
    expect(r.out).not.toContain('measuring the CPU baselines');
    const json = JSON.parse(readFileSync(join(out, 'sim-tnic.json'), 'utf8')) as SimJson;
    expect(json.baselines.measured).toBeNull();
  });

  it('prints without writing files when --out is absent', () => {
    const r = tnic(['sim', '--profile', 'tnic', '--sizes', '128', '--seed', '3', '--no-measured']);
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toMatch(/\| 128 \| attest-verify \| [\d.]+ \|/);
    expect(r.out).not.toContain('sim: wrote');
  });
});

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { REPO_ROOT, RTL_SOURCES } from '../verify/build_rtl.ts';

const sources = RTL_SOURCES.map((f) => join(REPO_ROOT, 'hw', f));
const include = `-I${join(REPO_ROOT, 'hw')}`;

function verilatorLint(extra: string[]): { status: number | null; output: string } {
  const r = spawnSync('verilator', ['--lint-only', '-Wall', include, '--top-module', 'tnic_kernel', ...extra, ...sources], {
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('RTL lint and elaboration', () => {
  it('passes verilator --lint-only -Wall with no warnings', () => {
    const r = verilatorLint([]);
    expect(r.output.trim(), r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('stops elaboration on an invalid N_SESSIONS with the reason', () => {
    const r = verilatorLint(['-GN_SESSIONS=0']);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('N_SESSIONS must be 1..65536');
  });

  it('stops elaboration on an unsupported DATA_W with the reason', () => {
    for (const width of ['48', '256']) {
      const r = verilatorLint([`-GDATA_W=${width}`]);
      expect(r.status, `DATA_W=${width}`).not.toBe(0);
      expect(r.output, `DATA_W=${width}`).toContain('DATA_W must be 32, 64 or 128');
    }
    const icarus = spawnSync('iverilog', ['-g2005', include, '-Ptnic_kernel.DATA_W=48', '-o', '/dev/null', ...sources], {
      encoding: 'utf8',
    });
    expect(icarus.status).not.toBe(0);
    expect(`${icarus.stdout}${icarus.stderr}`).toContain('tnic_kernel_error_DATA_W_must_be_32_64_or_128');
  });

  it('elaborates under Icarus Verilog in Verilog-2005 mode', () => {
    const r = spawnSync('iverilog', ['-g2005', include, '-o', '/dev/null', ...sources], { encoding: 'utf8' });
    expect(r.error, 'iverilog is not installed; run scripts/setup.sh').toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('lints with other parameter values', () => {
    const configurations = [
      ['-GN_SESSIONS=1'],
      ['-GN_SESSIONS=64', '-GLEN_W=14'],
      ['-GLEN_W=20'],
      ['-GDATA_W=64'],
      ['-GDATA_W=128', '-GLEN_W=8', '-GBUF_AW=4'],
    ];
    for (const params of configurations) {
      const r = verilatorLint(params);
      expect(r.output.trim(), `${params.join(' ')}: ${r.output}`).toBe('');
    }
  });
});

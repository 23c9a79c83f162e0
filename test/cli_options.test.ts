/**
 * Option checks of the CLI that run before any work: options that the
 * selected mode of `tnic verify` does not read, and the help of `tnic run`.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

function tnic(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'tnic.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tnic verify options', () => {
  const cases = [
    { args: ['--protocol', '--count', '5'], message: '--count does not apply to --protocol; it is an option of --mutants' },
    { args: ['--bootstrap', '--seed', '5'], message: '--seed does not apply to --bootstrap; it is an option of --mutants' },
    { args: ['--mutants', '--sessions', '2'], message: '--sessions does not apply to --mutants; it is an option of --protocol' },
    { args: ['--rtl', '--no-checker'], message: '--no-checker does not apply to --rtl; it is an option of --protocol' },
    {
      args: ['--rtl', '--bootstrap', '--mutant', 'x'],
      message: '--mutant does not apply to --rtl or --bootstrap; it is an option of --protocol',
    },
  ];

  it.each(cases)('rejects verify $args', ({ args, message }) => {
    const r = tnic(['verify', ...args]);
    const lines = r.stderr.split('\n').filter((line) => line.trim() !== '');

    expect(lines, 'one error line').toHaveLength(1);
    expect(lines[0], 'option and mode').toContain(message);
    expect(r.stdout, 'nothing ran').toBe('');
    expect(r.status, r.stderr).toBe(2);
  });
});

describe('tnic run help', () => {
  it('lists every system', () => {
    const r = tnic(['run', '--help']);
    const text = r.stdout.replace(/\s+/g, ' ');

    expect(r.status, r.stderr).toBe(0);
    expect(text, 'description').toContain('(A2M, BFT, chain replication, PeerReview)');
  });
});

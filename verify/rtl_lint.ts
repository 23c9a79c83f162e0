/** Verilator lint of the kernel RTL: `--lint-only -Wall` on every source, tnic_kernel on top. */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO_ROOT, RTL_SOURCES, verilatorVersion } from './build_rtl.ts';

export interface LintResult {
  status: number | null;
  /** Warnings and errors as Verilator prints them; empty when the RTL is clean. */
  output: string;
}

/** Lint the RTL with extra Verilator arguments, e.g. `-GN_SESSIONS=64`. */
export function lintRtl(extra: readonly string[] = []): LintResult {
  verilatorVersion();
  const hw = join(REPO_ROOT, 'hw');
  const args = ['--lint-only', '-Wall', `-I${hw}`, '--top-module', 'tnic_kernel', ...extra];
  const r = spawnSync('verilator', [...args, ...RTL_SOURCES.map((f) => join(hw, f))], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * The mutation kill table: every mutant of the catalog runs through every
 * check, after a baseline run of the unmutated kernels shows that the checks
 * pass when there is no bug. A mutant is killed when at least one check
 * fails on it.
 *
 * Model mutants run against the unmutated reference model; RTL mutants run
 * against the cycle model (CycleKernel), which mirrors the unmutated RTL
 * cycle for cycle.
 */

import { InputError } from '../../sim/errors.ts';
import { CycleKernel } from '../../sim/cycle/kernel_driver.ts';
import type { AttestationKernel } from '../../sim/kernel_port.ts';
import { TnicKernelModel } from '../../sim/tnic_kernel.ts';
import { ensureRtlBuilt } from '../build_rtl.ts';
import { MUTANTS } from './catalog.ts';
import { cosimCheck, lockCheck, vectorsCheck, type CheckName, type CheckOutcome } from './killers.ts';
import type { Mutant, MutantTarget } from './mutant.ts';
import { BASELINE_NAME, loadModelMutant, modelSource } from './model_mutant.ts';
import { buildRtlMutant, rtlSources, startRtlKernel } from './rtl_mutant.ts';

export interface KillTableOptions {
  seed: number;
  /** Random co-simulation transactions per mutant, after the key loads. */
  count: number;
  targets: readonly MutantTarget[];
  /** Names of the mutants to run, or every mutant of the targets when absent. */
  names?: readonly string[];
  log?: (line: string) => void;
}

export interface KillRow {
  /** Mutant name, or 'baseline' for the unmutated kernel. */
  name: string;
  target: MutantTarget;
  outcomes: CheckOutcome[];
  /** Wall-clock seconds, including the Verilator build of an RTL mutant. */
  seconds: number;
}

export interface KillTable {
  baseline: KillRow[];
  mutants: KillRow[];
}

/** Names of the checks that failed. */
export function failedChecks(outcomes: readonly CheckOutcome[]): CheckName[] {
  return outcomes.filter((o) => o.failed).map((o) => o.check);
}

/** Select the mutants of `targets`, narrowed to `names`. Throws on a name that no selected target has. */
export function selectMutants(targets: readonly MutantTarget[], names?: readonly string[]): Mutant[] {
  const ofTargets = MUTANTS.filter((m) => targets.includes(m.target));
  if (!names) return ofTargets;
  for (const name of names) {
    if (!ofTargets.some((m) => m.name === name)) {
      const known = [...new Set(ofTargets.map((m) => m.name))];
      throw new InputError(`no ${targets.join(' or ')} mutant is named '${name}'; known: ${known.join(', ')}`);
    }
  }
  return ofTargets.filter((m) => names.includes(m.name));
}

/** Apply every mutant to the current sources in memory, and throw on the first that no longer applies. */
export function checkMutantsApply(mutants: readonly Mutant[]): void {
  for (const mutant of mutants) {
    if (mutant.target === 'model') modelSource(mutant);
    else rtlSources(mutant);
  }
}

async function runAll(
  subject: AttestationKernel,
  reference: AttestationKernel,
  options: KillTableOptions,
): Promise<CheckOutcome[]> {
  const log = options.log ?? (() => {});
  const outcomes: CheckOutcome[] = [];
  const report = (o: CheckOutcome): void => {
    outcomes.push(o);
    const verdict = o.failed ? 'FAILED' : 'passed';
    log(`    ${o.check.padEnd(7)} ${verdict} in ${o.seconds.toFixed(1)} s: ${o.detail}`);
  };
  report(await cosimCheck(subject, reference, { seed: options.seed, count: options.count }));
  report(await vectorsCheck(subject));
  report(await lockCheck(subject));
  return outcomes;
}

/** Run every check on the model with `mutant` applied, or on the unmutated model. */
export async function runModelChecks(mutant: Mutant | undefined, options: KillTableOptions): Promise<CheckOutcome[]> {
  const Subject = await loadModelMutant(mutant);
  return runAll(new Subject(), new TnicKernelModel(), options);
}

/** Build the RTL with `mutant` applied (or the unmutated RTL) and run every check on it. */
export async function runRtlChecks(mutant: Mutant | undefined, options: KillTableOptions): Promise<CheckOutcome[]> {
  const buildLog = { log: (line: string) => options.log?.(`    ${line}`) };
  const binary = mutant ? buildRtlMutant(mutant, buildLog) : ensureRtlBuilt(buildLog);
  const subject = startRtlKernel(binary);
  try {
    return await runAll(subject, new CycleKernel(undefined, { fast: true }), options);
  } finally {
    await subject.close();
  }
}

async function runRow(target: MutantTarget, mutant: Mutant | undefined, options: KillTableOptions): Promise<KillRow> {
  const started = performance.now();
  const outcomes = target === 'model' ? await runModelChecks(mutant, options) : await runRtlChecks(mutant, options);
  const seconds = (performance.now() - started) / 1000;
  return { name: mutant?.name ?? BASELINE_NAME, target, outcomes, seconds };
}

/**
 * Run the baseline of each target, then every selected mutant, logging
 * each check as it ends. Every selected mutant is applied in memory first,
 * so a stale one fails before any build starts.
 */
export async function runKillTable(options: KillTableOptions): Promise<KillTable> {
  const log = options.log ?? (() => {});
  const mutants = selectMutants(options.targets, options.names);
  checkMutantsApply(mutants);
  const table: KillTable = { baseline: [], mutants: [] };

  for (const target of options.targets) {
    log(`baseline ${target}: the unmutated kernel must pass every check`);
    table.baseline.push(await runRow(target, undefined, options));
  }
  for (const [i, mutant] of mutants.entries()) {
    log(`[${i + 1}/${mutants.length}] ${mutant.target} ${mutant.name}: ${mutant.description}`);
    const row = await runRow(mutant.target, mutant, options);
    const killers = failedChecks(row.outcomes);
    log(`    ${killers.length > 0 ? `killed by ${killers.join(', ')}` : 'SURVIVED'} (${row.seconds.toFixed(1)} s)`);
    table.mutants.push(row);
  }
  return table;
}

/** Format the kill table as aligned text lines: mutant, target, killed, checks that failed, time. */
export function formatKillTable(rows: readonly KillRow[]): string[] {
  const header = ['mutant', 'target', 'killed', 'by', 'time'];
  const cells = rows.map((row) => {
    const killers = failedChecks(row.outcomes);
    return [row.name, row.target, killers.length > 0 ? 'yes' : 'NO', killers.join(', ') || '-', `${row.seconds.toFixed(1)} s`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c.map((cell, i) => (i === c.length - 1 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}

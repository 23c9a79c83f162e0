/**
 * `tnic lincheck FILE`: decide whether a history in Jepsen's log format is
 * linearizable, for a register, a compare-and-set register, a counter or a
 * key-value store of registers (checked key by key). Prints the verdict and
 * exits 0 (linearizable), 1 (not linearizable) or 2 (unknown: the time budget
 * ran out). A file that cannot be read or parsed also exits 2, with an error
 * line that names the file and line.
 */

import { readFileSync } from 'node:fs';

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import { checkJepsenLog, DEFAULT_TIME_BUDGET_MS, type Verdict } from '../../verify/linearizability.ts';
import { parseIntOption } from '../options.ts';

const EXIT_CODES: Record<Verdict, number> = { linearizable: 0, 'not-linearizable': 1, unknown: 2 };
const MAX_BUDGET_MS = 3_600_000;

interface LincheckOptions {
  timeBudget: number;
  initial?: number;
  keys: boolean;
}

export function registerLincheck(program: Command): void {
  program
    .command('lincheck')
    .description(
      'decide whether a Jepsen-format history is linearizable; exit 0 linearizable, 1 not linearizable, 2 unknown',
    )
    .argument('<file>', 'history in Jepsen log format (":invoke", ":ok", ":fail", ":info" lines)')
    .option(
      '--time-budget <ms>',
      `milliseconds of search before the verdict is unknown (1..${MAX_BUDGET_MS})`,
      parseIntOption('--time-budget', 1, MAX_BUDGET_MS),
      DEFAULT_TIME_BUDGET_MS,
    )
    .option('--initial <value>', 'integer value of every register before the history (default nil)', (v: string) =>
      parseInitial(v),
    )
    .option('--keys', 'print the verdict of every key of a key-value history', false)
    .action((file: string, opts: LincheckOptions) => {
      const text = readFileSync(file, 'utf8');
      const started = performance.now();
      const result = checkJepsenLog(text, { timeBudgetMs: opts.timeBudget, initial: opts.initial ?? null }, file);
      const ms = Math.round(performance.now() - started);
      if (opts.keys) {
        for (const [key, verdict] of result.keys) console.log(`key ${key === '' ? '(register)' : key}: ${verdict}`);
      }
      const verdict = result.verdict;
      const words = verdict === 'not-linearizable' ? 'not linearizable' : verdict;
      console.log(`${file}: ${words} (${result.keys.size} keys, ${ms} ms)`);
      process.exitCode = EXIT_CODES[verdict];
    });
}

function parseInitial(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n)) {
    throw new TnicError('invalid-input', `--initial ${value} must be an integer; leave it out for nil`);
  }
  return n;
}

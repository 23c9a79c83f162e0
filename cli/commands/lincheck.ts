/**
 * `tnic lincheck FILE`: decide whether a history in Jepsen's log format is
 * linearizable, for a register, a compare-and-set register, a counter or a
 * key-value store of registers (checked key by key). Prints the verdict and
 * exits 0 (linearizable), 1 (not linearizable) or 2 (unknown: the time budget
 * ran out). A file that cannot be read, that does not parse or that has no
 * operation also exits 2, with an error line that names the file and line.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import {
  checkOperations,
  DEFAULT_TIME_BUDGET_MS,
  HistoryFormatError,
  parseJepsenLog,
  type HistoryOperation,
  type Verdict,
} from '../../verify/linearizability.ts';
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
      if (existsSync(file) && statSync(file).isDirectory()) {
        throw new TnicError('invalid-input', `${file} is a folder; give a history file`);
      }
      const text = readFileSync(file, 'utf8');
      const started = performance.now();
      let operations: HistoryOperation[];
      try {
        operations = parseJepsenLog(text, file);
      } catch (error) {
        if (!(error instanceof HistoryFormatError)) throw error;
        throw new TnicError('invalid-input', `${error.message}; fix the history or give another file`);
      }
      if (operations.length === 0) {
        throw new TnicError(
          'invalid-input',
          `${file} has no Jepsen operation lines ("INFO jepsen.util - P :invoke :f value"); give a history file`,
        );
      }
      const result = checkOperations(operations, { timeBudgetMs: opts.timeBudget, initial: opts.initial ?? null });
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

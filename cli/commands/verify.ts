/**
 * `tnic verify --mutants`: the mutation kill table. Seeded bugs go into
 * copies of the reference model and of the RTL under build/mutants/, and
 * every one must be caught by co-simulation, the HMAC vectors or the lock
 * check. Exits non-zero when a baseline check fails or a mutant survives.
 *
 * `tnic verify --protocol`: the bounded protocol model checker on the
 * reference model, or on one model mutant with --mutant. Exits non-zero when
 * a property is violated or an existence check is never reached.
 *
 * `tnic verify --rtl`: the RTL proofs of verify/formal/run_proofs.sh.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import type { Command } from 'commander';

import { InputError, TnicError } from '../../sim/errors.ts';
import { REPO_ROOT } from '../../verify/build_rtl.ts';
import { findMutant } from '../../verify/mutants/catalog.ts';
import { failedChecks, formatKillTable, runKillTable } from '../../verify/mutants/kill_table.ts';
import type { MutantTarget } from '../../verify/mutants/mutant.ts';
import { loadModelMutant } from '../../verify/mutants/model_mutant.ts';
import { checkBootstrap } from '../../verify/protocol/bootstrap_check.ts';
import { checkProtocol } from '../../verify/protocol/checker.ts';
import {
  AUTH_RULES,
  MAX_MESSAGES,
  MAX_SESSIONS,
  defaultBounds,
  exhaustiveDepth,
  type AuthRule,
} from '../../verify/protocol/config.ts';
import { failedProperties, formatReport } from '../../verify/protocol/report.ts';
import { parseIntOption } from '../options.ts';

const TARGETS: Record<string, MutantTarget[]> = { model: ['model'], rtl: ['rtl'], all: ['model', 'rtl'] };

function parseTarget(value: string): string {
  if (!(value in TARGETS)) throw new InputError(`--target '${value}' is not one of: ${Object.keys(TARGETS).join(', ')}`);
  return value;
}

function parseNames(value: string): string[] {
  const names = value.split(',').map((n) => n.trim()).filter((n) => n.length > 0);
  if (names.length === 0) throw new InputError(`--only '${value}' names no mutant`);
  return names;
}

function parseAuthRule(value: string): AuthRule {
  if ((AUTH_RULES as readonly string[]).includes(value)) return value as AuthRule;
  throw new InputError(`--auth-rule '${value}' is not one of: ${AUTH_RULES.join(', ')}`);
}

/** Run every RTL proof, printing the script's table as it goes; fail if any is not proved. */
function runRtlProofs(): void {
  console.log('verify --rtl: proving the kernel properties (about 1 to 2 minutes on 2 cores)');
  const r = spawnSync('bash', [join(REPO_ROOT, 'verify', 'formal', 'run_proofs.sh')], { stdio: 'inherit', cwd: REPO_ROOT });
  if (r.error) throw new TnicError('proofs-failed', `could not run verify/formal/run_proofs.sh: ${r.error.message}`);
  if (r.status !== 0) throw new TnicError('proofs-failed', `RTL proofs failed (exit code ${r.status}); see the table above`);
}

/** Print each man-in-the-middle strategy with its outcome; fail on any violated property. */
async function runBootstrapCheck(): Promise<void> {
  console.log('verify --bootstrap: every strategy on a fresh vendor, device and session key');
  const results = await checkBootstrap();
  for (const r of results) console.log(`  ${r.strategy.padEnd(30)} ${r.outcome}${r.violations.length ? `  VIOLATED: ${r.violations.join('; ')}` : ''}`);
  const bad = results.filter((r) => r.violations.length > 0).length;
  console.log(`verify --bootstrap: ${results.length} strategies, keys_secret, initialization_attested and no_wrong_configuration ${bad === 0 ? 'hold' : `violated in ${bad}`}`);
  if (bad > 0) throw new TnicError('bootstrap-violated', `${bad} strategies violate a bootstrapping property; see above`);
}

type Mode = 'mutants' | 'protocol' | 'rtl' | 'bootstrap';

/** The options each mode reads, by commander attribute name; --rtl and --bootstrap take none. */
const MODE_OPTIONS: Record<Mode, readonly string[]> = {
  mutants: ['seed', 'count', 'target', 'only'],
  protocol: ['sessions', 'messages', 'compromise', 'checker', 'depth', 'mutant', 'authRule'],
  rtl: [],
  bootstrap: [],
};

/**
 * Reject an option given on the command line that none of the selected
 * modes reads, which would otherwise be ignored without a word.
 */
function rejectUnusedOptions(opts: VerifyOptions, command: Command): void {
  const modes = (Object.keys(MODE_OPTIONS) as Mode[]).filter((mode) => opts[mode]);
  const read = new Set(modes.flatMap((mode) => MODE_OPTIONS[mode]));
  for (const [owner, names] of Object.entries(MODE_OPTIONS)) {
    for (const name of names) {
      const source = command.getOptionValueSource(name);
      if (source === undefined || source === 'default' || read.has(name)) continue;
      const flag = command.options.find((option) => option.attributeName() === name)?.long ?? name;
      const selected = modes.map((mode) => `--${mode}`).join(' or ');
      throw new InputError(`${flag} does not apply to ${selected}; it is an option of --${owner}, so remove it or add --${owner}`);
    }
  }
}

interface VerifyOptions {
  mutants: boolean;
  protocol: boolean;
  rtl: boolean;
  bootstrap: boolean;
  sessions: number;
  messages: number;
  compromise: boolean;
  checker: boolean;
  depth?: number;
  mutant?: string;
  authRule: AuthRule;
  seed: number;
  count: number;
  /** A key of TARGETS. */
  target: string;
  only?: string[];
}

async function runMutants(opts: VerifyOptions): Promise<void> {
  const started = Date.now();
  const targets = TARGETS[opts.target]!;
  console.log(
    `verify --mutants: targets ${targets.join(', ')}, seed ${opts.seed}, ` +
      `${opts.count} co-simulation transactions per mutant`,
  );
  const table = await runKillTable({
    seed: opts.seed,
    count: opts.count,
    targets,
    names: opts.only,
    log: (line) => console.log(line),
  });

  console.log('');
  for (const line of formatKillTable(table.mutants)) console.log(line);
  const seconds = (Date.now() - started) / 1000;
  const survivors = table.mutants.filter((row) => failedChecks(row.outcomes).length === 0);
  console.log(
    `\n${table.mutants.length - survivors.length} of ${table.mutants.length} mutants killed in ${seconds.toFixed(1)} s ` +
      `(seed ${opts.seed})`,
  );

  const brokenBaseline = table.baseline.filter((row) => failedChecks(row.outcomes).length > 0);
  if (brokenBaseline.length > 0) {
    const failures = brokenBaseline.map((row) => `${row.target} (${failedChecks(row.outcomes).join(', ')})`).join(', ');
    throw new TnicError(
      'baseline-failed',
      `the unmutated kernel failed checks: ${failures}, so the kill table is not valid; fix the kernel or the check first`,
    );
  }
  if (survivors.length > 0) {
    const names = survivors.map((row) => `${row.target} ${row.name}`).join(', ');
    throw new TnicError(
      'mutant-survived',
      `${survivors.length} of ${table.mutants.length} mutants survived every check: ${names}; add a check that catches them`,
    );
  }
}

async function runProtocol(opts: VerifyOptions): Promise<void> {
  const bounds = defaultBounds({
    sessions: opts.sessions,
    messages: opts.messages,
    checker: opts.checker,
    compromise: opts.compromise,
    maxDepth: opts.depth ?? exhaustiveDepth(opts.sessions, opts.messages),
    authRule: opts.authRule,
  });
  const mutant = opts.mutant === undefined ? undefined : findMutant(opts.mutant, 'model');
  const model = await loadModelMutant(mutant);
  const subject = mutant ? `model mutant ${mutant.name} (${mutant.description})` : 'reference model';

  const report = checkProtocol(bounds, { model, subject, log: (line) => console.log(line) });
  console.log('');
  for (const line of formatReport(report)) console.log(line);

  const failed = failedProperties(report);
  if (failed.length > 0) {
    const how =
      report.violations.length > 0
        ? 'the traces above show how'
        : 'no reached state has a message A sent accepted, so the kernel rejects genuine messages';
    throw new TnicError('property-violated', `the protocol check of the ${subject} failed ${failed.join(', ')}; ${how}`);
  }
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('model-check the protocol properties (--protocol) and check that seeded bugs are caught (--mutants)')
    .option('--mutants', 'run every mutant of the model and the RTL through the checks and print the kill table', false)
    .option('--protocol', 'explore every interleaving of a small configuration against a network adversary', false)
    .option('--rtl', 'prove the RTL properties with Yosys and ABC pdr (verify/formal/run_proofs.sh)', false)
    .option('--bootstrap', 'attack bootstrapping with a man-in-the-middle and check keys_secret and initialization_attested', false)
    .option('--sessions <n>', '--protocol: sessions from A to B', parseIntOption('--sessions', 1, MAX_SESSIONS), 2)
    .option('--messages <n>', '--protocol: messages A sends per session', parseIntOption('--messages', 1, MAX_MESSAGES), 3)
    .option('--compromise', '--protocol: let the adversary compromise one device and learn its keys', false)
    .option('--no-checker', '--protocol: leave out device C, which checks forwarded messages with CHECK')
    .option(
      '--depth <n>',
      '--protocol: maximum actions per trace (default: enough to reach every state of the unmodified kernel)',
      parseIntOption('--depth', 1, 64),
    )
    .option('--mutant <name>', '--protocol: check this model mutant in place of the reference model')
    .option(
      '--auth-rule <rule>',
      '--protocol: what excuses an accepted message A never sent: key-revealed (any holder of the session key ' +
        'was compromised) or sender-compromised (A was)',
      parseAuthRule,
      'key-revealed',
    )
    .option('--seed <n>', 'seed of the co-simulation transactions', parseIntOption('--seed', 0, 0xffffffff), 1)
    .option('--count <n>', 'co-simulation transactions per mutant', parseIntOption('--count', 1, 1_000_000), 2000)
    .option('--target <which>', 'mutants of the model, the rtl, or all', parseTarget, 'all')
    .option('--only <names>', 'run only these mutants, comma-separated', parseNames)
    .action(async (opts: VerifyOptions, command: Command) => {
      if (!opts.mutants && !opts.protocol && !opts.rtl && !opts.bootstrap) {
        throw new InputError(
          'no check selected: pass --protocol to model-check the protocol, --rtl to prove the RTL properties, ' +
            '--bootstrap to attack bootstrapping, or --mutants to run the mutation kill table',
        );
      }
      rejectUnusedOptions(opts, command);
      if (opts.rtl) runRtlProofs();
      if (opts.bootstrap) await runBootstrapCheck();
      if (opts.protocol) await runProtocol(opts);
      if (opts.mutants) await runMutants(opts);
    });
}

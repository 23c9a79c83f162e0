/**
 * `tnic run a2m`: attested append-only memory on one device. Appends N
 * entries, then looks up and verifies every one, and prints the rates.
 */

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import type { Backend } from '../../stack/tnic_device.ts';
import { runA2m } from '../../systems/a2m/run_a2m.ts';
import { BACKEND_HELP, parseBackend, parseIntOption } from '../options.ts';
import { registerRunSystems } from './run_systems.ts';

const MAX_ENTRIES = 10_000_000;

export function registerRun(program: Command): void {
  const run = program.command('run').description('run a system built on the TNIC API (A2M, BFT, chain replication, PeerReview)');

  run
    .command('a2m')
    .description('append entries to an attested log, then look up and verify every one')
    .option(
      '--entries <n>',
      `entries to append, then look up and verify (1..${MAX_ENTRIES})`,
      parseIntOption('--entries', 1, MAX_ENTRIES),
      1000,
    )
    .option('--backend <name>', BACKEND_HELP, parseBackend, 'model')
    .action(async (opts: { entries: number; backend: Backend }) => {
      const result = await runA2m({
        entries: opts.entries,
        backend: opts.backend,
        log: (line) => console.error(line),
      });

      console.log(`appends/s        ${Math.round(result.appendsPerSec)}`);
      console.log(`lookups/s        ${Math.round(result.lookupsPerSec)} (each with verifyLookup)`);
      console.log(`entries checked  ${result.verified + result.failed} of ${result.entries}`);
      console.log(`verified         ${result.verified}`);
      console.log(`failed           ${result.failed}`);
      if (result.failed > 0) {
        throw new TnicError('a2m-failed', `${result.failed} of ${result.entries} entries failed verifyLookup`);
      }
    });

  registerRunSystems(run);
}

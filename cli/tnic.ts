/**
 * The `tnic` command line. Every command throws TnicError for expected
 * failures (bad input, Verilator missing, a mismatch); this file prints its
 * message as one line and exits non-zero. Anything else is a bug and keeps
 * its stack trace.
 */

import { Command } from 'commander';

import { TnicError } from '../sim/errors.ts';
import { registerBench } from './commands/bench.ts';
import { registerCosim } from './commands/cosim.ts';
import { registerDemo } from './commands/demo.ts';
import { registerHw } from './commands/hw.ts';
import { registerKernel } from './commands/kernel.ts';
import { registerRun } from './commands/run.ts';
import { registerSim } from './commands/sim.ts';
import { registerWave } from './commands/wave.ts';

const program = new Command();
program
  .name('tnic')
  .description('Trusted NIC toolkit: attestation kernel (Verilog and TypeScript model), stack and systems')
  .showHelpAfterError('(run with --help for usage)');

registerDemo(program);
registerKernel(program);
registerCosim(program);
registerRun(program);
registerSim(program);
registerHw(program);
registerBench(program);
registerWave(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof TnicError)) throw err;
  console.error(`error: ${err.message}`);
  process.exitCode = err.code === 'invalid-input' ? 2 : 1;
}

/**
 * The `tnic` command line. Every command throws TnicError for expected
 * failures (bad input, Verilator missing, a mismatch), and this file prints
 * its message as one line and exits non-zero. File-system errors on paths
 * the user gave get one line too. Anything else is a bug and keeps its
 * stack trace.
 */

import { Command, CommanderError } from 'commander';

import { TnicError } from '../sim/errors.ts';
import { registerBench } from './commands/bench.ts';
import { registerCosim } from './commands/cosim.ts';
import { registerDemo } from './commands/demo.ts';
import { registerHw } from './commands/hw.ts';
import { registerKernel } from './commands/kernel.ts';
import { registerLincheck } from './commands/lincheck.ts';
import { registerNode } from './commands/node.ts';
import { registerRun } from './commands/run.ts';
import { registerVerify } from './commands/verify.ts';
import { registerSim } from './commands/sim.ts';
import { registerWave } from './commands/wave.ts';

const program = new Command();
program
  .name('tnic')
  .description('Trusted NIC toolkit: attestation kernel (Verilog and TypeScript model), stack and systems')
  .showHelpAfterError('(run with --help for usage)')
  // Usage errors exit 2 like the tool's own input checks; commander has printed them already.
  .exitOverride();

registerDemo(program);
registerKernel(program);
registerCosim(program);
registerRun(program);
registerSim(program);
registerHw(program);
registerVerify(program);
registerBench(program);
registerWave(program);
registerLincheck(program);
registerNode(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const fsError = fileSystemError(err);
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (fsError) {
    console.error(`error: ${fsError}`);
    process.exitCode = 2;
  } else if (err instanceof TnicError) {
    console.error(`error: ${err.message}`);
    process.exitCode = err.code === 'invalid-input' ? 2 : 1;
  } else {
    throw err;
  }
}

/** Describe a file-system error on a path the user gave in one line, or return undefined for other errors. */
function fileSystemError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  const reasons: Record<string, string> = {
    ENOENT: 'not found',
    EEXIST: 'a file exists there, but a folder is expected',
    EISDIR: 'is a folder, but a file is expected',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EACCES: 'permission denied',
    EROFS: 'read-only file system',
  };
  const reason = reasons[e.code];
  if (reason === undefined) return undefined;
  return `${e.syscall ?? 'access'} ${e.path} failed: ${reason}; check the path`;
}

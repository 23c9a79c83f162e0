/**
 * The `tnic` command line. Every command throws TnicError for expected
 * failures (bad input, Verilator missing, a mismatch), and this file prints
 * its message as one line and exits non-zero. File-system errors on paths
 * the user gave get one line too. Anything else is a bug and keeps its
 * stack trace. When stdout closes early (`tnic ... | head -1`), the command
 * stops quietly with the exit code it had already set, or 0.
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

/** The reason and the fix of each file-system error code that a path the user gave can cause. */
const FILE_SYSTEM_ERRORS: Record<string, { reason: string; fix: string }> = {
  ENOENT: { reason: 'not found', fix: 'check the path' },
  EEXIST: { reason: 'already exists', fix: 'check the path' },
  EISDIR: { reason: 'is a folder, but a file is expected', fix: 'check the path' },
  ENOTDIR: { reason: 'a part of the path is a file, not a folder', fix: 'check the path' },
  EACCES: { reason: 'permission denied', fix: 'check the path and its permissions' },
  EPERM: { reason: 'operation not permitted', fix: 'give a path you may write to' },
  EROFS: { reason: 'read-only file system', fix: 'give a path on a writable file system' },
  EBUSY: { reason: 'resource busy or locked', fix: 'stop the program that uses it or give another path' },
  ENOSPC: { reason: 'no space left on the device', fix: 'free some space or give a path on another file system' },
  ELOOP: { reason: 'too many levels of symbolic links', fix: 'check the symbolic links on the path' },
  ENAMETOOLONG: { reason: 'file name too long', fix: 'give a shorter path' },
};

process.stdout.on('error', stopOnClosedStdout);

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

/**
 * Stop without a stack trace when the reader of stdout has gone (EPIPE), as
 * `head` does after its lines. Exit handlers still run, so baseline servers
 * remove their socket folders.
 */
function stopOnClosedStdout(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
}

/** Describe a file-system error on a path the user gave in one line, or return undefined for other errors. */
function fileSystemError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  const known = FILE_SYSTEM_ERRORS[e.code];
  if (known === undefined) return undefined;
  // A recursive mkdir fails with EEXIST only where a file sits in place of a folder.
  const reason = e.code === 'EEXIST' && e.syscall === 'mkdir' ? 'a file exists there, but a folder is expected' : known.reason;
  return `${e.syscall ?? 'access'} ${e.path} failed: ${reason}; ${known.fix}`;
}

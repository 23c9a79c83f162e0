/**
 * Parsers for CLI option values, each rejecting with the value and the
 * accepted range, and checks of output paths that run before a command's work.
 */

import { closeSync, existsSync, lstatSync, mkdirSync, openSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { InputError } from '../sim/errors.ts';
import { BACKENDS, type Backend } from '../stack/tnic_device.ts';

/** Help text of every --backend option. */
export const BACKEND_HELP =
  'device backend: model (cycle model), rtl (Verilator), or the CPU baselines ssl-lib, ssl-server, ' +
  'sgx, sev (software HMAC; sgx and sev only model the TEE latency)';

export function parseBackend(value: string): Backend {
  if ((BACKENDS as readonly string[]).includes(value)) return value as Backend;
  throw new InputError(`--backend '${value}' is not a known backend; use one of: ${BACKENDS.join(', ')}`);
}

/** Make a parser for an integer option within [min, max]. */
export function parseIntOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InputError(`${name} '${value}' is not an integer in ${min}..${max}`);
    }
    return n;
  };
}

/** Kernel pseudo file systems: recursive mkdir under /proc never returns on Node 20, and /sys takes no files. */
const PSEUDO_FILE_SYSTEMS = ['/proc', '/sys'];

/**
 * Reject an output path under /proc or /sys before anything touches it,
 * following symbolic links of the part of the path that exists.
 */
export function rejectPseudoFileSystem(option: string, path: string): void {
  const absolute = resolve(path);
  let existing = absolute;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    // An unreadable ancestor: the later write reports it.
  }
  for (const root of PSEUDO_FILE_SYSTEMS) {
    const under = (p: string): boolean => p === root || p.startsWith(`${root}/`);
    if (under(absolute) || under(real)) {
      throw new InputError(`${option} ${path} is under ${root}, a kernel file system that takes no output; give a folder elsewhere`);
    }
  }
}

/**
 * Create the output folder of `option` and check that files can be written
 * into it, so that a command fails before its work rather than after.
 * File-system errors propagate as they are; the CLI prints them as one line.
 */
export function prepareOutputDir(option: string, dir: string): void {
  rejectPseudoFileSystem(option, dir);
  mkdirSync(dir, { recursive: true });
  const probe = join(dir, `.tnic-write-check-${process.pid}`);
  writeFileSync(probe, '');
  rmSync(probe);
}

/**
 * Check that the output file of `option` can be written, without changing
 * an existing file or leaving a new one behind.
 */
export function checkOutputFile(option: string, path: string): void {
  rejectPseudoFileSystem(option, path);
  let exists = true;
  try {
    lstatSync(path);
  } catch {
    exists = false;
  }
  if (exists) {
    // Opening for writing without truncation; a dangling or looping symbolic link fails here too.
    closeSync(openSync(path, 'r+'));
    return;
  }
  closeSync(openSync(path, 'wx'));
  rmSync(path);
}

/**
 * Mutated copies of the kernel RTL. The Verilog sources are copied to
 * build/mutants/<name>/hw/ with the mutant applied, and the Verilator
 * harness is built from that copy into build/mutants/<name>/rtl/<hash>/,
 * with the same flags and harness source as verify/build_rtl.ts. The hash
 * covers the mutated sources, the harness and the flags, so an unchanged
 * mutant reuses its binary. hw/ itself is never written.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { TnicError } from '../../sim/errors.ts';
import { HARNESS_CPP, REPO_ROOT, RTL_INCLUDES, RTL_SOURCES, VERILATOR_FLAGS, buildHarness } from '../build_rtl.ts';
import { RtlKernel } from '../rtl_bridge.ts';
import { applyMutant, type Mutant } from './mutant.ts';
import { MUTANT_BUILD_DIR } from './model_mutant.ts';

const HW_DIR = join(REPO_ROOT, 'hw');

/** Verilator flags of the plain (untraced) harness, the same as for hw/. */
export const MUTANT_VERILATOR_FLAGS = VERILATOR_FLAGS;

/** Source files of hw/ with `mutant` applied to its file, keyed by file name. */
export function rtlSources(mutant: Mutant | undefined): Map<string, string> {
  const files = new Map<string, string>();
  for (const file of [...RTL_SOURCES, ...RTL_INCLUDES]) {
    files.set(file, readFileSync(join(HW_DIR, file), 'utf8'));
  }
  if (!mutant) return files;

  const name = mutant.file.startsWith('hw/') ? mutant.file.slice('hw/'.length) : undefined;
  const original = name === undefined ? undefined : files.get(name);
  if (mutant.target !== 'rtl' || name === undefined || original === undefined) {
    throw new TnicError('invalid-mutant', `mutant ${mutant.name} changes ${mutant.file}, which is not an RTL source in hw/`);
  }
  files.set(name, applyMutant(mutant, original));
  return files;
}

export interface RtlBuildOptions {
  /** Called with one line when a build starts and when it ends. */
  log?: (line: string) => void;
}

/**
 * Write the mutated copy of hw/ and return the path of its harness binary,
 * building it with Verilator unless a build of the same sources exists.
 */
export function buildRtlMutant(mutant: Mutant, options: RtlBuildOptions = {}): string {
  const root = join(MUTANT_BUILD_DIR, mutant.name);
  const hwCopy = join(root, 'hw');
  const sources = rtlSources(mutant);

  const hash = createHash('sha256');
  for (const [file, text] of sources) hash.update(file).update(text);
  hash.update(readFileSync(HARNESS_CPP)).update(MUTANT_VERILATOR_FLAGS.join(' '));
  const digest = hash.digest('hex').slice(0, 16);

  const buildDir = join(root, 'rtl');
  const target = join(buildDir, digest);
  const binary = join(target, 'tnic_harness');
  if (existsSync(binary)) return binary;

  mkdirSync(hwCopy, { recursive: true });
  for (const [file, text] of sources) writeFileSync(join(hwCopy, file), text);

  const log = options.log ?? (() => {});
  const started = Date.now();
  buildHarness({ hwDir: hwCopy, buildDir, hash: digest, flags: MUTANT_VERILATOR_FLAGS, what: `the ${mutant.name} RTL harness`, log });

  // Builds of older versions of this mutant; scratch folders of running builds stay.
  for (const entry of readdirSync(buildDir)) {
    if (entry !== digest && /^[0-9a-f]{16}$/.test(entry)) rmSync(join(buildDir, entry), { recursive: true, force: true });
  }
  log(`built the ${mutant.name} RTL harness in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return binary;
}

/** Start an RTL backend on the harness binary at `binary`. */
export function startRtlKernel(binary: string): RtlKernel {
  return RtlKernel.fromBinary(binary);
}

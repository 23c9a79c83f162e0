/**
 * Builds the Verilator harness of the kernel into build/rtl/<hash>/, where
 * the hash covers the RTL sources, the harness and the build flags, so a
 * change under hw/ triggers a rebuild and an unchanged tree reuses the
 * binary. Concurrent builds (parallel test files) each build in a private
 * folder and the first rename wins.
 */

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InputError, TnicError } from '../sim/errors.ts';
import { DATA_WIDTHS } from '../sim/cycle/tnic_kernel.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HW_DIR = join(REPO_ROOT, 'hw');
export const HARNESS_CPP = join(REPO_ROOT, 'verify', 'harness', 'tnic_harness.cpp');
const BUILD_DIR = join(REPO_ROOT, 'build', 'rtl');

export const RTL_SOURCES = ['tnic_adder.v', 'tnic_sha256_core.v', 'tnic_engine.v', 'tnic_key_unit.v', 'tnic_kernel.v'];
export const RTL_INCLUDES = ['tnic_defs.vh'];
export const VERILATOR_FLAGS = ['--cc', '--exe', '--build', '-j', '2', '-O2', '-Wall', '--top-module', 'tnic_kernel'];
const TRACE_FLAGS = ['--trace', '-CFLAGS', '-DTNIC_TRACE'];

/** Fail with the install command when Verilator is not on PATH. */
export function verilatorVersion(): string {
  const probe = spawnSync('verilator', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new TnicError(
      'verilator-missing',
      'verilator not found on PATH; install it with `apt-get install -y verilator` ' +
        '(or run `bash scripts/setup.sh`), or use --backend model',
    );
  }
  return probe.stdout.trim();
}

function sourceHash(flags: string[]): string {
  const hash = createHash('sha256');
  for (const file of [...RTL_SOURCES, ...RTL_INCLUDES]) {
    hash.update(file).update(readFileSync(join(HW_DIR, file)));
  }
  hash.update(readFileSync(HARNESS_CPP));
  hash.update(flags.join(' '));
  return hash.digest('hex').slice(0, 16);
}

export interface BuildOptions {
  /** Called with one line when a build starts and when it ends. */
  log?: (line: string) => void;
  /** Build the variant that can write a VCD trace (slower to build and to run). */
  trace?: boolean;
  /** DATA_W of the kernel, the input stream width in bits: 32 (the default), 64 or 128. */
  dataWidth?: number;
}

/** Verilator flags of a build: the kernel's DATA_W and the harness's matching TNIC_DATA_W. */
export function buildFlags(trace: boolean, dataWidth = 32): string[] {
  if (!DATA_WIDTHS.includes(dataWidth)) {
    throw new InputError(`data width ${dataWidth} is not supported; use 32, 64 or 128 bits`);
  }
  const width = dataWidth === 32 ? [] : [`-GDATA_W=${dataWidth}`, '-CFLAGS', `-DTNIC_DATA_W=${dataWidth}`];
  return [...VERILATOR_FLAGS, ...(trace ? TRACE_FLAGS : []), ...width];
}

/** Return the path of an up-to-date harness binary, building it if needed. */
export function ensureRtlBuilt(options: BuildOptions = {}): string {
  const flags = buildFlags(options.trace ?? false, options.dataWidth);
  const hash = sourceHash(flags);
  const target = join(BUILD_DIR, hash);
  const binary = join(target, 'tnic_harness');
  if (existsSync(binary)) return binary;

  const log = options.log ?? (() => {});
  const started = Date.now();
  buildHarness({ hwDir: HW_DIR, buildDir: BUILD_DIR, hash, flags, what: 'the RTL harness', log });
  removeStaleBuilds(new Set([hash, ...currentHashes()]));
  log(`built the RTL harness in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return binary;
}

export interface HarnessBuild {
  /** Folder with the RTL_SOURCES and includes to build. */
  hwDir: string;
  /** The binary goes to buildDir/hash/tnic_harness. */
  buildDir: string;
  hash: string;
  flags: readonly string[];
  /** Named in log lines and errors, e.g. "the RTL harness". */
  what: string;
  log: (line: string) => void;
}

/**
 * Build the Verilator harness from `hwDir` into buildDir/hash/. The build
 * runs in a private scratch folder that is renamed at the end, so
 * concurrent builds of the same sources do not collide: the first rename
 * wins and the others use its binary.
 */
export function buildHarness(b: HarnessBuild): string {
  const target = join(b.buildDir, b.hash);
  const binary = join(target, 'tnic_harness');
  b.log(`building ${b.what} with ${verilatorVersion()} into ${target}`);

  mkdirSync(b.buildDir, { recursive: true });
  const scratch = join(b.buildDir, `tmp-${b.hash}-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  const args = [
    ...b.flags,
    `-I${b.hwDir}`,
    ...RTL_SOURCES.map((f) => join(b.hwDir, f)),
    HARNESS_CPP,
    '-Mdir',
    scratch,
    '-o',
    'tnic_harness',
  ];
  const build = spawnSync('verilator', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (build.status !== 0) {
    const tail = `${build.stdout}\n${build.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new TnicError('rtl-build-failed', `verilator build of ${b.what} failed:\n${tail}`);
  }

  try {
    renameSync(scratch, target);
  } catch (err) {
    // Another process finished the same build first; use its binary.
    if (!existsSync(binary)) throw err;
    rmSync(scratch, { recursive: true, force: true });
  }
  return binary;
}

/** Hashes of every variant (trace or not, each data width) of the current sources. */
function currentHashes(): string[] {
  return DATA_WIDTHS.flatMap((w) => [sourceHash(buildFlags(false, w)), sourceHash(buildFlags(true, w))]);
}

/** Delete harness builds of older sources; in-progress scratch folders stay. */
function removeStaleBuilds(current: Set<string>): void {
  for (const entry of readdirSync(BUILD_DIR)) {
    if (!current.has(entry) && /^[0-9a-f]{16}$/.test(entry)) {
      rmSync(join(BUILD_DIR, entry), { recursive: true, force: true });
    }
  }
}

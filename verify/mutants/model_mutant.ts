/**
 * Mutated copies of the reference model. The copy of sim/tnic_kernel.ts is
 * written under build/mutants/<name>/model/ with its relative imports
 * rewritten to point back at the original sim/ modules, then loaded with a
 * dynamic import. The original file is never written.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

import { TnicError } from '../../sim/errors.ts';
import type { TnicKernelModel } from '../../sim/tnic_kernel.ts';
import { REPO_ROOT } from '../build_rtl.ts';
import { applyMutant, type Mutant } from './mutant.ts';

export const MUTANT_BUILD_DIR = join(REPO_ROOT, 'build', 'mutants');
const MODEL_FILE = 'sim/tnic_kernel.ts';

/** Name of the build folder of the unmutated copies. */
export const BASELINE_NAME = 'baseline';

// Specifiers of `import ... from './x'`, `export ... from '../y'` and `import('./z')`.
const RELATIVE_IMPORT = /(\bfrom\s+|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\2/g;

/**
 * Rewrite the relative import specifiers of `text`, a module that lived in
 * `sourceDir`, so that it resolves the same files from `copyDir`.
 */
export function rewriteRelativeImports(text: string, sourceDir: string, copyDir: string): string {
  return text.replace(RELATIVE_IMPORT, (_match, lead: string, quote: string, specifier: string) => {
    let path = relative(copyDir, resolve(sourceDir, specifier)).split(sep).join('/');
    if (!path.startsWith('.')) path = `./${path}`;
    return `${lead}${quote}${path}${quote}`;
  });
}

/** Source of the model with `mutant` applied, or unchanged for the baseline. */
export function modelSource(mutant: Mutant | undefined): string {
  const source = readFileSync(join(REPO_ROOT, MODEL_FILE), 'utf8');
  if (!mutant) return source;
  if (mutant.target !== 'model' || mutant.file !== MODEL_FILE) {
    throw new TnicError('invalid-mutant', `mutant ${mutant.name} changes ${mutant.file}, not the model ${MODEL_FILE}`);
  }
  return applyMutant(mutant, source);
}

export type KernelModelClass = typeof TnicKernelModel;

/**
 * Write the mutated copy of the model and import its TnicKernelModel class.
 * The file name carries a hash of the text, so a process that imported an
 * older copy never gets it back from the module cache.
 */
export async function loadModelMutant(mutant: Mutant | undefined): Promise<KernelModelClass> {
  const copyDir = join(MUTANT_BUILD_DIR, mutant?.name ?? BASELINE_NAME, 'model');
  const sourceDir = dirname(join(REPO_ROOT, MODEL_FILE));
  const text = rewriteRelativeImports(modelSource(mutant), sourceDir, copyDir);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  const fileName = `tnic_kernel.${hash}.ts`;

  mkdirSync(copyDir, { recursive: true });
  for (const old of readdirSync(copyDir)) {
    if (old !== fileName && /^tnic_kernel\.[0-9a-f]{12}\.ts$/.test(old)) rmSync(join(copyDir, old), { force: true });
  }
  const path = join(copyDir, fileName);
  // Parallel test workers load the same mutant: write a private file and
  // rename it into place, so no worker imports a half-written copy.
  const scratch = `${path}.${process.pid}.tmp`;
  writeFileSync(scratch, text);
  renameSync(scratch, path);

  const module = (await import(pathToFileURL(path).href)) as { TnicKernelModel?: unknown };
  if (typeof module.TnicKernelModel !== 'function') {
    throw new TnicError('invalid-mutant', `${path} does not export the class TnicKernelModel`);
  }
  return module.TnicKernelModel as KernelModelClass;
}

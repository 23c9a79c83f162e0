/**
 * A mutant is a seeded bug: named text substitutions on one source file of
 * the kernel, applied to a copy and never to the original. Each substitution
 * must match exactly once, so a mutant whose source text changed fails
 * loudly instead of silently testing the unmodified kernel.
 */

import { TnicError } from '../../sim/errors.ts';

/** Kernel that a mutant changes: the TypeScript reference model or the Verilog. */
export type MutantTarget = 'model' | 'rtl';

export interface Substitution {
  /** Text that must occur exactly once in the source file. */
  find: string;
  replace: string;
}

export interface Mutant {
  /** Name shared by the model and RTL versions of the same bug. */
  name: string;
  target: MutantTarget;
  /** Source file the substitutions apply to, relative to the repository root. */
  file: string;
  /** The bug in one sentence, for the kill table. */
  description: string;
  substitutions: Substitution[];
}

/** Count the non-overlapping occurrences of `needle` in `text`. */
function countOccurrences(text: string, needle: string): number {
  if (needle.length === 0) return 0;
  return text.split(needle).length - 1;
}

/**
 * Apply every substitution of `mutant` to `source`, the text of `mutant.file`,
 * and return the mutated text. Throws when a substitution matches zero times
 * or more than once, or leaves the text unchanged.
 */
export function applyMutant(mutant: Mutant, source: string): string {
  let text = source;
  for (const [i, sub] of mutant.substitutions.entries()) {
    const where = `mutant ${mutant.name} (${mutant.target}) substitution ${i + 1} on ${mutant.file}`;
    const matches = countOccurrences(text, sub.find);
    if (matches === 0) {
      throw new TnicError(
        'mutant-stale',
        `${where}: text not found, so the source changed; update the mutant to the new text: ` +
          JSON.stringify(sub.find),
      );
    }
    if (matches > 1) {
      throw new TnicError(
        'mutant-ambiguous',
        `${where}: text matches ${matches} times; extend it until it matches once: ${JSON.stringify(sub.find)}`,
      );
    }
    if (sub.find === sub.replace) {
      throw new TnicError('mutant-no-op', `${where}: the replacement equals the original text`);
    }
    text = text.replace(sub.find, () => sub.replace);
  }
  return text;
}

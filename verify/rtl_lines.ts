/**
 * Size of the kernel's trusted computing base in RTL lines: the lines of
 * hw/*.v and hw/*.vh that contain code, so blank lines and lines inside `//`
 * or `/* ... *\/` comments do not count. A line with code and a trailing
 * comment counts once.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO_ROOT } from './build_rtl.ts';

export const HW_DIR = join(REPO_ROOT, 'hw');

export interface RtlLineCount {
  files: { file: string; lines: number }[];
  total: number;
}

/** Count the lines of `text` that contain Verilog code; `//` or `/*` inside a string literal starts no comment. */
export function countCodeLines(text: string): number {
  let inBlock = false;
  let count = 0;
  for (const line of text.split('\n')) {
    let hasCode = false;
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      const next = line[i + 1];
      if (inBlock) {
        if (c === '*' && next === '/') {
          inBlock = false;
          i++;
        }
      } else if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '/' && next === '/') {
        break;
      } else if (c === '/' && next === '*') {
        inBlock = true;
        i++;
      } else if (c === '"') {
        inString = true;
        hasCode = true;
      } else if (c.trim() !== '') {
        hasCode = true;
      }
    }
    if (hasCode) count++;
  }
  return count;
}

/** Count the code lines of every .v and .vh file in `dir` (default hw/). */
export function countRtlLines(dir: string = HW_DIR): RtlLineCount {
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.v') || name.endsWith('.vh'))
    .sort();
  const files = names.map((file) => ({ file, lines: countCodeLines(readFileSync(join(dir, file), 'utf8')) }));
  return { files, total: files.reduce((sum, f) => sum + f.lines, 0) };
}

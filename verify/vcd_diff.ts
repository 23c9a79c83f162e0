/**
 * Compares two VCD files signal by signal. Signals are matched by their full
 * hierarchical name (scope path and name, without the bit range) and values
 * by number. The result is the first time at which a signal present in both
 * files has different values. Signals present in only one file are counted,
 * not compared.
 */

import { readFileSync } from 'node:fs';

import { InputError } from '../sim/errors.ts';

interface Vcd {
  /** Full name -> identifier code. */
  names: Map<string, string>;
  /** Value changes in file order: time, identifier code, value. */
  changes: { time: number; id: string; value: string }[];
}

export function parseVcd(path: string): Vcd {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read VCD file ${path} (${(err as NodeJS.ErrnoException).code ?? err}); check the path`);
  }
  const tokens = text.split(/\s+/).filter((t) => t !== '');
  const names = new Map<string, string>();
  const scope: string[] = [];
  let i = 0;
  for (; i < tokens.length && tokens[i] !== '$enddefinitions'; i++) {
    if (tokens[i] === '$scope') {
      scope.push(tokens[i + 2]!);
      i += 3;
    } else if (tokens[i] === '$upscope') {
      scope.pop();
    } else if (tokens[i] === '$var') {
      // $var <type> <width> <id> <name> [range] $end
      const id = tokens[i + 3]!;
      const name = tokens[i + 4]!;
      const full = [...scope, name].join('.');
      if (!names.has(full)) names.set(full, id);
      i += 4;
    }
  }
  if (i >= tokens.length) throw new InputError(`${path} is not a VCD file: no $enddefinitions`);

  const changes: Vcd['changes'] = [];
  let time = 0;
  for (i++; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.startsWith('#')) {
      time = Number(t.slice(1));
    } else if (t[0] === 'b' || t[0] === 'B' || t[0] === 'r' || t[0] === 'R') {
      changes.push({ time, id: tokens[i + 1]!, value: t.slice(1) });
      i++;
    } else if (t.startsWith('$')) {
      // $dumpvars, $end and the like carry no value themselves.
    } else {
      changes.push({ time, id: t.slice(1), value: t[0]! });
    }
  }
  return { names, changes };
}

/** Convert a value to a canonical string: binary digits as a hex number, x and z kept. */
function canonical(value: string): string {
  if (/^[01]+$/.test(value)) return BigInt(`0b${value}`).toString(16);
  return value.toLowerCase();
}

export interface WaveDiff {
  common: number;
  onlyA: number;
  onlyB: number;
  first?: { time: number; signal: string; a: string; b: string };
}

export function diffVcd(pathA: string, pathB: string): WaveDiff {
  const a = parseVcd(pathA);
  const b = parseVcd(pathB);
  const common = [...a.names.keys()].filter((n) => b.names.has(n));
  const byIdA = new Map<string, string[]>();
  const byIdB = new Map<string, string[]>();
  for (const n of common) {
    byIdA.set(a.names.get(n)!, [...(byIdA.get(a.names.get(n)!) ?? []), n]);
    byIdB.set(b.names.get(n)!, [...(byIdB.get(b.names.get(n)!) ?? []), n]);
  }

  const valueA = new Map<string, string>();
  const valueB = new Map<string, string>();
  let ia = 0;
  let ib = 0;
  const result: WaveDiff = { common: common.length, onlyA: a.names.size - common.length, onlyB: b.names.size - common.length };
  while (ia < a.changes.length || ib < b.changes.length) {
    const time = Math.min(a.changes[ia]?.time ?? Infinity, b.changes[ib]?.time ?? Infinity);
    const touched = new Set<string>();
    for (; ia < a.changes.length && a.changes[ia]!.time === time; ia++) {
      for (const n of byIdA.get(a.changes[ia]!.id) ?? []) {
        valueA.set(n, canonical(a.changes[ia]!.value));
        touched.add(n);
      }
    }
    for (; ib < b.changes.length && b.changes[ib]!.time === time; ib++) {
      for (const n of byIdB.get(b.changes[ib]!.id) ?? []) {
        valueB.set(n, canonical(b.changes[ib]!.value));
        touched.add(n);
      }
    }
    for (const n of [...touched].sort()) {
      const va = valueA.get(n) ?? 'x';
      const vb = valueB.get(n) ?? 'x';
      if (va !== vb) {
        result.first = { time, signal: n, a: va, b: vb };
        return result;
      }
    }
  }
  return result;
}

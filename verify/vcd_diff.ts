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
  /** The $timescale text, e.g. "1ps". */
  timescale: string;
  /** Last time stamp in the file. */
  end: number;
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
  const split = text.indexOf('$enddefinitions');
  if (split < 0) throw new InputError(`${path} is not a VCD file: no $enddefinitions`);
  const tokens = text.slice(0, split).split(/\s+/).filter((t) => t !== '');
  const names = new Map<string, string>();
  const ids = new Set<string>();
  const scope: string[] = [];
  let timescale = '';
  let i = 0;
  for (; i < tokens.length; i++) {
    if (tokens[i] === '$timescale') {
      for (i++; i < tokens.length && tokens[i] !== '$end'; i++) timescale += tokens[i];
    } else if (tokens[i] === '$scope') {
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
      ids.add(id);
      i += 4;
    }
  }

  // Value changes, line by line so that an error can name the line.
  const changes: Vcd['changes'] = [];
  const firstLine = text.slice(0, split).split('\n').length;
  const body = text.slice(split).split('\n');
  let time = 0;
  body.forEach((raw, n) => {
    const where = `${path}:${firstLine + n}`;
    const fields = raw.trim().split(/\s+/).filter((f) => f !== '');
    for (let k = 0; k < fields.length; k++) {
      const t = fields[k]!;
      let id: string;
      let value: string;
      if (t.startsWith('#')) {
        const next = Number(t.slice(1));
        if (!Number.isInteger(next) || next < 0) throw new InputError(`${where}: time ${t} is not a whole number`);
        if (next < time) throw new InputError(`${where}: time ${t} is before the previous time #${time}`);
        time = next;
        continue;
      } else if (t.startsWith('$')) {
        continue; // $enddefinitions, $dumpvars, $end and the like carry no value.
      } else if (/^[bBrR]/.test(t)) {
        value = t.slice(1);
        checkVectorValue(t, where);
        id = fields[++k] ?? '';
        if (id === '') throw new InputError(`${where}: value '${t.slice(0, 40)}' has no identifier after it; check the file`);
      } else if (/^[01xXzZ]/.test(t)) {
        id = t.slice(1);
        value = t[0]!;
      } else {
        throw new InputError(`${where}: '${t.slice(0, 20)}' is not a VCD value change or time`);
      }
      if (!ids.has(id)) throw new InputError(`${where}: value change for undeclared identifier '${id}'`);
      changes.push({ time, id, value });
    }
  });
  return { timescale, end: time, names, changes };
}

/**
 * Check a vector or real value change token: `b` (or `B`) followed by the
 * digits 0, 1, x and z in either case, or `r` (or `R`) followed by a number.
 */
function checkVectorValue(token: string, where: string): void {
  const excerpt = token.length > 40 ? `${token.slice(0, 40)}...` : token;
  const digits = token.slice(1);
  if (/^[bB]/.test(token) && !/^[01xXzZ]+$/.test(digits)) {
    throw new InputError(
      `${where}: value '${excerpt}' is not a VCD vector value; use b followed by the digits 0, 1, x or z`,
    );
  }
  if (/^[rR]/.test(token) && (digits.trim() === '' || !Number.isFinite(Number(digits)))) {
    throw new InputError(`${where}: value '${excerpt}' is not a VCD real value; use r followed by a number`);
  }
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
  /** When no value differs but one trace ends first: the end times. */
  ends?: { a: number; b: number };
}

export function diffVcd(pathA: string, pathB: string): WaveDiff {
  const a = parseVcd(pathA);
  const b = parseVcd(pathB);
  if (a.timescale !== b.timescale) {
    throw new InputError(
      `timescales differ: ${pathA} has ${a.timescale || 'none'}, ${pathB} has ${b.timescale || 'none'}; ` +
        'compare traces written with the same timescale',
    );
  }
  const endTime = Math.min(a.end, b.end);
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
    // Past the end of the shorter trace nothing is compared.
    if (time > endTime) break;
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
  if (a.end !== b.end) result.ends = { a: a.end, b: b.end };
  return result;
}

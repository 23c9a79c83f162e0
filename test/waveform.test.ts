import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { generateTransactions } from '../verify/cosim.ts';
import { traceBoth } from '../verify/trace_run.ts';
import { diffVcd } from '../verify/vcd_diff.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-wave-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('VCD traces of model and RTL', () => {
  it('match on every signal the model writes, and a changed value is found', async () => {
    const requests = generateTransactions(21, 30).map((t) => t.request);
    const t = await traceBoth(dir, requests, { seed: 5, cmdStall: 20, inStall: 20, resStall: 20, trace: 0 });
    expect(t.diff.first, JSON.stringify(t.diff.first)).toBeUndefined();
    expect(t.diff.common, 'signals the model writes, all found in the Verilator trace').toBeGreaterThan(100);
    expect(t.diff.onlyB, 'model signals missing from the Verilator trace').toBe(0);

    // Change the first value of fe_state_reg after time 1000 in a copy of the model trace.
    const text = readFileSync(t.modelVcd, 'utf8');
    const id = /\$var wire 3 (\S+) fe_state_reg/.exec(text)![1]!;
    const at = text.indexOf('\n#1000\n');
    const change = text.indexOf(` ${id}\n`, at);
    const lineStart = text.lastIndexOf('\n', change) + 1;
    const edited = `${text.slice(0, lineStart)}b111${text.slice(change)}`;
    const copy = join(dir, 'edited.vcd');
    writeFileSync(copy, edited);
    const d = diffVcd(t.rtlVcd, copy);
    expect(d.first?.signal).toBe('TOP.tnic_kernel.fe_state_reg');
    expect(d.first?.b).toBe('7');
  });
});

describe('wave diff parsing', () => {
  const header = ['$timescale 1ps $end', '$scope module TOP $end', '$var wire 4 ! bus [3:0] $end', '$upscope $end'];

  function vcd(name: string, changes: string[]): string {
    const path = join(dir, name);
    writeFileSync(path, [...header, '$enddefinitions $end', '#0', ...changes, ''].join('\n'));
    return path;
  }

  it('accepts x and z digits in either case', () => {
    const a = vcd('xz-lower.vcd', ['bxz01 !', '#10', 'b0000 !']);
    const b = vcd('xz-upper.vcd', ['bXZ01 !', '#10', 'b0000 !']);
    const d = diffVcd(a, b);
    expect(d.first, JSON.stringify(d.first)).toBeUndefined();
    expect(d.common, 'signals in both').toBe(1);
  });

  it.each(['bZQ', 'b', 'b012', 'b1_0'])('rejects the vector value %s with file and line', (value) => {
    const good = vcd('good.vcd', ['b0000 !']);
    const bad = vcd('bad.vcd', ['b0000 !', '#10', `${value} !`]);
    // The value is on line 9, after four header lines, $enddefinitions, #0, the first change and #10.
    expect(() => diffVcd(good, bad)).toThrow(`${bad}:9: value '${value}' is not a VCD vector value`);
  });

  it('rejects a vector value without an identifier', () => {
    const good = vcd('good-id.vcd', ['b0000 !']);
    const bad = vcd('no-id.vcd', ['b0000 !', '#10', 'b0101']);
    expect(() => diffVcd(good, bad)).toThrow(`${bad}:9: value 'b0101' has no identifier after it`);
  });
});

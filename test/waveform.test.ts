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

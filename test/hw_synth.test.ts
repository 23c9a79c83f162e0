import { describe, expect, it } from 'vitest';

import { countCodeLines, countRtlLines } from '../verify/rtl_lines.ts';
import { configName, summarizeCells, synthScript, yosysElaborate } from '../verify/synth.ts';

describe('RTL line count', () => {
  it('skips blank and comment lines', () => {
    const text = [
      '// banner',
      '',
      'module m (input wire a); // trailing comment',
      '  /* block',
      '     comment */',
      '  wire b; /* inline */ wire c;',
      '  /* one line */',
      '  initial $display("// not a comment");',
      'endmodule',
    ].join('\n');
    expect(countCodeLines(text)).toBe(4);
  });

  it('counts every hw source and header', () => {
    const count = countRtlLines();
    const names = count.files.map((f) => f.file);
    expect(names).toContain('tnic_kernel.v');
    expect(names).toContain('tnic_defs.vh');
    expect(count.files.every((f) => f.lines > 0)).toBe(true);
    expect(count.total).toBe(count.files.reduce((sum, f) => sum + f.lines, 0));
  });
});

describe('yosys', () => {
  it('elaborates the kernel with hierarchy -check and proc', () => {
    const r = yosysElaborate();
    expect(r.output.trim(), r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('script sets N_SESSIONS and synthesizes out of context', () => {
    const script = synthScript({ sessions: 64, flatten: false }, '/tmp/stat.json');
    expect(script).toContain('chparam -set N_SESSIONS 64 tnic_kernel');
    expect(script).toMatch(/synth_xilinx -family xcup -top tnic_kernel -noiopad\n/);
    expect(synthScript({ sessions: 1, flatten: true }, '/tmp/s.json')).toContain('-flatten');
  });

  it('script sets DATA_W when a configuration has one', () => {
    const wide = { sessions: 16, flatten: false, dataWidth: 128 };
    expect(synthScript(wide, '/tmp/stat.json')).toContain('chparam -set N_SESSIONS 16 -set DATA_W 128 tnic_kernel');
    expect(configName(wide)).toBe('sessions-16-data-128');
    expect(configName({ sessions: 16, flatten: false })).toBe('sessions-16');
  });

  it('sums cells into LUT, FF and block RAM counts', () => {
    const summary = summarizeCells({ LUT1: 2, LUT6: 5, RAM64M: 3, SRLC32E: 1, FDRE: 10, FDSE: 1, RAMB36E2: 4, RAMB18E2: 3, INV: 7 });
    expect(summary.lutLogic).toBe(7);
    expect(summary.lutMemory).toBe(13);
    expect(summary.lut).toBe(20);
    expect(summary.ff).toBe(11);
    expect(summary.ramb36).toBe(4);
    expect(summary.ramb18).toBe(3);
    expect(summary.bramRamb36).toBe(5.5);
    expect(summary.inv).toBe(7);
  });
});

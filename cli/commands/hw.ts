/**
 * `tnic hw synth|lint`: FPGA resource counts of the kernel RTL from Yosys,
 * next to the published TNIC prototype, and a Verilator lint.
 */

import { writeFileSync } from 'node:fs';

import type { Command } from 'commander';

import { InputError, TnicError } from '../../sim/errors.ts';
import { lintRtl } from '../../verify/rtl_lint.ts';
import { countRtlLines } from '../../verify/rtl_lines.ts';
import { PROTOTYPE_KERNEL, configName, synthesize, yosysVersion, type SynthReport } from '../../verify/synth.ts';
import { parseIntOption } from '../options.ts';

/** Parse a comma-separated list of N_SESSIONS values, each in 1..65536. */
function parseSessionList(value: string): number[] {
  const parse = parseIntOption('--sessions', 1, 65536);
  const list = value.split(',').map((part) => parse(part.trim()));
  if (list.length === 0) throw new InputError(`--sessions '${value}' names no configuration`);
  return list;
}

const num = (n: number): string => n.toLocaleString('en-US');

function printTable(reports: SynthReport[]): void {
  const header = ['configuration', 'LUT', 'LUT as memory', 'INV', 'FF', 'RAMB36', 'RAMB18', 'URAM', 'DSP', 'time'];
  const rows = reports.map((r) => [
    `N_SESSIONS=${r.config.sessions}${r.config.flatten ? ', flattened' : ''}`,
    num(r.lut),
    num(r.lutMemory),
    num(r.inv),
    num(r.ff),
    num(r.ramb36),
    num(r.ramb18),
    num(r.uram),
    num(r.dsp),
    `${r.seconds.toFixed(0)} s`,
  ]);
  rows.push(['TNIC prototype (published)', num(PROTOTYPE_KERNEL.lut), '', '', num(PROTOTYPE_KERNEL.ff), num(PROTOTYPE_KERNEL.ramb36), '', '', '', '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  rows.forEach((row) => console.log(line(row)));
}

export function registerHw(program: Command): void {
  const hw = program.command('hw').description('hardware reports on the kernel RTL (synthesis, lint)');

  hw.command('synth')
    .description('synthesize the kernel with yosys synth_xilinx -family xcup and count LUT, FF and block RAM')
    .option('--sessions <list>', 'N_SESSIONS values to synthesize, comma-separated (default: 16)', parseSessionList)
    .option('--flatten', 'flatten the hierarchy before synthesis (slower)', false)
    .option('--timeout <seconds>', 'stop yosys after this many seconds per configuration', parseIntOption('--timeout', 10, 86_400), 3600)
    .option('--json <file>', 'also write the counts as JSON to this file')
    .action(async (opts: { sessions?: number[]; flatten: boolean; timeout: number; json?: string }) => {
      const version = yosysVersion();
      const lines = countRtlLines();
      const sessionList = opts.sessions ?? [16];
      console.log(`hw synth: ${version}; ${sessionList.length} configuration(s)`);
      const reports: SynthReport[] = [];
      for (const sessions of sessionList) {
        const config = { sessions, flatten: opts.flatten };
        reports.push(await synthesize(config, { log: (l) => console.log(l), timeoutMs: opts.timeout * 1000 }));
      }

      console.log('');
      printTable(reports);
      console.log('');
      console.log(`RTL lines (code lines of hw/*.v and hw/*.vh): ${num(lines.total)}; TNIC prototype: ${num(PROTOTYPE_KERNEL.rtlLines)}`);
      console.log('NOTE: counts are yosys cells, not a Vivado utilization report; INV cells are not in the LUT column.');
      if (opts.json) {
        const json = {
          yosys: version,
          family: 'xcup',
          configurations: reports.map((r) => ({ name: configName(r.config), ...r })),
          rtlLines: lines,
          prototype: PROTOTYPE_KERNEL,
        };
        writeFileSync(opts.json, JSON.stringify(json, null, 2) + '\n');
        console.log(`hw synth: wrote ${opts.json}`);
      }
    });

  hw.command('lint')
    .description('lint the kernel RTL with verilator --lint-only -Wall')
    .action(() => {
      const result = lintRtl();
      if (result.output) console.log(result.output);
      if (result.status !== 0 || result.output !== '') {
        throw new TnicError('lint-failed', `verilator lint reported problems (exit code ${result.status})`);
      }
      console.log('hw lint: verilator --lint-only -Wall reports nothing');
    });
}

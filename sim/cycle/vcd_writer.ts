/**
 * VCD trace of the cycle model with the hierarchy and signal names that
 * Verilator gives the RTL (TOP, TOP.tnic_kernel, ...g_engine[i].u_engine,
 * ...u_engine.u_core, ...u_key_unit), so both traces overlay in a waveform
 * viewer and `tnic wave diff` can compare them. Timing follows the harness:
 * a clock period is 10 time units, with the rising edge at 10n and the
 * falling edge at 10n + 5. At the rising edge the registers show their new
 * values and the inputs show the values of the cycle just clocked.
 */

import { createWriteStream, type WriteStream } from 'node:fs';

import type { KernelInputs, TnicKernelCycle } from './tnic_kernel.ts';

interface Signal {
  scope: string[];
  name: string;
  width: number;
  read: (k: TnicKernelCycle, i: KernelInputs) => bigint | number | boolean;
}

const words = (w: Uint32Array): bigint => w.reduce((acc, x) => (acc << 32n) | BigInt(x >>> 0), 0n);

function signals(k: TnicKernelCycle): Signal[] {
  const top = ['TOP'];
  const kern = ['TOP', 'tnic_kernel'];
  const engW = Math.max(1, Math.ceil(Math.log2(k.params.nEngines)));
  const lenW = k.params.lenWidth;
  const list: Signal[] = [
    // The clock: written by edge() itself, 1 at the rising edge and 0 at the falling one.
    { scope: top, name: 'clk', width: 1, read: () => 0 },
    { scope: top, name: 'cmd_valid', width: 1, read: (_k, i) => i.cmd_valid },
    { scope: top, name: 'cmd_ready', width: 1, read: (kk) => kk.cmd_ready },
    { scope: top, name: 'cmd_op', width: 3, read: (_k, i) => i.cmd_op },
    { scope: top, name: 'cmd_session', width: 32, read: (_k, i) => i.cmd_session },
    { scope: top, name: 'cmd_len', width: lenW, read: (_k, i) => i.cmd_len },
    { scope: top, name: 'cmd_device', width: 32, read: (_k, i) => i.cmd_device },
    { scope: top, name: 'cmd_counter', width: 64, read: (_k, i) => i.cmd_counter },
    { scope: top, name: 'in_valid', width: 1, read: (_k, i) => i.in_valid },
    { scope: top, name: 'in_ready', width: 1, read: (kk) => kk.in_ready },
    { scope: top, name: 'in_data', width: k.params.dataWidth, read: (_k, i) => words(i.in_data) },
    { scope: top, name: 'res_valid', width: 1, read: (kk) => kk.res_valid_reg },
    { scope: top, name: 'res_ready', width: 1, read: (_k, i) => i.res_ready },
    { scope: top, name: 'res_status', width: 3, read: (kk) => kk.res_status_reg },
    { scope: top, name: 'res_counter', width: 64, read: (kk) => kk.res_counter_reg },
    { scope: top, name: 'res_tag', width: 256, read: (kk) => words(kk.res_tag_reg) },
    { scope: top, name: 'device_id', width: 32, read: (kk) => kk.device_id_reg },
    { scope: top, name: 'locked', width: 1, read: (kk) => kk.locked_reg },
    { scope: kern, name: 'fe_state_reg', width: 3, read: (kk) => kk.fe_state_reg },
    { scope: kern, name: 'fe_engine_reg', width: engW, read: (kk) => kk.fe_engine_reg },
    { scope: kern, name: 'fe_words_left_reg', width: lenW, read: (kk) => kk.fe_words_left_reg },
    { scope: kern, name: 'ord_count_reg', width: engW + 1, read: (kk) => kk.ord_count_reg },
    { scope: kern, name: 'ord_head_reg', width: engW, read: (kk) => kk.ord_head_reg },
    { scope: kern, name: 'ord_tail_reg', width: engW, read: (kk) => kk.ord_tail_reg },
    { scope: kern, name: 'ser_op_reg', width: 3, read: (kk) => kk.ser_op_reg },
  ];
  const ku = [...kern, 'u_key_unit'];
  list.push(
    { scope: ku, name: 'ku_state_reg', width: 2, read: (kk) => kk.u_key_unit.ku_state_reg },
    { scope: ku, name: 'pass_reg', width: 2, read: (kk) => kk.u_key_unit.pass_reg },
    { scope: ku, name: 'blk_reg', width: lenW - 2, read: (kk) => kk.u_key_unit.blk_reg },
  );
  k.g_engine.forEach((_e, g) => {
    const eng = [...kern, `g_engine[${g}]`, 'u_engine'];
    const core = [...eng, 'u_core'];
    const e = (kk: TnicKernelCycle) => kk.g_engine[g]!;
    list.push(
      { scope: eng, name: 'eng_state_reg', width: 2, read: (kk) => e(kk).eng_state_reg },
      { scope: eng, name: 'bypass_reg', width: 1, read: (kk) => e(kk).bypass_reg },
      { scope: eng, name: 'len_reg', width: lenW, read: (kk) => e(kk).len_reg },
      { scope: eng, name: 'blk_reg', width: lenW - 2, read: (kk) => e(kk).blk_reg },
      { scope: eng, name: 'wr_count_reg', width: lenW, read: (kk) => e(kk).wr_count_reg },
      { scope: eng, name: 'rd_count_reg', width: lenW, read: (kk) => e(kk).rd_count_reg },
      { scope: eng, name: 'pref_valid_reg', width: 1, read: (kk) => e(kk).pref_valid_reg },
      { scope: core, name: 'core_state_reg', width: 2, read: (kk) => e(kk).u_core.core_state_reg },
      { scope: core, name: 't_reg', width: 6, read: (kk) => e(kk).u_core.t_reg },
      // The chaining value, then the digest: the engine's tag while it is done.
      { scope: core, name: 'h_reg', width: 256, read: (kk) => words(e(kk).u_core.h_reg) },
    );
  });
  return list;
}

const CLK = 0;

/** Short VCD identifier codes from printable characters 33..126. */
function idCode(n: number): string {
  let code = '';
  let v = n;
  do {
    code += String.fromCharCode(33 + (v % 94));
    v = Math.floor(v / 94);
  } while (v > 0);
  return code;
}

export class VcdWriter {
  readonly #out: WriteStream;
  readonly #signals: Signal[];
  readonly #last: string[];
  #time = 0;

  constructor(path: string, kernel: TnicKernelCycle) {
    this.#out = createWriteStream(path);
    this.#signals = signals(kernel);
    this.#last = this.#signals.map(() => '');
    this.#header();
  }

  #header(): void {
    const lines = ['$timescale 1ps $end'];
    let open: string[] = [];
    this.#signals.forEach((s, n) => {
      let common = 0;
      while (common < open.length && common < s.scope.length && open[common] === s.scope[common]) common++;
      for (let d = open.length; d > common; d--) lines.push('$upscope $end');
      for (let d = common; d < s.scope.length; d++) lines.push(`$scope module ${s.scope[d]} $end`);
      open = s.scope;
      const range = s.width > 1 ? ` [${s.width - 1}:0]` : '';
      lines.push(`$var wire ${s.width} ${idCode(n)} ${s.name}${range} $end`);
    });
    for (let d = open.length; d > 0; d--) lines.push('$upscope $end');
    lines.push('$enddefinitions $end');
    this.#out.write(lines.join('\n') + '\n');
  }

  /** Record the rising edge that just happened (registers after it, inputs of its cycle) and the falling edge. */
  edge(k: TnicKernelCycle, i: KernelInputs): void {
    const changes: string[] = [];
    this.#signals.forEach((s, n) => {
      if (n === CLK) return;
      const raw = s.read(k, i);
      const v = typeof raw === 'boolean' ? (raw ? 1n : 0n) : BigInt(raw);
      const text = s.width === 1 ? `${v}${idCode(n)}` : `b${v.toString(2)} ${idCode(n)}`;
      if (text !== this.#last[n]) {
        this.#last[n] = text;
        changes.push(text);
      }
    });
    const clk = idCode(CLK);
    this.#out.write(`#${this.#time}\n1${clk}\n${changes.join('\n')}${changes.length ? '\n' : ''}#${this.#time + 5}\n0${clk}\n`);
    this.#time += 10;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.#out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

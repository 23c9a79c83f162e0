/**
 * `tnic cosim`: lockstep co-simulation of the cycle model against the
 * Verilator RTL on seeded random transactions with random stalls.
 */

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import { randomSeed } from '../../sim/prng.ts';
import { CycleKernel } from '../../sim/cycle/kernel_driver.ts';
import { generateTransactions } from '../../verify/cosim.ts';
import { lockstep } from '../../verify/lockstep.ts';
import { traceBoth } from '../../verify/trace_run.ts';
import { RtlKernel } from '../../verify/rtl_bridge.ts';
import { parseIntOption, prepareOutputDir } from '../options.ts';

export function registerCosim(program: Command): void {
  program
    .command('cosim')
    .description(
      'run the cycle model and the Verilator RTL in lockstep on random transactions, ' +
        'comparing every signal of every cycle',
    )
    .option('--seed <n>', 'seed of transactions and stalls (default: random, printed)', parseIntOption('--seed', 0, 0xffffffff))
    .option('--count <n>', 'number of random transactions', parseIntOption('--count', 1, 100_000_000), 10_000)
    .option(
      '--stalls <percent>',
      'share of cycles in which cmd_valid, in_valid and res_ready each idle',
      parseIntOption('--stalls', 0, 99),
      20,
    )
    .option(
      '--vcd <dir>',
      'first trace the first --vcd-count transactions (at most --count) into DIR/rtl.vcd and DIR/model.vcd; ' +
        'the Verilator trace takes about 2 MB per transaction',
    )
    .option('--vcd-count <n>', 'transactions to trace with --vcd', parseIntOption('--vcd-count', 1, 100_000), 100)
    .action(async (opts: { seed?: number; count: number; stalls: number; vcd?: string; vcdCount: number }) => {
      const seed = opts.seed ?? randomSeed();
      if (opts.vcd) prepareOutputDir('--vcd', opts.vcd);
      console.log(`cosim: seed ${seed}, ${opts.count} transactions, stalls ${opts.stalls}% per channel`);
      if (opts.vcd) {
        const requests = generateTransactions(seed, Math.min(opts.vcdCount, opts.count)).map((t) => t.request);
        const stalls = { cmdStall: opts.stalls, inStall: opts.stalls, resStall: opts.stalls };
        const t = await traceBoth(opts.vcd, requests, { seed, ...stalls, trace: 0 }, { log: (l) => console.log(l) });
        console.log(`  wrote ${t.rtlVcd} and ${t.modelVcd} (${t.edges} cycles)`);
        if (t.diff.first) {
          const f = t.diff.first;
          throw new TnicError('cosim-mismatch', `traces differ at time ${f.time}: ${f.signal} rtl=${f.a} model=${f.b}`);
        }
        console.log(`  traces agree on all ${t.diff.common} signals the model writes`);
      }
      const rtl = await RtlKernel.start({ log: (l) => console.log(l) });
      const started = Date.now();
      let lastPrint = started;
      try {
        const report = await lockstep(new CycleKernel(), rtl, {
          seed,
          count: opts.count,
          cmdStall: opts.stalls,
          inStall: opts.stalls,
          resStall: opts.stalls,
          progress: (done, total, cycles) => {
            if (Date.now() - lastPrint > 2000 || done === total) {
              lastPrint = Date.now();
              console.log(`  ${done}/${total} transactions, ${cycles} cycles equal`);
            }
          },
        });
        if (report.mismatch) throw new TnicError('cosim-mismatch', report.mismatch);
        const seconds = (Date.now() - started) / 1000;
        console.log(
          `cosim: ${report.transactions} transactions, ${report.cycles} cycles, 0 mismatches ` +
            `in ${seconds.toFixed(1)} s (model ${report.modelSeconds.toFixed(1)} s, ` +
            `rtl ${report.rtlSeconds.toFixed(1)} s; seed ${seed})`,
        );
      } finally {
        await rtl.close();
      }
    });
}

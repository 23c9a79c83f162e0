/** `tnic cosim`: seeded random transactions through the model and the RTL, compared field by field. */

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import { randomSeed } from '../../sim/prng.ts';
import { CycleKernel } from '../../sim/cycle/kernel_driver.ts';
import { cosimulate, formatMismatch } from '../../verify/cosim.ts';
import { RtlKernel } from '../../verify/rtl_bridge.ts';
import { parseIntOption } from '../options.ts';

export function registerCosim(program: Command): void {
  program
    .command('cosim')
    .description('co-simulate the TypeScript model against the Verilator RTL on random transactions')
    .option('--seed <n>', 'seed of the transaction stream (default: random, printed)', parseIntOption('--seed', 0, 0xffffffff))
    .option('--count <n>', 'number of random transactions', parseIntOption('--count', 1, 10_000_000), 10_000)
    .option(
      '--stalls <percent>',
      'idle the input stream in this share of cycles, from the seed, on both sides',
      parseIntOption('--stalls', 0, 99),
      0,
    )
    .action(async (opts: { seed?: number; count: number; stalls: number }) => {
      const seed = opts.seed ?? randomSeed();
      console.log(`cosim: seed ${seed}, ${opts.count} transactions, input stalls ${opts.stalls}%`);
      const rtl = await RtlKernel.start({ log: (l) => console.log(l) });
      try {
        const model = new CycleKernel();
        await Promise.all([model.setStalls(seed, opts.stalls), rtl.setStalls(seed, opts.stalls)]);
        const started = Date.now();
        const report = await cosimulate(model, rtl, {
          seed,
          count: opts.count,
          progress: (done, total) => {
            if (done % 5000 < 500 || done === total) console.log(`  ${done}/${total} transactions`);
          },
        });
        if (report.mismatch) throw new TnicError('cosim-mismatch', formatMismatch(report.mismatch, seed));
        const seconds = (Date.now() - started) / 1000;
        console.log(`cosim: ${report.transactions} transactions, 0 mismatches in ${seconds.toFixed(1)} s (seed ${seed})`);
      } finally {
        await rtl.close();
      }
    });
}

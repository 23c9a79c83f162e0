/** `tnic bench ...`: benchmarks whose results go to bench/results/ and BENCHMARKS.md. */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { Command } from 'commander';

import { runBenchAll } from '../../bench/all.ts';
import { runKernelBench } from '../../bench/kernel_bench.ts';
import { runSoftwareBench } from '../../bench/software_attest.ts';
import { RESULTS_DIR, writeBenchmarksPage } from '../../bench/report.ts';
import { REPO_ROOT } from '../../verify/build_rtl.ts';
import { parseIntOption } from '../options.ts';

/** The page that `tnic bench` rewrites by default. */
const PAGE = join(REPO_ROOT, 'BENCHMARKS.md');

const PAGE_HELP = 'Markdown page to rewrite from the results in --out (default: BENCHMARKS.md when --out is the default folder, else none)';

/** Below this many simulated cycles the kernel bench's timed runs last milliseconds, too short to compare speeds. */
const STABLE_SPEED_CYCLES = 100_000;

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('run benchmarks and write bench/results and BENCHMARKS.md');

  bench
    .command('all')
    .description('run every benchmark part (resumable) and write BENCHMARKS.md')
    .option('--quick', 'small sizes and counts, for a smoke run', false)
    .option('--fresh', 'rerun parts whose results file already exists', false)
    .option('--out <dir>', 'folder for the JSON results', RESULTS_DIR)
    .option('--page <file>', 'Markdown page to write', PAGE)
    .action(async (opts: { quick: boolean; fresh: boolean; out: string; page: string }) => {
      console.log(`bench all${opts.quick ? ' --quick' : ''}: results in ${opts.out}`);
      await runBenchAll({ out: opts.out, quick: opts.quick, fresh: opts.fresh, log: (l) => console.log(l) });
      console.log(`wrote ${writeBenchmarksPage(opts.out, opts.page)}`);
    });

  bench
    .command('kernel')
    .description('kernel throughput (cycles/byte), latency, RTL size, model vs Verilator speed')
    .option('--messages <n>', 'messages per size (default: sized to the message length)', parseIntOption('--messages', 2, 100_000))
    .option('--out <dir>', 'folder for kernel.json', RESULTS_DIR)
    .option('--page <file>', PAGE_HELP)
    .action(async (opts: { messages?: number; out: string; page?: string }) => {
      console.log('bench kernel: back-to-back ATTEST on the cycle model and the Verilator RTL');
      const result = await runKernelBench({ messages: opts.messages, log: (l) => console.log(l) });
      mkdirSync(opts.out, { recursive: true });
      const file = join(opts.out, 'kernel.json');
      writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
      console.log(`  latency of a 64-byte ATTEST: ${result.latency64Cycles} cycles`);
      console.log(`  RTL lines: ${result.rtlLines} (prototype: ${result.prototype.rtlLines})`);
      console.log(
        `  Verilator ${Math.round(result.verilatorCyclesPerSecond)} cycles/s; model fast mode ` +
          `${Math.round(result.modelCyclesPerSecond)} cycles/s (ratio ${result.modelToVerilatorRatio.toFixed(2)}), ` +
          `edge by edge ${Math.round(result.lockstepModelCyclesPerSecond)} cycles/s (ratio ${result.lockstepToVerilatorRatio.toFixed(2)})`,
      );
      if (result.simulatedCycles < STABLE_SPEED_CYCLES) {
        console.log(
          `  note: ${result.simulatedCycles} simulated cycles take milliseconds, so the speeds above are noise; ` +
            'the default --messages simulates about 490,000 cycles',
        );
      }
      console.log(`wrote ${file}${rewritePage(opts.out, opts.page)}`);
    });

  bench
    .command('software')
    .description('software HMAC attestations per second on one core, 64 B to 4 KiB')
    .option('--seconds <n>', 'measuring time per implementation and size', parseIntOption('--seconds', 1, 60), 1)
    .option('--out <dir>', 'folder for software_attest.json', RESULTS_DIR)
    .option('--page <file>', PAGE_HELP)
    .action((opts: { seconds: number; out: string; page?: string }) => {
      console.log('bench software: attestations per second on one core');
      const points = runSoftwareBench([64, 256, 1024, 4096], opts.seconds);
      for (const p of points) {
        console.log(`  ${String(p.bytes).padStart(5)} B  ${String(Math.round(p.attestsPerSecond)).padStart(9)}/s  ${p.implementation}`);
      }
      mkdirSync(opts.out, { recursive: true });
      const file = join(opts.out, 'software_attest.json');
      const machine = `${process.platform} ${process.arch}, Node ${process.version}`;
      writeFileSync(file, JSON.stringify({ machine, points }, null, 2) + '\n');
      console.log(`wrote ${file}${rewritePage(opts.out, opts.page)}`);
    });
}

/**
 * Rewrite `page` from the results in `out`, or the default page when `out`
 * is the default folder; returns the words for the "wrote" line.
 */
function rewritePage(out: string, page: string | undefined): string {
  const target = page ?? (resolve(out) === resolve(RESULTS_DIR) ? PAGE : undefined);
  return target === undefined ? '' : ` and ${writeBenchmarksPage(out, target)}`;
}

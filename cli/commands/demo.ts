/**
 * `tnic demo`: the end-to-end slice on a built-in scenario. Builds the RTL
 * if needed, runs the HMAC vectors and seeded random transactions through
 * the model and the Verilator RTL, sweeps message sizes for cycle counts,
 * runs A2M on both backends, and prints a report. Exits non-zero on any
 * mismatch or failure.
 */

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import type { AttestationKernel } from '../../sim/kernel_port.ts';
import { CycleKernel } from '../../sim/cycle/kernel_driver.ts';
import { cosimulate, formatMismatch } from '../../verify/cosim.ts';
import { RtlKernel } from '../../verify/rtl_bridge.ts';
import { runVectors } from '../../verify/vectors.ts';
import { runA2m } from '../../systems/a2m/run_a2m.ts';
import { parseIntOption } from '../options.ts';

const SWEEP_BYTES = [0, 64, 128, 256, 512, 1024, 1500, 4096, 9216];

async function cycleSweep(model: AttestationKernel, rtl: AttestationKernel): Promise<string[]> {
  const requests = [
    { op: 'load-key' as const, session: 0, key: new Uint8Array(32).fill(7) },
    ...SWEEP_BYTES.map((n) => ({ op: 'attest' as const, session: 0, msg: new Uint8Array(n).fill(0xa5) })),
  ];
  await Promise.all([model.reset(), rtl.reset()]);
  const [m, r] = await Promise.all([model.run(requests), rtl.run(requests)]);
  const rows = ['    msg bytes   model cycles   rtl cycles   cycles/byte (one message alone)'];
  SWEEP_BYTES.forEach((n, i) => {
    const mc = m[i + 1]!.cycles;
    const rc = r[i + 1]!.cycles;
    if (mc !== rc) throw new TnicError('cosim-mismatch', `cycles for a ${n}-byte message: model ${mc}, rtl ${rc}`);
    const perByte = n === 0 ? '-' : (rc / n).toFixed(2);
    rows.push(`    ${String(n).padStart(9)}   ${String(mc).padStart(12)}   ${String(rc).padStart(10)}   ${perByte.padStart(11)}`);
  });
  return rows;
}

/** Back-to-back 64-byte ATTEST on all engines: the sustained rate, equal on both sides. */
async function pipelinedRate(model: CycleKernel, rtl: RtlKernel): Promise<string> {
  const count = 200;
  const keys = [0, 1, 2, 3].map((session) => ({ op: 'load-key' as const, session, key: new Uint8Array(32).fill(session) }));
  const batch = Array.from({ length: count }, (_, i) => ({ op: 'attest' as const, session: i % 4, msg: new Uint8Array(64).fill(i) }));
  await Promise.all([model.reset(), rtl.reset()]);
  await Promise.all([model.run(keys), rtl.run(keys)]);
  const opt = { seed: 1, cmdStall: 0, inStall: 0, resStall: 0, trace: 1 as const };
  const r = await rtl.runPipelined(batch, opt);
  const m = model.runPipelined(batch, opt);
  if (m.edges !== r.edges || m.hash !== r.hash) {
    throw new TnicError('cosim-mismatch', `pipelined batch: model ${m.edges} edges, rtl ${r.edges} edges`);
  }
  const span = r.results[count - 1]!.acceptEdge - r.results[0]!.acceptEdge;
  return (
    `    back to back, ${count} x 64 B on ${model.kernel.params.nEngines} engines: ` +
    `${(span / ((count - 1) * 64)).toFixed(3)} cycles/byte sustained (first to last accepted command), ` +
    `${r.edges} cycles with pipeline fill and drain, ` +
    'every cycle equal on model and RTL'
  );
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run vectors, random co-simulation and A2M on the model and the RTL, and print a report')
    .option('--seed <n>', 'seed of the random transactions', parseIntOption('--seed', 0, 0xffffffff), 1)
    .option('--count <n>', 'random transactions to co-simulate', parseIntOption('--count', 1, 10_000_000), 10_000)
    .option('--entries <n>', 'A2M entries to append and look up per backend', parseIntOption('--entries', 1, 10_000_000), 2000)
    .action(async (opts: { seed: number; count: number; entries: number }) => {
      const started = Date.now();
      console.log('TNIC demo: attestation kernel, TypeScript model against Verilator RTL');
      const rtl = await RtlKernel.start({ log: (l) => console.log(`  ${l}`) });
      const model = new CycleKernel();
      let problems = 0;
      try {
        console.log('\nHMAC-SHA256 vectors (RFC 4231 and Wycheproof) as attestations:');
        for (const kernel of [model, rtl]) {
          const v = await runVectors(kernel);
          problems += v.failures.length;
          console.log(
            `  ${kernel.backend.padEnd(5)} ${v.cases} cases: ${v.valid} valid tags accepted, ` +
              `${v.invalid} invalid tags rejected, ${v.truncated} truncated tags rejected, ` +
              `${v.failures.length} failures`,
          );
          for (const f of v.failures.slice(0, 5)) console.log(`    ${f}`);
        }

        console.log(`\nRandom co-simulation, seed ${opts.seed}, ${opts.count} transactions:`);
        const t0 = Date.now();
        const c = await cosimulate(model, rtl, { seed: opts.seed, count: opts.count });
        const seconds = ((Date.now() - t0) / 1000).toFixed(1);
        if (c.mismatch) {
          problems++;
          console.log(`  MISMATCH ${formatMismatch(c.mismatch, opts.seed)}`);
        } else {
          console.log(`  ${c.transactions} transactions (incl. key loads): 0 mismatches in ${seconds} s`);
        }

        console.log('\nATTEST latency, cycles from command to result (no input stalls):');
        for (const row of await cycleSweep(model, rtl)) console.log(row);
        console.log('    formula: 65 * (floor((len + 88) / 64) + 1) + 1 (one SHA-256 block = 65 cycles)');
        console.log(await pipelinedRate(model, rtl));

        console.log(`\nA2M (attested append-only memory), ${opts.entries} entries:`);
        for (const backend of ['model', 'rtl'] as const) {
          const a = await runA2m({ entries: opts.entries, backend });
          problems += a.failed;
          console.log(
            `  ${backend.padEnd(5)} ${Math.round(a.appendsPerSec)} appends/s, ` +
              `${Math.round(a.lookupsPerSec)} verified lookups/s, ${a.verified} verified, ${a.failed} failed`,
          );
        }
      } finally {
        await rtl.close();
      }

      const total = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`\nMismatches and failures: ${problems} (demo took ${total} s)`);
      if (problems > 0) throw new TnicError('demo-failed', `${problems} mismatches or failures; see the report above`);
    });
}

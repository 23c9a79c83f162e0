/**
 * `tnic bench all`: every benchmark part in turn, each written to its own
 * JSON file so an interrupted run resumes where it stopped, then the
 * BENCHMARKS.md page. Simulated figures (cycle counts, the NIC simulator's
 * virtual time) and figures measured on this machine are kept apart.
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { localAttestNs, measureSize, type SizeResult } from '../sim/nic/experiments.ts';
import { compareAnchors, type AnchorComparison } from '../sim/nic/anchors.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';
import { runBaselineSystemsBench } from './baseline_systems.ts';
import { runKernelBench } from './kernel_bench.ts';
import { runSoftwareBench } from './software_attest.ts';

/** Published Attest latency of 64 bytes per device, in microseconds. */
export const PUBLISHED_ATTEST_US: Record<string, { us: number; label: string }> = {
  'tnic-prototype': { us: 23, label: 'TNIC prototype (FPGA)' },
  'ssl-server': { us: 10.7, label: 'native Intel server' },
  sgx: { us: 45.5, label: 'SGX (45-46 us)' },
  'amd-sev': { us: 90, label: 'AMD-SEV' },
};

export interface AttestRow {
  profile: string;
  label: string;
  publishedUs: number;
  oursUs: number;
}

export interface SendRow {
  profile: string;
  size: number;
  sendOnlyUs: number;
  attestVerifyUs: number;
  throughputMBps: number;
}

export interface SimBench {
  attest: AttestRow[];
  anchors: AnchorComparison[];
  send: SendRow[];
}

export interface BenchAllOptions {
  out: string;
  quick: boolean;
  /** Rerun parts whose results file exists. */
  fresh: boolean;
  log: (line: string) => void;
}

function runSimBench(quick: boolean): SimBench {
  const profiles = loadProfiles();
  const attest: AttestRow[] = Object.entries(PUBLISHED_ATTEST_US).map(([name, p]) => ({
    profile: name,
    label: p.label,
    publishedUs: p.us,
    oursUs: localAttestNs(getProfile(profiles, name), 64) / 1000,
  }));

  const prototype = getProfile(profiles, 'tnic-prototype');
  const anchorSizes = [128, 32768].map((size) => measureSize(prototype, size, 7));
  const anchors = compareAnchors(anchorSizes);

  const sizes = quick ? [128, 4096] : [128, 512, 1024, 4096, 16384, 32768];
  const send: SendRow[] = [];
  for (const name of ['tnic-prototype', 'tnic']) {
    const profile = getProfile(profiles, name);
    for (const size of sizes) {
      const r: SizeResult = measureSize(profile, size, 7);
      send.push({
        profile: name,
        size,
        sendOnlyUs: r.paths['send-only'].latency.totalNs / 1000,
        attestVerifyUs: r.paths['attest-verify'].latency.totalNs / 1000,
        throughputMBps: r.paths['attest-verify'].throughputMBps,
      });
    }
  }
  return { attest, anchors, send };
}

/** Run the parts not yet in `out` (all with `fresh`), then render the page. */
export async function runBenchAll(o: BenchAllOptions): Promise<string[]> {
  mkdirSync(o.out, { recursive: true });
  const parts: { file: string; title: string; run: () => Promise<unknown> | unknown }[] = [
    {
      file: 'kernel.json',
      title: 'kernel: cycles per byte, latency, model vs Verilator speed (simulated cycles)',
      run: () => runKernelBench({ sizes: o.quick ? [64, 4096] : undefined, messages: o.quick ? 40 : undefined, log: o.log }),
    },
    {
      file: 'software_attest.json',
      title: 'software attest path on one core (measured here)',
      run: () => ({
        machine: `${process.platform} ${process.arch}, Node ${process.version}`,
        points: runSoftwareBench(o.quick ? [64, 4096] : undefined, o.quick ? 0.05 : 1),
      }),
    },
    {
      file: 'sim.json',
      title: 'NIC simulator: Attest per device, prototype anchors, send path (virtual time)',
      run: () => runSimBench(o.quick),
    },
    {
      file: 'baseline_systems.json',
      title: 'A2M and BFT per device: commands counted in real runs, latency charged in virtual time',
      run: () => runBaselineSystemsBench({ quick: o.quick, log: o.log }),
    },
  ];

  const written: string[] = [];
  for (const [i, part] of parts.entries()) {
    const path = join(o.out, part.file);
    if (!o.fresh && existsSync(path)) {
      o.log(`[${i + 1}/${parts.length}] ${part.title}: kept ${path} (use --fresh to rerun)`);
      continue;
    }
    const started = Date.now();
    o.log(`[${i + 1}/${parts.length}] ${part.title}: running`);
    const result = await part.run();
    writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
    o.log(`[${i + 1}/${parts.length}] done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${path}`);
    written.push(path);
  }
  return written;
}

export function readSimBench(dir: string): SimBench | undefined {
  const path = join(dir, 'sim.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as SimBench) : undefined;
}

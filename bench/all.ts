/**
 * `tnic bench all`: every benchmark part in turn, each written to its own
 * JSON file so an interrupted run resumes where it stopped, then the
 * BENCHMARKS.md page. Simulated figures (cycle counts, the NIC simulator's
 * virtual time) and figures measured on this machine are kept apart.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { localAttestNs, measureSize, type SizeResult } from '../sim/nic/experiments.ts';
import { compareAnchors, type AnchorComparison } from '../sim/nic/anchors.ts';
import { PATH_KINDS, type PathKind } from '../sim/nic/network.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';
import { runBaselineSystemsBench, runCrBench, runPeerReviewBench } from './baseline_systems.ts';
import { runRealSystems } from './real_systems.ts';
import { runKernelBench } from './kernel_bench.ts';
import type { ScaleResult } from './sim_scale.ts';
import { runSoftwareBench } from './software_attest.ts';

/** Published Attest latency of 64 bytes per device, in microseconds. */
/**
 * Published Attest latency of a 64-byte message (Fig. 5) and its split into
 * access plus transfer and computation (Fig. 6), in microseconds.
 */
export const PUBLISHED_ATTEST_US: Record<string, { us: number; label: string; accessUs: number; computeUs: number }> = {
  'tnic-prototype': { us: 23, label: 'TNIC prototype (FPGA)', accessUs: 16.5, computeUs: 7 },
  'ssl-server': { us: 10.7, label: 'native Intel server', accessUs: 9, computeUs: 1.6 },
  sgx: { us: 45.5, label: 'SGX (45-46 us)', accessUs: 16, computeUs: 29 },
  'amd-sev': { us: 90, label: 'AMD-SEV', accessUs: 35, computeUs: 63 },
};

export interface AttestRow {
  profile: string;
  label: string;
  publishedUs: number;
  oursUs: number;
  /** Published split (Fig. 6): access plus host-device transfer, and computation. */
  publishedAccessUs: number;
  publishedComputeUs: number;
  /** Simulated split: the host-device transfer and a CPU device's access cost, and the MAC computation. */
  accessUs: number;
  computeUs: number;
}

/** One profile and message size on the untrusted RDMA, TNIC send-only and TNIC attest+verify paths (virtual time). */
export interface SendRow {
  profile: string;
  size: number;
  /** One message from host request to completion on an idle network, in microseconds. */
  latencyUs: Record<PathKind, number>;
  /** Message bytes per second of a back-to-back stream, in MB/s (10^6 bytes). */
  throughputMBps: Record<PathKind, number>;
}

/** Speed of the simulator itself on this machine (wall clock), from bench/sim_scale.ts in a child process. */
export interface SimScaleFigures extends ScaleResult {
  machine: string;
}

export interface SimBench {
  attest: AttestRow[];
  anchors: AnchorComparison[];
  send: SendRow[];
  scale: SimScaleFigures;
}

export interface BenchAllOptions {
  out: string;
  quick: boolean;
  /** Rerun parts whose results file exists. */
  fresh: boolean;
  log: (line: string) => void;
}

/** The simulator's scale run: 64 nodes and 10^6 messages, or a small run with `quick`. */
const SCALE_RUN = { nodes: 64, messages: 1_000_000, quickNodes: 16, quickMessages: 20_000, size: 64, seed: 7 };
const SIM_SCALE_FILE = fileURLToPath(new URL('./sim_scale.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Run bench/sim_scale.ts in a child process, so that its peak heap and RSS
 * are its own and not those of the benchmarks that ran before it.
 */
function runSimScaleChild(quick: boolean, log: (line: string) => void): SimScaleFigures {
  const nodes = quick ? SCALE_RUN.quickNodes : SCALE_RUN.nodes;
  const messages = quick ? SCALE_RUN.quickMessages : SCALE_RUN.messages;
  const args = ['--nodes', nodes, '--messages', messages, '--size', SCALE_RUN.size, '--seed', SCALE_RUN.seed].map(String);
  log(`sim scale run: ${nodes} nodes, ${messages} messages (bench/sim_scale.ts ${args.join(' ')})`);
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', TSX_LOADER, SIM_SCALE_FILE, ...args, '--json'], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) {
    throw new Error(`sim scale run failed (exit ${child.status ?? child.signal}): ${child.stderr.trim().slice(-2000)}`);
  }
  const cpu = cpus();
  const machine = `${cpu[0]?.model ?? 'unknown CPU'} x${cpu.length}, ${process.platform} ${process.arch}, Node ${process.version}`;
  return { ...(JSON.parse(child.stdout) as ScaleResult), machine };
}

export function runSimBench(quick: boolean, log: (line: string) => void = () => {}): SimBench {
  const profiles = loadProfiles();
  const attest: AttestRow[] = Object.entries(PUBLISHED_ATTEST_US).map(([name, p]) => {
    const profile = getProfile(profiles, name);
    const totalNs = localAttestNs(profile, 64);
    const k = profile.kernel;
    const accessNs = profile.stack.localTransferNs + (k.model === 'cpu' ? k.accessNs : 0);
    return {
      profile: name,
      label: p.label,
      publishedUs: p.us,
      oursUs: totalNs / 1000,
      publishedAccessUs: p.accessUs,
      publishedComputeUs: p.computeUs,
      accessUs: accessNs / 1000,
      computeUs: (totalNs - accessNs) / 1000,
    };
  });

  const prototype = getProfile(profiles, 'tnic-prototype');
  const anchorSizes = [128, 32768].map((size) => measureSize(prototype, size, 7));
  const anchors = compareAnchors(anchorSizes);

  // 128 B to 32 KiB, the range of the published throughput and latency figures of the three paths.
  const sizes = quick ? [128, 32768] : [128, 512, 1024, 4096, 16384, 32768];
  const send: SendRow[] = [];
  for (const name of ['tnic-prototype', 'tnic']) {
    const profile = getProfile(profiles, name);
    for (const size of sizes) {
      const r: SizeResult = measureSize(profile, size, 7);
      const latencyUs = {} as Record<PathKind, number>;
      const throughputMBps = {} as Record<PathKind, number>;
      for (const path of PATH_KINDS) {
        latencyUs[path] = r.paths[path].latency.totalNs / 1000;
        throughputMBps[path] = r.paths[path].throughputMBps;
      }
      send.push({ profile: name, size, latencyUs, throughputMBps });
    }
  }
  return { attest, anchors, send, scale: runSimScaleChild(quick, log) };
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
      title: 'NIC simulator: Attest per device, prototype anchors, three send paths (virtual time), simulator speed (wall clock)',
      run: () => runSimBench(o.quick, o.log),
    },
    {
      file: 'baseline_systems.json',
      title: 'A2M and BFT per device: commands counted in real runs, latency charged in virtual time',
      run: () => runBaselineSystemsBench({ quick: o.quick, log: o.log }),
    },
    {
      file: 'baseline_cr.json',
      title: 'chain replication per device: commands counted in a real run, latency charged in virtual time',
      run: () => runCrBench({ quick: o.quick, log: o.log }),
    },
    {
      file: 'baseline_peerreview.json',
      title: 'PeerReview per device, without and with audits: commands counted in real runs, latency charged in virtual time',
      run: () => runPeerReviewBench({ quick: o.quick, log: o.log }),
    },
    {
      file: 'real_systems.json',
      title: 'real mode: the four systems as OS processes over UDP on 127.0.0.1 (measured here, wall clock)',
      run: async () => ({
        machine: `${process.platform} ${process.arch}, Node ${process.version}`,
        quick: o.quick,
        rows: await runRealSystems({ quick: o.quick, seed: 7, log: o.log }),
      }),
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

/** Read sim.json from `dir`; undefined when it is missing or was written before the rdma path and scale figures. */
export function readSimBench(dir: string): SimBench | undefined {
  const path = join(dir, 'sim.json');
  if (!existsSync(path)) return undefined;
  const s = JSON.parse(readFileSync(path, 'utf8')) as Partial<SimBench>;
  const current = s.scale !== undefined && (s.send ?? []).every((r) => r.latencyUs?.rdma !== undefined);
  return current ? (s as SimBench) : undefined;
}

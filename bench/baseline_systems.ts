/**
 * A2M appends and BFT throughput per device, costed in virtual time.
 *
 * The systems run for real on the CPU baseline devices (A2M on each of
 * them, BFT on ssl-lib over the seeded simulated network), and every device
 * records which HMAC commands it ran and on how many message bytes. Those
 * counts are then costed per device in two ways, without sleeping:
 *
 * - the published method: each HMAC command costs the device's fixed charge
 *   (TNIC 7 us, SGX 45 us, AMD-SEV 31 us, SSL-server 10 us, SSL-lib 0) plus
 *   an HMAC-SHA256 measured on this machine;
 * - the calibrated device models: each HMAC command costs the Attest
 *   latency of the device's profile in sim/nic/profiles.json.
 *
 * A2M appends/s is appends / the device time of the appends. BFT throughput
 * is operations / the device time of the busiest replica (the leader), so
 * network, execution and client time are left out and the figures are
 * upper bounds on what the attestations allow.
 */

import { TnicError } from '../sim/errors.ts';
import { localAttestNs } from '../sim/nic/experiments.ts';
import { getProfile, loadProfiles, type Profile } from '../sim/nic/profiles.ts';
import { BASELINE_BACKENDS, isBaselineKernel, type BaselineBackend } from '../stack/baselines/baseline_kernel.ts';
import { hmacLengths } from '../stack/baselines/cost_model.ts';
import { SoftwareAttestationCore } from '../stack/baselines/software_core.ts';
import { SimNetwork } from '../stack/sim_network.ts';
import { runA2m } from '../systems/a2m/run_a2m.ts';
import { BftCluster } from '../systems/bft/bft_cluster.ts';
import type { BatchSize } from '../systems/bft/replica.ts';

export type CostedDevice = 'ssl-lib' | 'ssl-server' | 'sgx' | 'sev' | 'tnic';

export interface DeviceCosting {
  device: CostedDevice;
  label: string;
  /** Fixed charge per HMAC command in the published method, in nanoseconds. */
  fixedNs: number;
  /** Profile whose Attest latency the calibrated model charges. */
  profile: string;
}

export const COSTED_DEVICES: readonly DeviceCosting[] = [
  { device: 'ssl-lib', label: 'SSL-lib', fixedNs: 0, profile: 'ssl-lib' },
  { device: 'ssl-server', label: 'SSL-server', fixedNs: 10_000, profile: 'ssl-server' },
  { device: 'sgx', label: 'SGX', fixedNs: 45_000, profile: 'sgx' },
  { device: 'sev', label: 'AMD-SEV', fixedNs: 31_000, profile: 'amd-sev' },
  { device: 'tnic', label: 'TNIC', fixedNs: 7_000, profile: 'tnic-prototype' },
];

/** Published A2M appends per second (SGX: the SGX-lib variant). */
export const PUBLISHED_A2M_APPENDS: Partial<Record<CostedDevice, number>> = {
  'ssl-lib': 790_000,
  sgx: 380_000,
  sev: 30_000,
  tnic: 158_000,
};

/** HMAC-SHA256 of the baseline core measured here: ns per ATTEST at two message lengths. */
export interface HmacCalibration {
  ns64: number;
  ns1024: number;
}

export interface A2mRow {
  device: CostedDevice;
  /** Appends per second in the published method and with the calibrated model. */
  paperPerSec: number;
  calibratedPerSec: number;
  /** Wall-clock appends per second of the whole A2M run here; null for SGX, AMD-SEV and TNIC, which do not run here. */
  measuredPerSec: number | null;
  /** Entries that verifyLookup accepted, of `entries`; null for a device not run. */
  verified: number | null;
}

export interface BftRow {
  device: CostedDevice;
  /** Operations per second in the published method, counting replica messages only. */
  paperPerSec: number;
  /** The same with the leader's verification of every client request counted too. */
  paperWithClientPerSec: number;
  /** Operations per second with the calibrated model, replica messages only. */
  calibratedPerSec: number;
}

export interface BftRun {
  batch: BatchSize;
  completed: number;
  /** Batches the leader proposed. */
  batches: number;
  /** HMAC commands per replica on replica sessions, leader first. */
  replicaCommands: number[];
  /** HMAC commands of the leader on the client's session (one VERIFY per request). */
  clientCommands: number;
  rows: BftRow[];
}

export interface BaselineSystemsBench {
  machine: string;
  hmac: HmacCalibration;
  a2m: { entries: number; ctxBytes: number; rows: A2mRow[] };
  bft: { seed: number; processes: number; operationsPerProcess: number; runs: BftRun[] };
}

export interface BaselineBenchOptions {
  quick: boolean;
  log: (line: string) => void;
}

const A2M_CTX_BYTES = 64;
const BFT_SEED = 7;
const BFT_MAX_EVENTS = 5_000_000;

type LengthCounts = ReadonlyMap<number, number>;

/** Mean ns of one ATTEST of `length` bytes on the baseline core: the best of `rounds` timed loops. */
function timeAttest(length: number, iterations: number, rounds: number): number {
  const core = new SoftwareAttestationCore();
  core.step({ op: 'load-key', session: 0, key: new Uint8Array(32).fill(1) });
  const msg = new Uint8Array(length);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) core.step({ op: 'attest', session: 0, msg });
    best = Math.min(best, ((performance.now() - start) * 1e6) / iterations);
  }
  return best;
}

export function calibrateHmac(quick: boolean): HmacCalibration {
  const iterations = quick ? 2000 : 20_000;
  const rounds = quick ? 3 : 5;
  return { ns64: timeAttest(64, iterations, rounds), ns1024: timeAttest(1024, iterations, rounds) };
}

/** Measured HMAC time of a `length`-byte message, linear between the two calibration points. */
export function hmacNs(h: HmacCalibration, length: number): number {
  const perByte = Math.max(0, (h.ns1024 - h.ns64) / (1024 - 64));
  return Math.max(0, h.ns64 + perByte * (length - 64));
}

/** Device time of the HMAC commands in `counts`, in ns, in both costings. */
function deviceNs(d: DeviceCosting, counts: LengthCounts, h: HmacCalibration, profiles: Map<string, Profile>): { paper: number; calibrated: number } {
  const profile = getProfile(profiles, d.profile);
  let paper = 0;
  let calibrated = 0;
  for (const [length, count] of counts) {
    paper += count * (d.fixedNs + hmacNs(h, length));
    calibrated += count * localAttestNs(profile, length);
  }
  return { paper, calibrated };
}

async function runA2mPart(quick: boolean, h: HmacCalibration, profiles: Map<string, Profile>, log: (line: string) => void): Promise<BaselineSystemsBench['a2m']> {
  const entries = quick ? 200 : 5000;
  const runs = new Map<BaselineBackend, { counts: LengthCounts; wallPerSec: number; verified: number }>();
  for (const backend of BASELINE_BACKENDS) {
    let counts: LengthCounts = new Map();
    const result = await runA2m({
      entries,
      backend,
      log,
      beforeLookups: (a2m) => {
        const kernel = a2m.tnic.device.kernel;
        if (isBaselineKernel(kernel)) counts = hmacLengths(kernel.costs);
      },
    });
    runs.set(backend, { counts, wallPerSec: result.appendsPerSec, verified: result.verified });
  }

  // Every device runs the same commands; TNIC, which is not run here, takes the ssl-lib counts.
  const reference = runs.get('ssl-lib')!.counts;
  const rows = COSTED_DEVICES.map((d): A2mRow => {
    const run = d.device === 'tnic' ? undefined : runs.get(d.device);
    const ns = deviceNs(d, run?.counts ?? reference, h, profiles);
    const really = d.device === 'ssl-lib' || d.device === 'ssl-server';
    return {
      device: d.device,
      paperPerSec: (entries * 1e9) / ns.paper,
      calibratedPerSec: (entries * 1e9) / ns.calibrated,
      measuredPerSec: really ? run!.wallPerSec : null,
      verified: run?.verified ?? null,
    };
  });
  return { entries, ctxBytes: A2M_CTX_BYTES, rows };
}

interface ReplicaCounts {
  replica: LengthCounts;
  client: LengthCounts;
}

async function runBftOnce(batch: BatchSize, processes: number, operationsPerProcess: number): Promise<{ completed: number; batches: number; perReplica: ReplicaCounts[] }> {
  const network = new SimNetwork(BFT_SEED);
  const cluster = await BftCluster.open({
    network,
    backend: 'ssl-lib',
    machine: 'counter',
    batchSize: batch,
    processes,
    operationsPerProcess,
    seed: BFT_SEED,
  });
  try {
    await cluster.client.start();
    await network.run({ maxEvents: BFT_MAX_EVENTS });
    const replicaSessions = new Set(cluster.replicas.map((r) => r.identity.session));
    const perReplica = cluster.replicas.map((r): ReplicaCounts => {
      const kernel = r.connections[0]!.tnic.device.kernel;
      if (!isBaselineKernel(kernel)) {
        throw new TnicError('bench-backend', `replica ${r.identity.name} runs on ${kernel.backend}, which counts no commands`);
      }
      return {
        replica: hmacLengths(kernel.costs, (s) => replicaSessions.has(s)),
        client: hmacLengths(kernel.costs, (s) => !replicaSessions.has(s)),
      };
    });
    return { completed: cluster.client.completed, batches: cluster.replicas[0]!.appliedSeq, perReplica };
  } finally {
    await cluster.close();
  }
}

const countAll = (counts: LengthCounts): number => [...counts.values()].reduce((a, b) => a + b, 0);

function mergeCounts(a: LengthCounts, b: LengthCounts): LengthCounts {
  const merged = new Map(a);
  for (const [length, count] of b) merged.set(length, (merged.get(length) ?? 0) + count);
  return merged;
}

async function runBftPart(quick: boolean, h: HmacCalibration, profiles: Map<string, Profile>, log: (line: string) => void): Promise<BaselineSystemsBench['bft']> {
  const processes = 32;
  const operationsPerProcess = quick ? 2 : 16;
  const runs: BftRun[] = [];
  for (const batch of [1, 8, 16] as const) {
    log(`baselines: BFT batch ${batch}, ${processes} processes x ${operationsPerProcess} operations on ssl-lib devices`);
    const run = await runBftOnce(batch, processes, operationsPerProcess);
    const perSec = (ns: number): number => (run.completed * 1e9) / ns;
    const rows = COSTED_DEVICES.map((d): BftRow => {
      // The busiest replica bounds the throughput; with these workloads it is the leader.
      const replicaOnly = run.perReplica.map((c) => deviceNs(d, c.replica, h, profiles));
      const withClient = run.perReplica.map((c) => deviceNs(d, mergeCounts(c.replica, c.client), h, profiles));
      return {
        device: d.device,
        paperPerSec: perSec(Math.max(...replicaOnly.map((ns) => ns.paper))),
        paperWithClientPerSec: perSec(Math.max(...withClient.map((ns) => ns.paper))),
        calibratedPerSec: perSec(Math.max(...replicaOnly.map((ns) => ns.calibrated))),
      };
    });
    runs.push({
      batch,
      completed: run.completed,
      batches: run.batches,
      replicaCommands: run.perReplica.map((c) => countAll(c.replica)),
      clientCommands: run.perReplica.reduce((sum, c) => sum + countAll(c.client), 0),
      rows,
    });
  }
  return { seed: BFT_SEED, processes, operationsPerProcess, runs };
}

export async function runBaselineSystemsBench(o: BaselineBenchOptions): Promise<BaselineSystemsBench> {
  const profiles = loadProfiles();
  const hmac = calibrateHmac(o.quick);
  o.log(`baselines: measured HMAC ${hmac.ns64.toFixed(0)} ns at 64 B, ${hmac.ns1024.toFixed(0)} ns at 1024 B`);
  const a2m = await runA2mPart(o.quick, hmac, profiles, o.log);
  const bft = await runBftPart(o.quick, hmac, profiles, o.log);
  return { machine: `${process.platform} ${process.arch}, Node ${process.version}`, hmac, a2m, bft };
}

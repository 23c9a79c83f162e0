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
 * A2M appends/s is appends / the device time of the appends. BFT, chain
 * replication and PeerReview throughput is operations (or streamed chunks)
 * / the device time of the busiest node, so network, execution and client
 * time are left out and the figures are upper bounds on what the
 * attestations allow. Chain replication and PeerReview run on ssl-lib
 * devices over the seeded simulated network, as BFT does.
 */

import type { Tnic } from '../api/tnic_api.ts';
import { TnicError } from '../sim/errors.ts';
import { localAttestNs } from '../sim/nic/experiments.ts';
import { getProfile, loadProfiles, type Profile } from '../sim/nic/profiles.ts';
import {
  BASELINE_BACKENDS,
  isBaselineKernel,
  type BaselineBackend,
  type BaselineKernel,
} from '../stack/baselines/baseline_kernel.ts';
import { hmacLengths, type BaselineCosts } from '../stack/baselines/cost_model.ts';
import { SoftwareAttestationCore } from '../stack/baselines/software_core.ts';
import { SimNetwork } from '../stack/sim_network.ts';
import { runA2m } from '../systems/a2m/run_a2m.ts';
import { BftCluster } from '../systems/bft/bft_cluster.ts';
import type { BatchSize } from '../systems/bft/replica.ts';
import { CrCluster } from '../systems/cr/cr_cluster.ts';
import { PeerReviewCluster } from '../systems/peerreview/peerreview_cluster.ts';
import { CHUNK_BYTES } from '../systems/peerreview/source.ts';
import { PEERREVIEW_TOPOLOGY } from '../systems/peerreview/topology.ts';
import type { AuditStats } from '../systems/peerreview/witness.ts';
import { runPeerReviewStream } from '../systems/scenarios/peerreview_scenarios.ts';

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

/** Return the baseline kernel of `node`'s device, whose counts the costing reads; throws for any other backend. */
function baselineKernelOf(tnic: Tnic, node: string): BaselineKernel {
  const kernel = tnic.device.kernel;
  if (!isBaselineKernel(kernel)) {
    throw new TnicError('bench-backend', `node ${node} runs on ${kernel.backend}, which counts no commands; run it on ssl-lib`);
  }
  return kernel;
}

/**
 * Return the costs of the commands `kernel` ran since `before`, a copy of
 * its costs taken once the cluster was open. That leaves out bootstrapping,
 * such as the CHECK of an empty message per session that lists the keyed
 * sessions.
 */
function costsSince(kernel: BaselineKernel, before: BaselineCosts): BaselineCosts {
  const now = kernel.costs;
  const hmacBySession = new Map<number, Map<number, number>>();
  for (const [session, lengths] of now.hmacBySession) {
    const earlier = before.hmacBySession.get(session);
    const since = new Map<number, number>();
    for (const [length, count] of lengths) {
      const added = count - (earlier?.get(length) ?? 0);
      if (added > 0) since.set(length, added);
    }
    if (since.size > 0) hmacBySession.set(session, since);
  }
  return { commands: now.commands - before.commands, modelledNs: now.modelledNs - before.modelledNs, hmacBySession };
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
    const kernels = cluster.replicas.map((r) => baselineKernelOf(r.connections[0]!.tnic, r.identity.name));
    const before = kernels.map((k) => k.costs);
    await cluster.client.start();
    await network.run({ maxEvents: BFT_MAX_EVENTS });
    const replicaSessions = new Set(cluster.replicas.map((r) => r.identity.session));
    const perReplica = kernels.map((kernel, i): ReplicaCounts => {
      const costs = costsSince(kernel, before[i]!);
      return {
        replica: hmacLengths(costs, (s) => replicaSessions.has(s)),
        client: hmacLengths(costs, (s) => !replicaSessions.has(s)),
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

const machineName = (): string => `${process.platform} ${process.arch}, Node ${process.version}`;

export async function runBaselineSystemsBench(o: BaselineBenchOptions): Promise<BaselineSystemsBench> {
  const profiles = loadProfiles();
  const hmac = calibrateHmac(o.quick);
  o.log(`baselines: measured HMAC ${hmac.ns64.toFixed(0)} ns at 64 B, ${hmac.ns1024.toFixed(0)} ns at 1024 B`);
  const a2m = await runA2mPart(o.quick, hmac, profiles, o.log);
  const bft = await runBftPart(o.quick, hmac, profiles, o.log);
  return { machine: machineName(), hmac, a2m, bft };
}

/** HMAC commands of one node and the mean bytes each hashed (the attested payload, without the 16-byte header). */
export interface NodeLoad {
  name: string;
  commands: number;
  meanBytes: number;
}

/** Throughput of a replicated or streaming system on one device, bound by its busiest node. */
export interface SystemRow {
  device: CostedDevice;
  /** Operations (or chunks) per second in the published method and with the calibrated model. */
  paperPerSec: number;
  calibratedPerSec: number;
  /** The node whose device time bounds each figure. */
  paperBottleneck: string;
  calibratedBottleneck: string;
}

interface NodeCounts {
  name: string;
  counts: LengthCounts;
}

function loadOf(node: NodeCounts): NodeLoad {
  const commands = countAll(node.counts);
  let bytes = 0;
  for (const [length, count] of node.counts) bytes += length * count;
  return { name: node.name, commands, meanBytes: commands === 0 ? 0 : bytes / commands };
}

/** Cost every node on every device and keep, per device, the busiest node in each costing. */
function busiestRows(operations: number, nodes: NodeCounts[], h: HmacCalibration, profiles: Map<string, Profile>): SystemRow[] {
  return COSTED_DEVICES.map((d): SystemRow => {
    const costed = nodes.map((n) => ({ name: n.name, ...deviceNs(d, n.counts, h, profiles) }));
    const paper = costed.reduce((a, b) => (b.paper > a.paper ? b : a));
    const calibrated = costed.reduce((a, b) => (b.calibrated > a.calibrated ? b : a));
    return {
      device: d.device,
      paperPerSec: (operations * 1e9) / paper.paper,
      calibratedPerSec: (operations * 1e9) / calibrated.calibrated,
      paperBottleneck: paper.name,
      calibratedBottleneck: calibrated.name,
    };
  });
}

export interface CrBench {
  machine: string;
  hmac: HmacCalibration;
  seed: number;
  /** Chain length; it tolerates nodes - 1 Byzantine nodes. */
  nodes: number;
  processes: number;
  operationsPerProcess: number;
  completed: number;
  /** Mean bytes of a client request as the head verified it. */
  requestBytes: number;
  /** HMAC commands per chain node, head first, client requests included. */
  perNode: NodeLoad[];
  rows: SystemRow[];
}

const CR_SEED = 7;
const CR_NODES = 3;
const CR_MAX_EVENTS = 5_000_000;

/**
 * Chain replication of a key-value store on one device kind after another,
 * costed from one run on ssl-lib devices (see the file header). Every
 * command of a chain node counts, the head's VERIFY of each client request
 * included; the client's own checks of the results do not.
 */
export async function runCrBench(o: BaselineBenchOptions): Promise<CrBench> {
  const profiles = loadProfiles();
  const hmac = calibrateHmac(o.quick);
  const processes = 32;
  const operationsPerProcess = o.quick ? 2 : 16;
  o.log(`baselines: chain replication, ${CR_NODES} nodes, ${processes} processes x ${operationsPerProcess} operations on ssl-lib devices`);

  const network = new SimNetwork(CR_SEED);
  const cluster = await CrCluster.open({
    network,
    backend: 'ssl-lib',
    nodes: CR_NODES,
    processes,
    operationsPerProcess,
    seed: CR_SEED,
  });
  try {
    const kernels = cluster.nodes.map((n) => baselineKernelOf(n.connections[0]!.tnic, n.identity.name));
    const before = kernels.map((k) => k.costs);
    await cluster.client.start();
    await network.run({ maxEvents: CR_MAX_EVENTS });
    const operations = processes * operationsPerProcess;
    if (cluster.client.completed !== operations) {
      throw new TnicError(
        'bench-incomplete',
        `chain replication completed ${cluster.client.completed} of ${operations} operations (seed ${CR_SEED}); ` +
          `replay it with \`tnic run cr --scenario baseline --backend ssl-lib --seed ${CR_SEED} --processes ${processes} ` +
          `--operations ${operationsPerProcess}\` to see which node stopped`,
      );
    }

    const chainSessions = new Set(cluster.nodes.map((n) => n.identity.session));
    const costs = kernels.map((kernel, i) => costsSince(kernel, before[i]!));
    const nodes = cluster.nodes.map((n, i): NodeCounts => ({ name: n.identity.name, counts: hmacLengths(costs[i]!) }));
    const requests = loadOf({ name: 'requests', counts: hmacLengths(costs[0]!, (s) => !chainSessions.has(s)) });
    return {
      machine: machineName(),
      hmac,
      seed: CR_SEED,
      nodes: CR_NODES,
      processes,
      operationsPerProcess,
      completed: cluster.client.completed,
      requestBytes: requests.meanBytes,
      perNode: nodes.map(loadOf),
      rows: busiestRows(operations, nodes, hmac, profiles),
    };
  } finally {
    await cluster.close();
  }
}

export interface PeerReviewRow extends SystemRow {
  /** Chunks per second that the witness's device can audit, in both costings; null in a run without audits. */
  witnessPaperPerSec: number | null;
  witnessCalibratedPerSec: number | null;
}

export interface PeerReviewRun {
  audit: boolean;
  chunks: number;
  /** Virtual milliseconds from the start of the stream to the last audit. */
  virtualMs: number;
  /** HMAC commands per node: the source, the children, then the witness. */
  perNode: NodeLoad[];
  auditStats: AuditStats;
  /** Throughput bound by the busiest stream node (the witness is costed apart). */
  rows: PeerReviewRow[];
}

export interface PeerReviewBench {
  machine: string;
  hmac: HmacCalibration;
  seed: number;
  /** Bytes of data per streamed chunk. */
  chunkBytes: number;
  /** Virtual milliseconds between audit rounds in the run with audits. */
  auditIntervalMs: number;
  /** Name of the witness node in `perNode`. */
  witness: string;
  runs: PeerReviewRun[];
}

const PR_SEED = 7;
const PR_AUDIT_INTERVAL_MS = 10;

async function runPeerReviewOnce(
  chunks: number,
  audit: boolean,
  h: HmacCalibration,
  profiles: Map<string, Profile>,
): Promise<PeerReviewRun> {
  const network = new SimNetwork(PR_SEED);
  const cluster = await PeerReviewCluster.open({ network, backend: 'ssl-lib', seed: PR_SEED });
  try {
    const { topology } = cluster;
    // NOTE: PeerReviewCluster keeps its devices private; the bench reads them to count each device's commands.
    const devices: Tnic[] = cluster['devices'];
    const kernels = topology.nodes.map((node) => {
      const tnic = devices.find((d) => d.deviceId === node.device);
      if (tnic === undefined) throw new TnicError('bench-backend', `no device ${node.device} for PeerReview node ${node.name}`);
      return baselineKernelOf(tnic, node.name);
    });
    const before = kernels.map((k) => k.costs);
    await runPeerReviewStream(cluster, network, {
      chunks,
      seed: PR_SEED,
      auditIntervalMs: audit ? PR_AUDIT_INTERVAL_MS : undefined,
    });
    checkPeerReviewRun(cluster, chunks, audit);

    const nodes = topology.nodes.map((node, i): NodeCounts => ({
      name: node.name,
      counts: hmacLengths(costsSince(kernels[i]!, before[i]!)),
    }));
    const stream = nodes.filter((n) => n.name !== topology.witness);
    const witness = nodes.find((n) => n.name === topology.witness)!;
    const rows = busiestRows(chunks, stream, h, profiles).map((row): PeerReviewRow => {
      const ns = deviceNs(COSTED_DEVICES.find((d) => d.device === row.device)!, witness.counts, h, profiles);
      return {
        ...row,
        witnessPaperPerSec: audit ? (chunks * 1e9) / ns.paper : null,
        witnessCalibratedPerSec: audit ? (chunks * 1e9) / ns.calibrated : null,
      };
    });
    return {
      audit,
      chunks,
      virtualMs: network.now,
      perNode: nodes.map(loadOf),
      auditStats: { ...cluster.witness.stats },
      rows,
    };
  } finally {
    await cluster.close();
  }
}

/** Throw unless both children output every chunk, no node was accused, and an audited run audited every log entry. */
function checkPeerReviewRun(cluster: PeerReviewCluster, chunks: number, audit: boolean): void {
  const fail = (detail: string): TnicError =>
    new TnicError('bench-incomplete', `PeerReview run of ${chunks} chunks (seed ${PR_SEED}): ${detail}`);
  for (const child of cluster.children) {
    const seqs = new Set(child.outputs.map((o) => o.seq));
    if (seqs.size !== chunks) throw fail(`child ${child.name} output ${seqs.size} of the chunks`);
  }
  if (cluster.witness.evidence.length > 0) {
    throw fail(`the witness found evidence against ${cluster.witness.evidence.map((e) => e.accused).join(', ')}`);
  }
  if (!audit) return;
  for (const node of [cluster.source, ...cluster.children]) {
    const audited = cluster.witness.auditor(node.name).next;
    if (audited !== node.log.length) throw fail(`the witness audited ${audited} of ${node.log.length} entries of ${node.name}`);
  }
}

/** PeerReview streaming without and with audits, costed from runs on ssl-lib devices (see the file header). */
export async function runPeerReviewBench(o: BaselineBenchOptions): Promise<PeerReviewBench> {
  const profiles = loadProfiles();
  const hmac = calibrateHmac(o.quick);
  const chunks = o.quick ? 24 : 1000;
  const runs: PeerReviewRun[] = [];
  for (const audit of [false, true]) {
    const mode = audit ? `audits every ${PR_AUDIT_INTERVAL_MS} ms` : 'no audit';
    o.log(`baselines: PeerReview, ${chunks} chunks of ${CHUNK_BYTES} B, ${mode}, on ssl-lib devices`);
    runs.push(await runPeerReviewOnce(chunks, audit, hmac, profiles));
  }
  return {
    machine: machineName(),
    hmac,
    seed: PR_SEED,
    chunkBytes: CHUNK_BYTES,
    auditIntervalMs: PR_AUDIT_INTERVAL_MS,
    witness: PEERREVIEW_TOPOLOGY.witness,
    runs,
  };
}

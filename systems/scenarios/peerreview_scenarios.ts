/**
 * Scenarios of PeerReview on the TNIC API (source s, children c1 and c2,
 * witness w). Each streams seeded chunks, with or without periodic audits,
 * states its expected outcome and checks it. Every piece of evidence is
 * also serialized to JSON, parsed back and checked offline with the
 * session keys, as a third party would.
 */

import { InputError } from '../../api/errors.ts';
import type { Backend } from '../../api/tnic_api.ts';
import type { FindingKind } from '../peerreview/auditor.ts';
import type { ChildBehavior } from '../peerreview/child.ts';
import { checkEvidence, type Evidence, type EvidenceVerdict } from '../peerreview/evidence.ts';
import { PeerReviewCluster } from '../peerreview/peerreview_cluster.ts';
import { keyTagChecker } from '../peerreview/tag_checker.ts';
import type { AuditStats } from '../peerreview/witness.ts';
import type { SimulatedNetwork } from '../replication/network.ts';
import { UnknownScenarioError, check, type ScenarioCheck } from './scenario.ts';

export interface PeerReviewScenarioOptions {
  /** Chunks the source streams (default 24). */
  chunks?: number;
  /** Virtual milliseconds between audit rounds while the stream runs (default 10). */
  auditIntervalMs?: number;
  /** Wire bytes of log entries per audit response (default 16384). */
  maxPageBytes?: number;
}

export interface PeerReviewScenarioContext {
  /** A fresh simulated network, seeded with `seed`. */
  network: SimulatedNetwork;
  backend: Backend;
  seed: number;
  /** Receives start and end lines. */
  log(line: string): void;
}

export interface PeerReviewScenarioResult {
  scenario: string;
  expected: string;
  seed: number;
  checks: ScenarioCheck[];
  met: boolean;
  evidence: Evidence[];
  /** The offline checker's verdict on each piece of evidence, in the same order. */
  offline: EvidenceVerdict[];
  audit: AuditStats;
  chunks: number;
  /** Virtual milliseconds the run took. */
  virtualMs: number;
}

export interface PeerReviewScenario {
  name: string;
  /** The expected outcome, e.g. "detected: ...". */
  expected: string;
  /** Whether the witness audits during the run. */
  audit: boolean;
  run(context: PeerReviewScenarioContext): Promise<PeerReviewScenarioResult>;
}

/** The state of a finished run, as a scenario's checks read it. */
interface Outcome {
  cluster: PeerReviewCluster;
  evidence: Evidence[];
  offline: EvidenceVerdict[];
  chunks: number;
}

interface Setup {
  audit: boolean;
  /** Minimum chunks for the fault to happen and show, because the first altered forward carries chunk 3. */
  minChunks?: number;
  behaviors?: Record<string, ChildBehavior>;
  checks(outcome: Outcome): ScenarioCheck[];
}

const CHUNK_INTERVAL_MS = 2;
const MAX_EVENTS = 2_000_000;

export interface StreamRun {
  chunks: number;
  /** Seeds the chunk bytes. */
  seed: number;
  /** Virtual milliseconds between audit rounds; undefined runs without audits. */
  auditIntervalMs: number | undefined;
}

/**
 * Stream `run.chunks` chunks, one every 2 virtual ms. With audits, the
 * witness audits every node each `auditIntervalMs` while the stream runs
 * and once more after it drained, so every log entry is audited.
 */
export async function runPeerReviewStream(cluster: PeerReviewCluster, network: SimulatedNetwork, run: StreamRun): Promise<void> {
  const interval = run.auditIntervalMs;
  if (interval !== undefined && !(Number.isFinite(interval) && interval > 0)) {
    throw new InputError(`auditIntervalMs ${interval} must be a positive number of milliseconds`);
  }
  cluster.start({ chunks: run.chunks, intervalMs: CHUNK_INTERVAL_MS, seed: run.seed });
  if (interval !== undefined) {
    while (!cluster.source.finished) {
      await network.run({ untilMs: network.now + interval, maxEvents: MAX_EVENTS });
      await cluster.witness.auditAll();
    }
    await network.run({ maxEvents: MAX_EVENTS });
    await cluster.witness.auditAll();
  }
  await network.run({ maxEvents: MAX_EVENTS });
}

function scenario(name: string, expected: string, setup: Setup): (options?: PeerReviewScenarioOptions) => PeerReviewScenario {
  return (options = {}) => ({
    name,
    expected,
    audit: setup.audit,
    run: async (context) => {
      const chunks = options.chunks ?? 24;
      const auditIntervalMs = options.auditIntervalMs ?? 10;
      const minChunks = setup.minChunks ?? 1;
      if (chunks < minChunks) {
        throw new InputError(`scenario ${name} needs at least ${minChunks} chunks for its fault to occur; got ${chunks}`);
      }
      const mode = setup.audit ? `audit every ${auditIntervalMs} ms` : 'no audit';
      context.log(`peerreview ${name}: seed ${context.seed}, ${chunks} chunks, ${mode}`);

      const cluster = await PeerReviewCluster.open({
        network: context.network,
        backend: context.backend,
        seed: context.seed,
        behaviors: setup.behaviors,
        maxPageBytes: options.maxPageBytes,
      });
      try {
        await runPeerReviewStream(cluster, context.network, {
          chunks,
          seed: context.seed,
          auditIntervalMs: setup.audit ? auditIntervalMs : undefined,
        });
        const evidence = cluster.witness.evidence;
        const checker = keyTagChecker(cluster.keys);
        const offline: EvidenceVerdict[] = [];
        for (const e of evidence) offline.push(await checkEvidence(JSON.parse(JSON.stringify(e)), checker));

        const checks = setup.checks({ cluster, evidence, offline, chunks });
        const met = checks.every((c) => c.passed);
        context.log(`peerreview ${name}: ${evidence.length} evidence, ${met ? 'met' : 'NOT met'}`);
        return {
          scenario: name,
          expected,
          seed: context.seed,
          checks,
          met,
          evidence,
          offline,
          audit: { ...cluster.witness.stats },
          chunks,
          virtualMs: context.network.now,
        };
      } finally {
        await cluster.close();
      }
    },
  });
}

/** Chunks that `child` output with the source's data, out of `chunks`, each seq counted once. */
function correctOutputs(outcome: Outcome, child: string): number {
  const sent = outcome.cluster.source.sent;
  const seqs = new Set<number>();
  for (const o of outcome.cluster.child(child).outputs) {
    if (sent.get(o.seq) === o.data) seqs.add(o.seq);
  }
  return seqs.size;
}

function streamComplete(outcome: Outcome): ScenarioCheck {
  const counts = outcome.cluster.topology.children.map((c) => `${c} ${correctOutputs(outcome, c)}`);
  const passed = outcome.cluster.children.every((c) => correctOutputs(outcome, c.name) === outcome.chunks);
  return check('both children output every chunk', passed, `${counts.join(', ')} of ${outcome.chunks} correct`);
}

function noEvidence(outcome: Outcome): ScenarioCheck {
  const accused = outcome.evidence.map((e) => e.accused);
  return check('no evidence', accused.length === 0, accused.length === 0 ? 'none' : `against ${accused.join(', ')}`);
}

/** Check that every log entry of every node was audited and passed. */
function fullyAudited(outcome: Outcome): ScenarioCheck {
  const { cluster } = outcome;
  const nodes = [cluster.source, ...cluster.children];
  const audited = nodes.map((n) => `${n.name} ${cluster.witness.auditor(n.name).next}/${n.log.length}`);
  const passed = nodes.every((n) => cluster.witness.auditor(n.name).next === n.log.length && n.log.length > 0);
  return check('every log entry audited', passed, audited.join(', '));
}

function detectedC1(kind: FindingKind): (outcome: Outcome) => ScenarioCheck[] {
  return (outcome) => {
    const [evidence] = outcome.evidence;
    const accused = outcome.evidence.map((e) => e.accused);
    const offline = outcome.offline[0];
    return [
      check('evidence against c1 only', accused.length === 1 && accused[0] === 'c1', `against ${accused.join(', ') || 'nobody'}`),
      check(`finding is ${kind}`, evidence?.finding.kind === kind, evidence === undefined ? 'no finding' : `${evidence.finding.kind} at entry ${evidence.finding.index}`),
      check('evidence confirmed offline', offline?.confirmed === true, offline?.detail ?? 'no evidence to check'),
    ];
  };
}

/** Chunks that c2 output with data other than the source's. */
function alteredAtC2(outcome: Outcome): ScenarioCheck {
  const altered = outcome.cluster.child('c2').outputs.length - correctOutputs(outcome, 'c2');
  return check('c2 output altered chunks', altered > 0, `${altered} altered of ${outcome.chunks}`);
}

const baseline = scenario(
  'baseline',
  'no fault: both children output every chunk, the witness audits every log entry and finds nothing',
  { audit: true, checks: (o) => [streamComplete(o), noEvidence(o), fullyAudited(o)] },
);

const noAudit = scenario(
  'no-audit',
  'no fault and no audits: both children output every chunk, with no audit traffic and no evidence',
  {
    audit: false,
    checks: (o) => {
      const requests = o.cluster.witness.stats.requests;
      return [streamComplete(o), noEvidence(o), check('no audit traffic', requests === 0, `${requests} audit requests`)];
    },
  },
);

const corruptForward = scenario(
  'corrupt-forward',
  'detected: c1 forwards altered chunks; replaying its log on the reference child exposes the first, ' +
    'and the evidence checks offline',
  {
    audit: true,
    minChunks: 3,
    behaviors: { c1: { kind: 'corrupt-forward' } },
    checks: (o) => [...detectedC1('output')(o), alteredAtC2(o)],
  },
);

const corruptNoAudit = scenario(
  'corrupt-forward-no-audit',
  'undetected: without audits the altered forwards of c1 reach the output of c2 and no evidence exists',
  {
    audit: false,
    minChunks: 3,
    behaviors: { c1: { kind: 'corrupt-forward' } },
    checks: (o) => [alteredAtC2(o), noEvidence(o)],
  },
);

const tamperedEntry = scenario(
  'tampered-entry',
  'detected: c1 alters forwards and rewrites their logged bytes to the unaltered data; the rewritten ' +
    'entry fails its tag check, and the evidence checks offline',
  { audit: true, minChunks: 3, behaviors: { c1: { kind: 'tamper-entry' } }, checks: detectedC1('attestation') },
);

const forkedLog = scenario(
  'forked-log',
  'detected: c1 reorders log entries the witness already audited and rehashes its log; its next audit ' +
    'response contradicts the audited hash chain, and the evidence checks offline',
  // NOTE: the rewrite shows only in a later audit, so the stream must outlast the first audit that covers
  // a chunk and a forward at c1. With audits every 10 ms 4 chunks suffice; a longer interval may need more.
  { audit: true, minChunks: 4, behaviors: { c1: { kind: 'fork-log' } }, checks: detectedC1('hash-chain') },
);

const omittedEntries = scenario(
  'omitted-entries',
  'detected: c1 leaves each altered forward and the chunk it came from out of its log; the counter of ' +
    'the next logged chunk from s skips the left-out one, and the evidence checks offline',
  // The gap shows at the next chunk from the source after the omitted chunk 3, so it needs chunk 5.
  { audit: true, minChunks: 5, behaviors: { c1: { kind: 'omit-entries' } }, checks: detectedC1('counter') },
);

/** Build every PeerReview scenario, in a fixed order. */
export function peerReviewScenarios(options: PeerReviewScenarioOptions = {}): PeerReviewScenario[] {
  return [baseline, noAudit, corruptForward, corruptNoAudit, tamperedEntry, forkedLog, omittedEntries].map((make) =>
    make(options),
  );
}

/** Find `name` among the PeerReview scenarios; the error lists the valid names. */
export function findPeerReviewScenario(scenarios: readonly PeerReviewScenario[], name: string): PeerReviewScenario {
  const found = scenarios.find((s) => s.name === name);
  if (found !== undefined) return found;
  const names = scenarios.map((s) => s.name).join(', ');
  throw new UnknownScenarioError(`unknown peerreview scenario '${name}'; use one of: ${names}`);
}

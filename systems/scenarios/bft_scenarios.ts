/**
 * Fault scenarios of the BFT counter and key-value store (2f+1 replicas,
 * f = 1: leader r0, followers r1 and r2, one client node). Each scenario
 * runs a seeded key-value workload, checks its expected outcome and checks
 * the client's history for linearizability.
 */

import type { Connection, RejectReason } from '../../api/connection.ts';
import { decodeAttested, decodeSignedReply, encodeAttested, encodeSignedReply } from '../../api/tnic_api.ts';
import { BftCluster, CLIENT_DEVICE, CLIENT_NAME } from '../bft/bft_cluster.ts';
import { FORBIDDEN_VALUE, runByzantineClient, type ByzantineClientReport } from '../bft/byzantine_client.ts';
import type { BatchSize, BftBehavior, BftReplica } from '../bft/replica.ts';
import type { DetectionKind } from '../replication/detection.ts';
import type { HostHook, HostMessage } from '../replication/network.ts';
import { falsifyOutput, isOutput, requestKey } from '../replication/request.ts';
import { SeededRandom } from '../replication/prng.ts';
import { decodeJson, encodeJson, isRecord } from '../replication/wire.ts';
import {
  ANY_WORKLOAD,
  check,
  checkWorkload,
  FAULT_WORKLOAD,
  type Scenario,
  type ScenarioCheck,
  type ScenarioContext,
  type ScenarioResult,
  type WorkloadRange,
} from './scenario.ts';
import { delayEvery, forgeBefore, replayFirst } from './host_attacks.ts';

export interface BftScenarioOptions {
  batchSize?: BatchSize;
  processes?: number;
  operationsPerProcess?: number;
}

interface BftSetup {
  behaviors?: Record<string, BftBehavior>;
  /** Node names of further clients the cluster provisions. */
  extraClients?: string[];
  prepare?(context: ScenarioContext, random: SeededRandom): void;
  /** Runs after the main client issued its first operations, before the network runs. */
  start?(context: ScenarioContext, cluster: BftCluster, random: SeededRandom): Promise<void>;
  /** Actions at set virtual times, in increasing `atMs`, e.g. to cut and later heal a link. */
  timeline?: { atMs: number; action(context: ScenarioContext, cluster: BftCluster): void }[];
  checks(cluster: BftCluster, context: ScenarioContext): ScenarioCheck[];
}

const MAX_EVENTS = 2_000_000;

function rejections(replica: BftReplica, reason: RejectReason): number {
  return replica.connections.reduce((sum, c) => sum + c.rejected[reason], 0);
}

function detected(replica: BftReplica, suspect: string, kind: DetectionKind): number {
  return replica.detections.filter((d) => d.suspect === suspect && d.kind === kind).length;
}

async function runBft(
  name: string,
  expected: string,
  setup: BftSetup,
  context: ScenarioContext,
  options: BftScenarioOptions,
): Promise<ScenarioResult> {
  const { network, seed } = context;
  const batchSize = options.batchSize ?? 8;
  const processes = options.processes ?? 4;
  const operationsPerProcess = options.operationsPerProcess ?? 8;
  const workload = `${processes} processes x ${operationsPerProcess} operations, batch ${batchSize}`;
  context.log(`bft ${name}: seed ${seed}, ${workload}`);

  const cluster = await BftCluster.open({
    network,
    backend: context.backend,
    machine: 'kv',
    batchSize,
    processes,
    operationsPerProcess,
    seed,
    behaviors: setup.behaviors,
    extraClients: setup.extraClients,
  });
  try {
    setup.prepare?.(context, new SeededRandom(seed ^ 0x5eed));
    // Timeline steps count from the client's start: on UDP, opening the devices already took wall-clock time.
    const startedAt = network.now;
    await cluster.client.start();
    await setup.start?.(context, cluster, new SeededRandom(seed ^ 0xc11e));
    for (const step of setup.timeline ?? []) {
      await network.run({ untilMs: startedAt + step.atMs, maxEvents: MAX_EVENTS });
      step.action(context, cluster);
    }
    await network.run({ maxEvents: MAX_EVENTS });

    const completed = cluster.client.completed;
    cluster.history.closePending();
    const history = cluster.history.toJepsenLog();
    const verdict = context.checkHistory(history);
    const checks = [
      check('history is linearizable', verdict === 'linearizable', verdict),
      ...setup.checks(cluster, context),
    ];
    const met = checks.every((c) => c.passed);
    context.log(`bft ${name}: ${completed} operations completed, history ${verdict}, ${met ? 'met' : 'NOT met'}`);
    return {
      scenario: name,
      expected,
      seed,
      checks,
      met,
      history,
      verdict,
      completed,
      operations: processes * operationsPerProcess,
      virtualMs: network.now,
    };
  } finally {
    await cluster.close();
  }
}

/**
 * Before every signed reply to one of `targets`, send a forgery: the reply
 * with every output in its content falsified under a random tag, and the
 * genuine signature, which no longer matches the changed bytes.
 * NOTE: kept here, next to its users, because host_attacks.ts handles attested bytes only.
 */
export function forgeRepliesBefore(targets: readonly string[], random: SeededRandom): HostHook {
  return ({ to, bytes }) => {
    if (!targets.includes(to)) return [bytes];
    const { reply, message } = decodeSignedReply(bytes);
    const payload = decodeJson(message.msg);
    const outputs = isRecord(payload) && Array.isArray(payload.outputs) ? payload.outputs.filter(isOutput) : [];
    const content = isRecord(payload) ? { ...payload, outputs: outputs.map(falsifyOutput) } : { t: 'forged' };
    const attested = encodeAttested({ ...message, msg: encodeJson(content), alpha: random.bytes(32) });
    return [encodeSignedReply({ ...reply, attested }), bytes];
  };
}

function allCompleted(cluster: BftCluster, total: number): ScenarioCheck {
  const completed = cluster.client.completed;
  return check('every operation completed', completed === total, `${completed} of ${total} completed`);
}

/** Define a scenario; a workload outside `workload` is rejected as bad input before it runs. */
function scenario(
  name: string,
  expected: string,
  setup: (options: BftScenarioOptions) => BftSetup,
  workload: WorkloadRange = FAULT_WORKLOAD,
): (options?: BftScenarioOptions) => Scenario {
  return (options = {}) => ({
    name,
    expected,
    run: async (context) => {
      checkWorkload('bft', name, workload, options.processes ?? 4, options.operationsPerProcess ?? 8);
      return runBft(name, expected, setup(options), context, options);
    },
  });
}

const total = (o: BftScenarioOptions): number => (o.processes ?? 4) * (o.operationsPerProcess ?? 8);

const baseline = scenario('baseline', 'no fault: every operation completes with no rejection', (o) => ({
  checks: (cluster) => [
    allCompleted(cluster, total(o)),
    check(
      'no detections',
      cluster.replicas.every((r) => r.detections.length === 0),
      `${cluster.replicas.reduce((n, r) => n + r.detections.length, 0)} detections`,
    ),
  ],
}), ANY_WORKLOAD);

const forged = scenario(
  'forged-message',
  'prevented: forged proposals fail the tag check and forged results the signature check, ' +
    'every operation completes',
  (o) => ({
    prepare: (context, random) => {
      const toPeer = forgeBefore(['r1'], random);
      const toClient = forgeRepliesBefore([CLIENT_NAME], random);
      context.network.node('r0').byzantine = (m) => (m.to === CLIENT_NAME ? toClient(m) : toPeer(m));
    },
    checks: (cluster) => {
      const r1 = cluster.replica('r1');
      const badSignatures = cluster.client.rejected['bad-signature'];
      return [
        check('r1 rejects forged proposals', rejections(r1, 'bad-tag') > 0, `${rejections(r1, 'bad-tag')} rejected`),
        check('client rejects forged results', badSignatures > 0, `${badSignatures} bad signatures`),
        check('r1 applied every batch', r1.appliedSeq === cluster.replica('r0').appliedSeq, `seq ${r1.appliedSeq}`),
        allCompleted(cluster, total(o)),
      ];
    },
  }),
  ANY_WORKLOAD,
);

const replayed = scenario(
  'replayed-message',
  'prevented: replayed proposals fail the counter check, the client rejects replayed results, ' +
    'every operation completes',
  (o) => ({
    prepare: (context) => {
      context.network.node('r0').byzantine = replayFirst(2);
    },
    checks: (cluster) => {
      const followers = cluster.replicas.slice(1);
      const replays = followers.map((r) => rejections(r, 'replayed'));
      const replayedResults = cluster.client.rejected.replayed;
      return [
        check('followers reject replays', replays.every((n) => n > 0), `rejected ${replays.join(', ')}`),
        check('client rejects replayed results', replayedResults > 0, `${replayedResults} rejected`),
        allCompleted(cluster, total(o)),
      ];
    },
  }),
);

const reordered = scenario(
  'reordered-dropped',
  'tolerated: lost, duplicated and reordered messages are delivered in counter order, every operation completes',
  (o) => ({
    prepare: (context) => {
      context.network.setFaults({
        minLatencyMs: 1,
        maxLatencyMs: 6,
        dropRate: 0.1,
        duplicateRate: 0.1,
        reorderRate: 0.2,
        reorderDelayMs: 12,
      });
      context.network.node('r0').byzantine = delayEvery('r1', 3, 40);
    },
    checks: (cluster, context) => {
      const r1 = cluster.replica('r1');
      const stats = context.network.stats;
      return [
        check('network dropped frames', stats.dropped > 0, `${stats.dropped} dropped, ${stats.reordered} reordered`),
        check('r1 held early proposals', rejections(r1, 'gap') > 0, `${rejections(r1, 'gap')} held`),
        check(
          'followers applied every batch',
          cluster.replicas.every((r) => r.appliedSeq === cluster.replica('r0').appliedSeq),
          cluster.replicas.map((r) => `${r.identity.name} seq ${r.appliedSeq}`).join(', '),
        ),
        allCompleted(cluster, total(o)),
      ];
    },
  }),
);

const CRASH_AT_MS = 20;

const crashed = scenario(
  'crashed-follower',
  'tolerated: with f = 1 the leader and one follower still answer, every operation completes',
  (o) => ({
    timeline: [
      {
        atMs: CRASH_AT_MS,
        action: (context) => context.network.partition(['r2'], ['r0', 'r1', 'client']),
      },
    ],
    checks: (cluster) => {
      const r0 = cluster.replica('r0');
      const r2 = cluster.replica('r2');
      return [
        check('r2 stopped early', r2.appliedSeq < r0.appliedSeq, `r2 seq ${r2.appliedSeq}, r0 seq ${r0.appliedSeq}`),
        check('leader reports r2 unreachable', detected(r0, 'r2', 'unreachable') > 0, `${detected(r0, 'r2', 'unreachable')}`),
        allCompleted(cluster, total(o)),
      ];
    },
  }),
);

/** r0's proposals after this seq do not reach r2, so r2 misses batches that r1 applied. */
const LEADER_CUT_AFTER_SEQ = 2;
/** r0 falls silent, sending nothing at all, when it proposes the seq after this one. */
const LEADER_CRASH_AFTER_SEQ = 4;

/** Seq of the proposal in a message that r0's host sends, if it is one. */
function proposalSeq(message: HostMessage): number | undefined {
  try {
    const attested = message.to === CLIENT_NAME ? decodeSignedReply(message.bytes).message : decodeAttested(message.bytes);
    const payload = decodeJson(attested.msg);
    return isRecord(payload) && payload.t === 'propose' && typeof payload.seq === 'number' ? payload.seq : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Return a leader host hook that stops forwarding to r2 after
 * LEADER_CUT_AFTER_SEQ and falls silent at the proposal after
 * LEADER_CRASH_AFTER_SEQ. The crash is timed by the leader's progress, so it
 * lands mid-run on any transport and workload.
 */
function crashingLeader(): HostHook {
  let crashed = false;
  return (message) => {
    const seq = proposalSeq(message);
    if (seq !== undefined && seq > LEADER_CRASH_AFTER_SEQ) crashed = true;
    if (crashed) return [];
    if (seq !== undefined && seq > LEADER_CUT_AFTER_SEQ && message.to === 'r2') return [];
    return [message.bytes];
  };
}

const crashedLeader = scenario(
  'crashed-leader',
  'tolerated, live after a view change: r0 stops after r2 missed its last batches; the client resends ' +
    'to every replica, r1 and r2 find the leader silent and move to view 1 under r1, r2 gets the ' +
    'missing batches from the new-view log, and every operation completes',
  (o) => ({
    prepare: (context) => {
      context.network.node('r0').byzantine = crashingLeader();
    },
    checks: (cluster) => {
      const [r0, r1, r2] = [cluster.replica('r0'), cluster.replica('r1'), cluster.replica('r2')];
      const silent = [r1, r2].filter((r) => detected(r, 'r0', 'silent') > 0).map((r) => r.identity.name);
      const divergence = firstDivergence([r1, r2]);
      return [
        check('followers find r0 silent', silent.length > 0, `found by ${silent.join(', ') || 'nobody'}`),
        check(
          'r1 and r2 enter view 1',
          r1.view >= 1 && r2.view >= 1 && r1.view === r2.view,
          `r1 view ${r1.view}, r2 view ${r2.view}`,
        ),
        check('client resent requests', cluster.client.resent > 0, `${cluster.client.resent} resent`),
        check('r2 got missed batches by state transfer', r2.transferred > 0, `${r2.transferred} transferred`),
        check(
          'r1 and r2 agree on every batch',
          divergence === undefined && r1.appliedSeq === r2.appliedSeq && r1.appliedSeq >= r0.appliedSeq,
          `${cluster.replicas.map((r) => `${r.identity.name} seq ${r.appliedSeq}`).join(', ')}` +
            (divergence === undefined ? '' : `, differ at seq ${divergence}`),
        ),
        allCompleted(cluster, total(o)),
      ];
    },
  }),
);

const lying = scenario(
  'lying-follower',
  'prevented: r2 reports wrong outputs, the client never gets f+1 matching wrong results, correct replicas expose r2',
  (o) => ({
    behaviors: { r2: { kind: 'lying' } },
    checks: (cluster) => {
      const r2Device = cluster.replica('r2').identity.device;
      const conflicts = cluster.client.conflicting.get(r2Device) ?? 0;
      const exposedBy = cluster.replicas.filter((r) => detected(r, 'r2', 'output') > 0).map((r) => r.identity.name);
      return [
        check('client saw r2 disagree', conflicts > 0, `${conflicts} conflicting results from r2`),
        check(
          'r0 and r1 expose r2',
          exposedBy.includes('r0') && exposedBy.includes('r1'),
          `exposed by ${exposedBy.join(', ') || 'nobody'}`,
        ),
        allCompleted(cluster, total(o)),
      ];
    },
  }),
);

// The partition must end well inside the reliable channel's retry budget
// (about 1.1 s of virtual time with its defaults: a 20 ms first timeout,
// doubled on each retry up to 160 ms, and 8 retries), so the cut links
// recover by retransmission and do not fail.
const PARTITION_AT_MS = 10;
const HEAL_AT_MS = 300;

/** Find the first seq at which the replicas applied different batches; undefined if they agree. */
function firstDivergence(replicas: readonly BftReplica[]): number | undefined {
  const maxSeq = Math.max(...replicas.map((r) => r.appliedSeq));
  for (let seq = 1; seq <= maxSeq; seq++) {
    const digests = replicas.map((r) => r.digestOf(seq)).filter((d) => d !== undefined);
    if (digests.some((d) => d !== digests[0])) return seq;
  }
  return undefined;
}

const partitioned = scenario(
  'partition-and-heal',
  'tolerated: r2 is cut off from every other node and later healed; the replicas never apply ' +
    'different batches, every operation completes, and r2 catches up by retransmission',
  (o) => {
    const atHeal = { r0Seq: 0, r2Seq: 0, divergence: undefined as number | undefined };
    return {
      timeline: [
        {
          atMs: PARTITION_AT_MS,
          action: (context) => context.network.partition(['r2'], ['r0', 'r1', 'client']),
        },
        {
          atMs: HEAL_AT_MS,
          action: (context, cluster) => {
            atHeal.r0Seq = cluster.replica('r0').appliedSeq;
            atHeal.r2Seq = cluster.replica('r2').appliedSeq;
            atHeal.divergence = firstDivergence(cluster.replicas);
            context.network.heal();
          },
        },
      ],
      checks: (cluster) => {
        const r0 = cluster.replica('r0');
        const r2 = cluster.replica('r2');
        const divergence = firstDivergence(cluster.replicas);
        const detections = cluster.replicas.flatMap((r) => r.detections);
        return [
          check(
            'r2 lagged at heal',
            atHeal.r2Seq < atHeal.r0Seq,
            `r2 seq ${atHeal.r2Seq}, r0 seq ${atHeal.r0Seq} at ${HEAL_AT_MS} ms`,
          ),
          check(
            'no divergence at heal',
            atHeal.divergence === undefined,
            atHeal.divergence === undefined ? 'agree' : `differ at seq ${atHeal.divergence}`,
          ),
          // The leader proposed every batch up to atHeal.r0Seq before the heal and sends each
          // proposal once, so r2 can only have them through the channel's retransmissions.
          check(
            'r2 caught up after heal',
            r2.appliedSeq === r0.appliedSeq && r2.appliedSeq >= atHeal.r0Seq,
            `r2 seq ${r2.appliedSeq}, r0 seq ${r0.appliedSeq}`,
          ),
          check(
            'replicas agree on every batch',
            divergence === undefined,
            divergence === undefined ? `agree on seq 1..${r0.appliedSeq}` : `differ at seq ${divergence}`,
          ),
          check('no replica suspected', detections.length === 0, `${detections.length} detections`),
          allCompleted(cluster, total(o)),
        ];
      },
    };
  },
);

const BYZANTINE_CLIENT = 'mallory';

/** Collect every request in the batches that `replica` applied, in order. */
function appliedRequests(replica: BftReplica): { process: number; id: number; op: Record<string, unknown> }[] {
  const out = [];
  for (let seq = 1; seq <= replica.appliedSeq; seq++) {
    const digest = replica.digestOf(seq);
    if (digest !== undefined) out.push(...(JSON.parse(digest) as [ReturnType<typeof appliedRequests>])[0]);
  }
  return out;
}

const byzantineClient = scenario(
  'byzantine-client',
  'prevented: a second client sends malformed, forged, replayed and impersonating messages and reuses ' +
    'request ids; the leader rejects and counts each, applies only its valid requests, once, ' +
    'and every operation of the correct client completes',
  (o) => {
    let report: ByzantineClientReport | undefined;
    return {
      extraClients: [BYZANTINE_CLIENT],
      start: async (context, cluster, random) => {
        const extra = cluster.extraClients[0]!;
        report = await runByzantineClient({
          identity: extra.identity,
          tnic: extra.tnic,
          leader: context.network.node(BYZANTINE_CLIENT).channel('r0'),
          // The main client attests on session 2f+1, one past the last replica's.
          mainClient: { name: CLIENT_NAME, device: CLIENT_DEVICE, session: cluster.replicas.length },
          history: cluster.history,
          random,
        });
      },
      checks: (cluster) => {
        const r0 = cluster.replica('r0');
        const session = cluster.extraClients[0]!.identity.session;
        const fromClient = r0.connections.filter((c) => c.session === session);
        const count = (reason: RejectReason): number =>
          fromClient.reduce((sum: number, c: Connection) => sum + c.rejected[reason], 0);
        const attempts = report!.attempts;
        const malformed = detected(r0, BYZANTINE_CLIENT, 'malformed');
        const applied = appliedRequests(r0);
        const appliedTimes = report!.valid.map(
          (v) => applied.filter((a) => requestKey(a) === requestKey(v)).length,
        );
        const forbidden = applied.filter((a) => Object.values(a.op).includes(FORBIDDEN_VALUE)).length;
        const divergence = firstDivergence(cluster.replicas);
        const counted = (name: string, seen: number, sent: number): ScenarioCheck =>
          check(name, seen === sent, `${seen} rejected of ${sent} sent`);
        return [
          counted('leader rejects malformed requests', malformed, attempts.malformed),
          counted('leader rejects duplicate ids', r0.requestRejections['duplicate-id'], attempts.duplicateId),
          counted(
            'leader rejects foreign processes',
            r0.requestRejections['foreign-process'],
            attempts.foreignProcess,
          ),
          counted('leader rejects forged tags', count('bad-tag'), attempts.forged),
          counted('leader rejects replays', count('replayed'), attempts.replayed),
          counted('leader rejects impersonation', count('unknown-session'), attempts.impersonated),
          check('valid requests applied once', appliedTimes.every((n) => n === 1), `applied ${appliedTimes.join(', ')} times`),
          check('no rejected request applied', forbidden === 0, `${forbidden} applied`),
          check(
            'replicas agree on every batch',
            divergence === undefined && cluster.replicas.every((r) => r.appliedSeq === r0.appliedSeq),
            cluster.replicas.map((r) => `${r.identity.name} seq ${r.appliedSeq}`).join(', '),
          ),
          allCompleted(cluster, total(o)),
        ];
      },
    };
  },
);

const EQUIVOCATION_SEQ = 2;
/** The equivocation comes at the second batch, so any number of processes works once there are three batches. */
const EQUIVOCATION_WORKLOAD: WorkloadRange = { minProcesses: 1, maxProcesses: Infinity, minOperations: 3 };

const equivocating = scenario(
  'equivocating-leader',
  'prevented, live after a view change: r0 attests two different proposals for one seq; the ' +
    'counters give every follower the same order, so all apply the first, expose r0 and move to view 1',
  (o) => ({
    behaviors: { r0: { kind: 'equivocating', atSeq: EQUIVOCATION_SEQ, victim: 'r2' } },
    checks: (cluster) => {
      const [r0, r1, r2] = [cluster.replica('r0'), cluster.replica('r1'), cluster.replica('r2')];
      const exposedBy = [r1, r2].filter((r) => detected(r, 'r0', 'equivocation') > 0).map((r) => r.identity.name);
      const leaderBatch = r0.digestOf(EQUIVOCATION_SEQ);
      const same = (r: BftReplica): string => (r.digestOf(EQUIVOCATION_SEQ) === leaderBatch ? 'same' : 'different');
      return [
        check(
          'followers apply the leader\'s first proposal',
          r1.digestOf(EQUIVOCATION_SEQ) === leaderBatch && r2.digestOf(EQUIVOCATION_SEQ) === leaderBatch,
          `r1 ${same(r1)}, r2 ${same(r2)}`,
        ),
        check('r1 and r2 expose r0', exposedBy.length === 2, `exposed by ${exposedBy.join(', ') || 'nobody'}`),
        check(
          'replicas leave r0\'s view',
          cluster.replicas.every((r) => r.view >= 1 && r.view === r1.view),
          cluster.replicas.map((r) => `${r.identity.name} view ${r.view}`).join(', '),
        ),
        check(
          'followers stay in step',
          r1.appliedSeq === r0.appliedSeq && r2.appliedSeq === r0.appliedSeq,
          cluster.replicas.map((r) => `${r.identity.name} seq ${r.appliedSeq}`).join(', '),
        ),
        allCompleted(cluster, total(o)),
      ];
    },
  }),
  EQUIVOCATION_WORKLOAD,
);

/** Build every BFT scenario, in a fixed order. */
export function bftScenarios(options: BftScenarioOptions = {}): Scenario[] {
  return [
    baseline,
    forged,
    replayed,
    reordered,
    crashed,
    crashedLeader,
    partitioned,
    byzantineClient,
    lying,
    equivocating,
  ].map((make) => make(options));
}

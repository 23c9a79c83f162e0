/**
 * Fault scenarios of the chain-replicated key-value store (head n0, n1,
 * tail n2, the configuration service and one client node; f = 2). Each
 * runs a seeded workload, checks its expected outcome and checks the
 * client's history for linearizability.
 */

import type { RejectReason } from '../../api/connection.ts';
import type { ChainBehavior, ChainNode } from '../cr/chain_node.ts';
import type { AccusationKind } from '../cr/config_messages.ts';
import type { ServiceDecision } from '../cr/config_service.ts';
import { CR_CLIENT_NAME, CrCluster } from '../cr/cr_cluster.ts';
import type { DetectionKind } from '../replication/detection.ts';
import type { HostHook } from '../replication/network.ts';
import { SeededRandom } from '../replication/prng.ts';
import { forgeRepliesBefore } from './bft_scenarios.ts';
import { forgeBefore, replayFirst } from './host_attacks.ts';
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

export interface CrScenarioOptions {
  processes?: number;
  operationsPerProcess?: number;
}

interface CrSetup {
  behaviors?: Record<string, ChainBehavior>;
  prepare?(context: ScenarioContext, random: SeededRandom): void;
  /** Actions at set times (virtual ms, or wall-clock ms over UDP), in increasing `atMs`. */
  timeline?: { atMs: number; action(context: ScenarioContext): void }[];
  checks(cluster: CrCluster, total: number): ScenarioCheck[];
}

const MAX_EVENTS = 2_000_000;

function rejections(node: ChainNode, reason: RejectReason): number {
  return node.connections.reduce((sum, c) => sum + c.rejected[reason], 0);
}

function detected(node: ChainNode, suspect: string, kind: DetectionKind): number {
  return node.detections.filter((d) => d.suspect === suspect && d.kind === kind).length;
}

function decisionsAgainst(cluster: CrCluster, suspect: string, outcome: ServiceDecision['outcome']): ServiceDecision[] {
  return cluster.service.decisions.filter((d) => d.suspect === suspect && d.outcome === outcome);
}

function allCompleted(cluster: CrCluster, total: number): ScenarioCheck {
  const completed = cluster.client.completed;
  return check('every operation completed', completed === total, `${completed} of ${total} completed`);
}

/** Check that the service, the client and every node still in the chain agree on `chain` in `epoch`. */
function chainIs(cluster: CrCluster, epoch: number, chain: readonly string[]): ScenarioCheck {
  const expected = `${chain.join(' -> ')} in epoch ${epoch}`;
  const views = [
    { who: 'service', epoch: cluster.service.epoch, chain: cluster.service.chain },
    { who: 'client', epoch: cluster.client.epoch, chain: cluster.client.chain },
    ...chain.map((name) => ({ who: name, epoch: cluster.node(name).epoch, chain: cluster.node(name).members })),
  ];
  const agree = views.every((v) => v.epoch === epoch && v.chain.join() === chain.join());
  const observed = views.map((v) => `${v.who}: ${v.chain.join(' -> ')} in epoch ${v.epoch}`).join('; ');
  return check(`chain is ${expected}`, agree, observed);
}

/** Check that every node of the final chain applied every operation once, in the same order, with the same outputs. */
function appliedEverything(cluster: CrCluster, total: number): ScenarioCheck {
  const nodes = cluster.service.chain.map((name) => cluster.node(name));
  const applied = nodes.map((n) => `${n.identity.name} seq ${n.appliedSeq}`).join(', ');
  const sameLogs = Array.from({ length: total }, (_, i) => i + 1).every((seq) =>
    nodes.every((n) => JSON.stringify(n.applied(seq)) === JSON.stringify(nodes[0]!.applied(seq))),
  );
  return check('the chain applied every operation', nodes.every((n) => n.appliedSeq === total) && sameLogs, applied);
}

/** n0 re-sent, in epoch 2, seqs it applied in epoch 1 and `successor` had not. */
function resentTo(cluster: CrCluster, successor: string): ScenarioCheck {
  const n0 = cluster.node('n0');
  return check(`n0 re-sends in-flight operations to ${successor}`, n0.resent > 0, `${n0.resent} seqs re-sent`);
}

function removedOnce(cluster: CrCluster, suspect: string, kind: AccusationKind): ScenarioCheck {
  const removed = decisionsAgainst(cluster, suspect, 'removed');
  const observed = removed.map((d) => `${d.kind} from ${d.accuser}: ${d.detail}`).join('; ') || 'not removed';
  return check(`service removes ${suspect} (${kind})`, removed.length === 1 && removed[0]!.kind === kind, observed);
}

/** Define a scenario; a workload outside `workload` is rejected as bad input before it runs. */
function scenario(
  name: string,
  expected: string,
  setup: CrSetup,
  workload: WorkloadRange = FAULT_WORKLOAD,
): (options?: CrScenarioOptions) => Scenario {
  return (options = {}) => ({
    name,
    expected,
    run: async (context): Promise<ScenarioResult> => {
      const { network, seed } = context;
      const processes = options.processes ?? 4;
      const operationsPerProcess = options.operationsPerProcess ?? 8;
      checkWorkload('cr', name, workload, processes, operationsPerProcess);
      const total = processes * operationsPerProcess;
      context.log(`cr ${name}: seed ${seed}, ${processes} processes x ${operationsPerProcess} operations`);

      const cluster = await CrCluster.open({
        network,
        backend: context.backend,
        processes,
        operationsPerProcess,
        seed,
        behaviors: setup.behaviors,
        log: context.log,
      });
      try {
        setup.prepare?.(context, new SeededRandom(seed ^ 0x5eed));
        await cluster.client.start();
        for (const step of setup.timeline ?? []) {
          await network.run({ untilMs: step.atMs, maxEvents: MAX_EVENTS });
          step.action(context);
        }
        await network.run({ maxEvents: MAX_EVENTS });

        const completed = cluster.client.completed;
        cluster.history.closePending();
        const history = cluster.history.toJepsenLog();
        const verdict = context.checkHistory(history);
        const checks = [
          check('history is linearizable', verdict === 'linearizable', verdict),
          ...setup.checks(cluster, total),
        ];
        const met = checks.every((c) => c.passed);
        context.log(`cr ${name}: ${completed} operations completed, history ${verdict}, ${met ? 'met' : 'NOT met'}`);
        const virtualMs = network.now;
        return { scenario: name, expected, seed, checks, met, history, verdict, completed, operations: total, virtualMs };
      } finally {
        await cluster.close();
      }
    },
  });
}

const baseline = scenario('baseline', 'no fault: every operation completes with no detection and no reconfiguration', {
  checks: (cluster, total) => [
    allCompleted(cluster, total),
    check(
      'no detections',
      cluster.nodes.every((n) => n.detections.length === 0),
      `${cluster.nodes.reduce((sum, n) => sum + n.detections.length, 0)} detections`,
    ),
    chainIs(cluster, 1, ['n0', 'n1', 'n2']),
  ],
}, ANY_WORKLOAD);

const forged = scenario(
  'forged-message',
  'prevented: forged chain messages fail the tag check and forged results the signature check, ' +
    'every operation completes',
  {
    prepare: (context, random) => {
      const toPeer = forgeBefore(['n1'], random);
      const toClient = forgeRepliesBefore([CR_CLIENT_NAME], random);
      context.network.node('n0').byzantine = (m) => (m.to === CR_CLIENT_NAME ? toClient(m) : toPeer(m));
    },
    checks: (cluster, total) => {
      const n1 = cluster.node('n1');
      const badSignatures = cluster.client.rejected['bad-signature'];
      return [
        check('n1 rejects forgeries', rejections(n1, 'bad-tag') > 0, `${rejections(n1, 'bad-tag')} rejected`),
        check('client rejects forged results', badSignatures > 0, `${badSignatures} bad signatures`),
        allCompleted(cluster, total),
      ];
    },
  },
);

const replayed = scenario(
  'replayed-message',
  'prevented: replayed chain messages fail the counter check, the client rejects replayed results, ' +
    'every operation completes',
  {
    prepare: (context) => {
      context.network.node('n0').byzantine = replayFirst(2);
      context.network.node('n1').byzantine = replayFirst(2);
    },
    checks: (cluster, total) => {
      const [n1, n2] = [cluster.node('n1'), cluster.node('n2')];
      return [
        check('n1 and n2 reject replays', rejections(n1, 'replayed') > 0 && rejections(n2, 'replayed') > 0,
          `n1 ${rejections(n1, 'replayed')}, n2 ${rejections(n2, 'replayed')} rejected`),
        check('client rejects replayed results', cluster.client.rejected.replayed > 0,
          `${cluster.client.rejected.replayed} rejected`),
        allCompleted(cluster, total),
      ];
    },
  },
);

const LIE_FROM_SEQ = 5;

const lying = scenario(
  'lying-node',
  'prevented, and live after reconfiguration: n1 reports wrong outputs from seq 5. n2 re-executes, exposes n1 ' +
    "and sends the service n1's attested messages as evidence; the service re-executes them, removes n1 and " +
    'announces the chain n0 -> n2, n0 re-sends what n2 has not applied, and every operation completes with no ' +
    'wrong output accepted',
  {
    behaviors: { n1: { kind: 'lying', fromSeq: LIE_FROM_SEQ } },
    checks: (cluster, total) => {
      const n2 = cluster.node('n2');
      const exposed = detected(n2, 'n1', 'output');
      const n1Device = cluster.node('n1').identity.device;
      const conflicts = cluster.client.conflicting.get(n1Device) ?? 0;
      return [
        check('n2 exposes n1', exposed > 0, `${exposed} detections`),
        removedOnce(cluster, 'n1', 'output'),
        chainIs(cluster, 2, ['n0', 'n2']),
        resentTo(cluster, 'n2'),
        check('client sets n1\'s wrong results aside', conflicts > 0, `${conflicts} results of n1 disagree with the accepted ones`),
        appliedEverything(cluster, total),
        allCompleted(cluster, total),
      ];
    },
  },
);

// Early enough that operations are still in flight, on either transport.
const CRASH_AT_MS = 10;

const crashed = scenario(
  'crashed-node',
  "tolerated after reconfiguration: n1 stops (cut off from every node); n0's channel to it fails after its " +
    'retry budget, n0 reports n1 unreachable, the service probes n1, gets no answer and removes it, and n0 ' +
    're-sends to n2 everything n2 has not applied; every operation completes',
  {
    timeline: [
      {
        atMs: CRASH_AT_MS,
        action: (context) => context.network.partition(['n1'], ['n0', 'n2', 'config', CR_CLIENT_NAME]),
      },
    ],
    checks: (cluster, total) => {
      const n0 = cluster.node('n0');
      const unreachable = detected(n0, 'n1', 'unreachable');
      const n1 = cluster.node('n1');
      return [
        check('n1 stopped early', n1.appliedSeq < total, `n1 applied up to seq ${n1.appliedSeq} of ${total}`),
        check('n0 reports n1 unreachable', unreachable > 0, `${unreachable} detections`),
        removedOnce(cluster, 'n1', 'unreachable'),
        chainIs(cluster, 2, ['n0', 'n2']),
        resentTo(cluster, 'n2'),
        appliedEverything(cluster, total),
        allCompleted(cluster, total),
      ];
    },
  },
);

const ACCUSE_AT_SEQ = 3;

/** The kind of each false accusation and the words of the service's reason for rejecting it. */
const FALSE_ACCUSATION_REASONS: readonly [AccusationKind, string][] = [
  ['output', 'matches re-execution'],
  ['output', 'the tag is not genuine'],
  ['equivocation', 'agree'],
  ['unreachable', 'answered the probe'],
];

const falseAccusation = scenario(
  'false-accusation',
  'prevented: n2 accuses the correct n1 four times: of a wrong output with genuine evidence, of a wrong output ' +
    'with a changed message, of equivocation with one message twice, and of being unreachable. The service ' +
    'rejects each one (re-execution, tag check, comparison, probe), the chain stays as it is and every ' +
    'operation completes',
  {
    behaviors: { n2: { kind: 'false-accuser', target: 'n1', atSeq: ACCUSE_AT_SEQ } },
    checks: (cluster, total) => {
      const rejected = decisionsAgainst(cluster, 'n1', 'rejected');
      const reasons = FALSE_ACCUSATION_REASONS.map(([kind, reason]) =>
        rejected.some((d) => d.kind === kind && d.detail.includes(reason)),
      );
      const observed = rejected.map((d) => `${d.kind}: ${d.detail}`).join('; ');
      return [
        check('service rejects all 4 accusations', rejected.length === 4, `${rejected.length} rejected`),
        check('each is rejected for its flaw', reasons.every(Boolean), observed),
        check('service removes nobody', cluster.service.decisions.every((d) => d.outcome === 'rejected'),
          `${cluster.service.decisions.filter((d) => d.outcome === 'removed').length} removed`),
        chainIs(cluster, 1, ['n0', 'n1', 'n2']),
        appliedEverything(cluster, total),
        allCompleted(cluster, total),
      ];
    },
  },
);

const WITHHELD_MESSAGE = 5;

/** Drop the `nth` message from the hooked node to `target`, once; later messages, retransmissions included, pass. */
function withholdOnce(target: string, nth: number): HostHook {
  let count = 0;
  return ({ to, bytes }) => {
    if (to !== target) return [bytes];
    count += 1;
    return count === nth ? [] : [bytes];
  };
}

const withheld = scenario(
  'withheld-message',
  "tolerated: n1's host withholds its 5th chain message to n2 once. n2 holds the later ones for the gap, then " +
    'accuses n1 of a counter gap with a later attested message as evidence; the service challenges n1, which ' +
    'retransmits the message to n2 and shows it to the service. The accusation is rejected, nobody is removed ' +
    'and every operation completes',
  {
    prepare: (context) => {
      context.network.node('n1').byzantine = withholdOnce('n2', WITHHELD_MESSAGE);
    },
    checks: (cluster, total) => {
      const n2 = cluster.node('n2');
      const gaps = detected(n2, 'n1', 'counter-gap');
      const rejected = decisionsAgainst(cluster, 'n1', 'rejected').filter((d) => d.kind === 'counter-gap');
      return [
        check('n2 holds messages for the gap', rejections(n2, 'gap') > 0, `${rejections(n2, 'gap')} held`),
        check('n2 accuses n1 of the gap', gaps > 0, `${gaps} detections`),
        check('service rejects it after n1 produces the message', rejected.length === 1,
          rejected.map((d) => d.detail).join('; ') || 'no decision'),
        chainIs(cluster, 1, ['n0', 'n1', 'n2']),
        appliedEverything(cluster, total),
        allCompleted(cluster, total),
      ];
    },
  },
);

/** Build every chain replication scenario, in a fixed order. */
export function crScenarios(options: CrScenarioOptions = {}): Scenario[] {
  return [baseline, forged, replayed, lying, crashed, falseAccusation, withheld].map((make) => make(options));
}

/**
 * Fault scenarios of the chain-replicated key-value store (head n0, n1,
 * tail n2, one client node; f = 2). Each runs a seeded workload, checks its
 * expected outcome and checks the client's history for linearizability.
 */

import type { RejectReason } from '../../api/connection.ts';
import type { ChainBehavior, ChainNode } from '../cr/chain_node.ts';
import { CR_CLIENT_NAME, CrCluster } from '../cr/cr_cluster.ts';
import { SeededRandom } from '../replication/prng.ts';
import { forgeRepliesBefore } from './bft_scenarios.ts';
import { forgeBefore, replayFirst } from './host_attacks.ts';
import { check, type Scenario, type ScenarioCheck, type ScenarioContext, type ScenarioResult } from './scenario.ts';

export interface CrScenarioOptions {
  processes?: number;
  operationsPerProcess?: number;
}

interface CrSetup {
  behaviors?: Record<string, ChainBehavior>;
  prepare?(context: ScenarioContext, random: SeededRandom): void;
  checks(cluster: CrCluster, total: number): ScenarioCheck[];
}

const MAX_EVENTS = 2_000_000;

function rejections(node: ChainNode, reason: RejectReason): number {
  return node.connections.reduce((sum, c) => sum + c.rejected[reason], 0);
}

function allCompleted(cluster: CrCluster, total: number): ScenarioCheck {
  const completed = cluster.client.completed;
  return check('every operation completed', completed === total, `${completed} of ${total} completed`);
}

function scenario(name: string, expected: string, setup: CrSetup): (options?: CrScenarioOptions) => Scenario {
  return (options = {}) => ({
    name,
    expected,
    run: async (context): Promise<ScenarioResult> => {
      const { network, seed } = context;
      const processes = options.processes ?? 4;
      const operationsPerProcess = options.operationsPerProcess ?? 8;
      const total = processes * operationsPerProcess;
      context.log(`cr ${name}: seed ${seed}, ${processes} processes x ${operationsPerProcess} operations`);

      const cluster = await CrCluster.open({
        network,
        backend: context.backend,
        processes,
        operationsPerProcess,
        seed,
        behaviors: setup.behaviors,
      });
      try {
        setup.prepare?.(context, new SeededRandom(seed ^ 0x5eed));
        await cluster.client.start();
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

const baseline = scenario('baseline', 'no fault: every operation completes with no detection', {
  checks: (cluster, total) => [
    allCompleted(cluster, total),
    check(
      'no detections',
      cluster.nodes.every((n) => n.detections.length === 0),
      `${cluster.nodes.reduce((sum, n) => sum + n.detections.length, 0)} detections`,
    ),
  ],
});

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
  'prevented, not live: n1 reports wrong outputs from seq 5; n2 re-executes, exposes n1 and stops the chain. ' +
    'The client accepts no wrong output, and later operations stay pending because no configuration service ' +
    'rebuilds the chain',
  {
    behaviors: { n1: { kind: 'lying', fromSeq: LIE_FROM_SEQ } },
    checks: (cluster, total) => {
      const n2 = cluster.node('n2');
      const exposed = n2.detections.filter((d) => d.suspect === 'n1' && d.kind === 'output').length;
      const completed = cluster.client.completed;
      return [
        check('n2 exposes n1', exposed > 0, `${exposed} detections`),
        check('n2 stops before the lie', n2.appliedSeq === LIE_FROM_SEQ - 1, `n2 applied up to seq ${n2.appliedSeq}`),
        check('client accepts only operations before the lie', completed === LIE_FROM_SEQ - 1 && completed < total,
          `${completed} of ${total} completed`),
      ];
    },
  },
);

/** Build every chain replication scenario, in a fixed order. */
export function crScenarios(options: CrScenarioOptions = {}): Scenario[] {
  return [baseline, forged, replayed, lying].map((make) => make(options));
}

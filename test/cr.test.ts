import { describe, expect, it } from 'vitest';

import { SimNetwork } from '../stack/sim_network.ts';
import { CrCluster } from '../systems/cr/cr_cluster.ts';
import { crScenarios } from '../systems/scenarios/cr_scenarios.ts';
import { findScenario, type ScenarioContext } from '../systems/scenarios/scenario.ts';
import { checkJepsenLog } from '../verify/linearizability.ts';
import { testSeed } from './seed.ts';

const SEED = testSeed('cr scenarios');
const EXTRA_SEEDS = [1, 2].map((i) => (SEED + i * 0x9e37) >>> 0);

function context(seed: number): ScenarioContext {
  return {
    network: new SimNetwork(seed),
    backend: 'model',
    seed,
    checkHistory: (history) => checkJepsenLog(history).verdict,
    log: () => {},
  };
}

describe('cr fault scenarios', () => {
  it.each(crScenarios().map((s) => s.name))('%s meets its expected outcome', async (name) => {
    for (const seed of [SEED, ...EXTRA_SEEDS]) {
      const result = await findScenario(crScenarios(), name, 'cr').run(context(seed));
      for (const c of result.checks) expect(c.passed, `${name} seed ${seed}: ${c.name} (${c.observed})`).toBe(true);
    }
  });

  it('reports a lie as pending, never as a wrong value', async () => {
    const result = await findScenario(crScenarios(), 'lying-node', 'cr').run(context(SEED));
    expect(result.history, 'pending operations end as :info').toContain(':info');
    expect(result.verdict, 'history').toBe('linearizable');
  });
});

describe('cr cluster', () => {
  it('gives the client no chain key', async () => {
    const cluster = await CrCluster.open({ network: new SimNetwork(SEED), backend: 'model', processes: 1, operationsPerProcess: 1, seed: SEED });
    try {
      const n = cluster.nodes.length;
      expect(await cluster.clientDevice.device.keyedSessions(), 'client sessions').toEqual([n]);
      const tail = await cluster.nodes.at(-1)!.connections[0]!.tnic.device.keyedSessions();
      expect(tail, 'tail sessions').toEqual(Array.from({ length: n }, (_, i) => i));
    } finally {
      await cluster.close();
    }
  });
});

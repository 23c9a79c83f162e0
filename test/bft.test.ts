import { describe, expect, it } from 'vitest';

import { InputError } from '../api/errors.ts';
import type { Backend } from '../api/tnic_api.ts';
import { SimNetwork } from '../stack/sim_network.ts';
import { BftCluster } from '../systems/bft/bft_cluster.ts';
import type { BatchSize } from '../systems/bft/replica.ts';
import { bftScenarios } from '../systems/scenarios/bft_scenarios.ts';
import { findScenario, UnknownScenarioError, type ScenarioContext } from '../systems/scenarios/scenario.ts';
import { checkJepsenLog } from '../verify/linearizability.ts';
import { testSeed } from './seed.ts';

const SEED = testSeed('bft scenarios');
/** Further seeds per scenario, derived from SEED so a replay repeats all of them. */
const EXTRA_SEEDS = [1, 2].map((i) => (SEED + i * 0x9e37) >>> 0);

function context(seed: number, backend: Backend = 'model'): ScenarioContext {
  return {
    network: new SimNetwork(seed),
    backend,
    seed,
    checkHistory: (history) => checkJepsenLog(history).verdict,
    log: () => {},
  };
}

describe('bft fault scenarios', () => {
  const names = bftScenarios().map((s) => s.name);

  it.each(names)('%s meets its expected outcome', async (name) => {
    for (const seed of [SEED, ...EXTRA_SEEDS]) {
      const result = await findScenario(bftScenarios(), name, 'bft').run(context(seed));
      for (const c of result.checks) expect(c.passed, `${name} seed ${seed}: ${c.name} (${c.observed})`).toBe(true);
    }
  });

  it('rejects a workload too small for its fault', async () => {
    const small = findScenario(bftScenarios({ processes: 1, operationsPerProcess: 1 }), 'crashed-leader', 'bft');
    const error = await small.run(context(SEED)).catch((e: unknown) => e);
    expect(error, 'a bad-input error, before anything runs').toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/needs 2 to 12 client processes, not 1/);
  });

  it.each([1, 16] as BatchSize[])('equivocation with batch %i', async (batchSize) => {
    const scenario = findScenario(bftScenarios({ batchSize, processes: 16, operationsPerProcess: 3 }), 'equivocating-leader', 'bft');
    const result = await scenario.run(context(SEED));
    for (const c of result.checks) expect(c.passed, `${c.name} (${c.observed})`).toBe(true);
  });

  it('partition and heal with batch 1', async () => {
    const scenario = findScenario(bftScenarios({ batchSize: 1, processes: 4, operationsPerProcess: 8 }), 'partition-and-heal', 'bft');
    const result = await scenario.run(context(SEED));
    for (const c of result.checks) expect(c.passed, `${c.name} (${c.observed})`).toBe(true);
  });

  it('forged message on rtl', async () => {
    const scenario = findScenario(bftScenarios({ processes: 2, operationsPerProcess: 4 }), 'forged-message', 'bft');
    const result = await scenario.run(context(SEED, 'rtl'));
    for (const c of result.checks) expect(c.passed, `${c.name} (${c.observed})`).toBe(true);
  });

  it('repeats a run from its seed', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) runs.push(await findScenario(bftScenarios(), 'reordered-dropped', 'bft').run(context(SEED)));
    expect(runs[1]!.history, 'same history').toBe(runs[0]!.history);
    expect(runs[1]!.virtualMs, 'same virtual time').toBe(runs[0]!.virtualMs);
  });

  it('lists valid names for an unknown scenario', () => {
    expect(() => findScenario(bftScenarios(), 'nope', 'bft'), 'error type').toThrow(UnknownScenarioError);
    expect(() => findScenario(bftScenarios(), 'nope', 'bft'), 'names').toThrow(/use one of: baseline, forged-message/);
  });
});

describe('bft cluster', () => {
  it('runs the counter with full batches', async () => {
    const network = new SimNetwork(SEED);
    const cluster = await BftCluster.open({
      network,
      backend: 'model',
      machine: 'counter',
      batchSize: 16,
      processes: 16,
      operationsPerProcess: 4,
      seed: SEED,
    });
    try {
      await cluster.client.start();
      await network.run();
      expect(cluster.client.completed, 'all increments').toBe(64);
      const outputs = cluster.client.accepted.map((a) => a.output).sort((a, b) => Number(a) - Number(b));
      expect(outputs, 'each value 1..64 once').toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
      expect(cluster.replica('r0').appliedSeq, 'full batches of 16').toBe(4);
      expect(checkJepsenLog(cluster.history.toJepsenLog()).verdict, 'history').toBe('linearizable');
    } finally {
      await cluster.close();
    }
  });

  it('flushes a partial batch on timeout', async () => {
    const network = new SimNetwork(SEED);
    const cluster = await BftCluster.open({
      network,
      backend: 'model',
      machine: 'kv',
      batchSize: 16,
      batchTimeoutMs: 5,
      processes: 1,
      operationsPerProcess: 3,
      seed: SEED,
    });
    try {
      await cluster.client.start();
      await network.run();
      expect(cluster.client.completed, 'all three').toBe(3);
      expect(cluster.replica('r0').appliedSeq, 'one batch per request').toBe(3);
    } finally {
      await cluster.close();
    }
  });

  it('gives the client no replica key', async () => {
    const cluster = await BftCluster.open({
      network: new SimNetwork(SEED),
      backend: 'model',
      machine: 'kv',
      batchSize: 8,
      processes: 1,
      operationsPerProcess: 1,
      seed: SEED,
    });
    try {
      // One session per replica, numbered after the replicas' own sessions.
      const n = cluster.replicas.length;
      const clientSessions = Array.from({ length: n }, (_, i) => n + i);
      expect(await cluster.clientDevice.device.keyedSessions(), 'client sessions').toEqual(clientSessions);
      const leaderSessions = await cluster.replicas[0]!.connections[0]!.tnic.device.keyedSessions();
      expect(leaderSessions, 'leader sessions').toEqual([0, 1, 2, clientSessions[0]]);
    } finally {
      await cluster.close();
    }
  });

  it('rejects an invalid configuration', async () => {
    const base = { network: new SimNetwork(1), backend: 'model' as const, machine: 'kv' as const, processes: 1, operationsPerProcess: 1, seed: 1 };
    await expect(BftCluster.open({ ...base, batchSize: 4 as BatchSize }), 'batch size').rejects.toThrow(/batch size 4/);
    await expect(BftCluster.open({ ...base, batchSize: 8, f: 8 }), 'f too large').rejects.toThrow(/f 8 must be/);
    await expect(BftCluster.open({ ...base, batchSize: 8, behaviors: { r9: { kind: 'lying' } } }), 'unknown replica').rejects.toThrow(/r9/);
    await expect(BftCluster.open({ ...base, batchSize: 8, extraClients: ['r1'] }), 'extra client name').rejects.toThrow(/'r1' is already used/);
  });
});

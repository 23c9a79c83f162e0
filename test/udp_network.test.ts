import { afterEach, describe, expect, it } from 'vitest';

import { TnicError } from '../sim/errors.ts';
import { SimNetwork } from '../stack/sim_network.ts';
import { UdpNetwork } from '../stack/udp_network.ts';
import { bftScenarios } from '../systems/scenarios/bft_scenarios.ts';
import { crScenarios } from '../systems/scenarios/cr_scenarios.ts';
import { findPeerReviewScenario, peerReviewScenarios } from '../systems/scenarios/peerreview_scenarios.ts';
import { findScenario, type ScenarioContext } from '../systems/scenarios/scenario.ts';
import { checkJepsenLog } from '../verify/linearizability.ts';
import { testSeed } from './seed.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const numbered = (count: number): string[] => Array.from({ length: count }, (_, i) => `m${i}`);

const open: UdpNetwork[] = [];

function network(seed: number, faults = {}): UdpNetwork {
  const net = new UdpNetwork(seed, { faults, maxRunMs: 60_000 });
  open.push(net);
  return net;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((net) => net.close()));
});

/** Send `count` numbered messages a -> b over a raw channel and return what b received once idle. */
async function streamRaw(net: UdpNetwork, count: number): Promise<string[]> {
  const a = net.node('a').channel('b');
  const b = net.node('b').channel('a');
  const got: string[] = [];
  b.onReadable = () => {
    for (const m of b.receive()) got.push(decoder.decode(m));
  };
  for (let i = 0; i < count; i++) a.send(encoder.encode(`m${i}`));
  await net.run();
  return got;
}

describe('UDP network', () => {
  it('delivers in order over real sockets', async () => {
    const net = network(1);
    const got = await streamRaw(net, 200);
    expect(got).toEqual(numbered(200));
    expect(net.stats.framesDelivered, 'datagrams that crossed the sockets').toBeGreaterThanOrEqual(200);
    expect(net.node('b').stats.dropped['bad-checksum']).toBe(0);
  });

  it('delivers in order under seeded faults', async () => {
    const seed = testSeed('udp network faults');
    const net = network(seed, { dropRate: 0.1, duplicateRate: 0.1, reorderRate: 0.2, reorderDelayMs: 5, corruptRate: 0.05 });
    const got = await streamRaw(net, 150);
    expect(got, `seed ${seed}`).toEqual(numbered(150));
    expect(net.stats.dropped + net.stats.corrupted, `seed ${seed}: faults injected`).toBeGreaterThan(0);
  });

  it('holds traffic across a partition until heal', async () => {
    const net = network(2);
    const a = net.node('a').channel('b');
    const b = net.node('b').channel('a');
    const got: string[] = [];
    b.onReadable = () => {
      for (const m of b.receive()) got.push(decoder.decode(m));
    };
    net.partition(['a'], ['b']);
    a.send(encoder.encode('during'));
    await net.runFor(60);
    expect(got, 'nothing crosses a partition').toEqual([]);
    expect(net.stats.partitioned).toBeGreaterThan(0);
    net.heal();
    await net.run();
    expect(got, 'the retransmission arrives after heal').toEqual(['during']);
  });

  it('passes sends through the host hook', async () => {
    const net = network(3);
    net.node('a').byzantine = (message) => [message.bytes, encoder.encode('injected')];
    const got = await streamRaw(net, 2);
    expect(got).toEqual(['m0', 'injected', 'm1', 'injected']);
  });

  it('counts datagrams from outside the network', async () => {
    const net = network(4);
    const node = net.node('a');
    node.channel('b');
    net.node('b');
    const port = await node.ready;
    const { createSocket } = await import('node:dgram');
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve, reject) =>
      stranger.send(new Uint8Array([1, 2, 3]), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
    );
    stranger.close();
    await net.runFor(50);
    expect(node.stats.datagrams).toBe(1);
    expect(node.stats.dropped['too-short'], 'a 3-byte datagram is too short for a frame').toBe(1);
  });

  it('reaches a node of another network by address', async () => {
    const left = network(6);
    const right = network(7);
    const a = left.node('a');
    const b = right.node('b');
    const [portA, portB] = await Promise.all([a.ready, b.ready]);
    left.addRemote('b', '127.0.0.1', portB);
    right.addRemote('a', '127.0.0.1', portA);
    const toB = a.channel('b');
    const toA = b.channel('a');
    const got: string[] = [];
    toA.onReadable = () => {
      for (const m of toA.receive()) got.push(decoder.decode(m));
    };
    for (let i = 0; i < 50; i++) toB.send(encoder.encode(`m${i}`));
    await left.run();
    await right.run();
    expect(got).toEqual(numbered(50));
    expect(right.stats.framesDelivered, 'frames b received from the remote a').toBeGreaterThanOrEqual(50);
    expect(() => left.node('b'), 'a remote name cannot become local').toThrow(/remote node/);
    expect(() => left.addRemote('a', '127.0.0.1', portA), 'a local name cannot become remote').toThrow(/local node/);
  });

  it('fails a run that exceeds maxRunMs', async () => {
    const net = new UdpNetwork(5, { maxRunMs: 30 });
    open.push(net);
    net.clock.setTimer(1_000, () => {});
    const error = await net.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TnicError);
    expect((error as TnicError).code).toBe('udp-run-timeout');
  });

  it('rejects a bad maxRunMs', () => {
    expect(() => new UdpNetwork(1, { maxRunMs: 0 })).toThrow(/maxRunMs 0/);
  });
});

function context(net: UdpNetwork | SimNetwork, seed: number): ScenarioContext {
  return { network: net, backend: 'model', seed, checkHistory: (h) => checkJepsenLog(h).verdict, log: () => {} };
}

describe('systems over UDP', () => {
  const seed = testSeed('systems over udp');

  it.each(['forged-message', 'crashed-follower', 'crashed-leader', 'equivocating-leader'])('bft %s', async (name) => {
    const result = await findScenario(bftScenarios(), name, 'bft').run(context(network(seed), seed));
    for (const c of result.checks) expect(c.passed, `seed ${seed}: ${c.name} (${c.observed})`).toBe(true);
    expect(result.completed).toBe(result.operations);
  });

  it.each(['replayed-message', 'lying-node'])('cr %s', async (name) => {
    const result = await findScenario(crScenarios(), name, 'cr').run(context(network(seed), seed));
    for (const c of result.checks) expect(c.passed, `seed ${seed}: ${c.name} (${c.observed})`).toBe(true);
  });

  it.each(['tampered-entry', 'forked-log'])('peerreview %s', async (name) => {
    const scenario = findPeerReviewScenario(peerReviewScenarios(), name);
    const result = await scenario.run({ network: network(seed), backend: 'model', seed, log: () => {} });
    for (const c of result.checks) expect(c.passed, `seed ${seed}: ${c.name} (${c.observed})`).toBe(true);
    expect(result.evidence.length, 'evidence against the faulty node').toBeGreaterThan(0);
  });
});

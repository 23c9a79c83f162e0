import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MAX_SESSIONS, decodeAttested, encodeAttested, encodeSignedReply, type Tnic } from '../api/tnic_api.ts';
import { SimNetwork } from '../stack/sim_network.ts';
import { ChainReplies } from '../systems/cr/chain_replies.ts';
import { CONFIG_SERVICE_DEVICE } from '../systems/cr/config_service.ts';
import { CrCluster } from '../systems/cr/cr_cluster.ts';
import { checkEvidence, type Accusation, type EvidenceContext } from '../systems/cr/evidence.ts';
import type { ChainMessage } from '../systems/cr/messages.ts';
import { ChainSessions, MAX_RECONFIGURABLE_NODES } from '../systems/cr/sessions.ts';
import { drawSessionKeys } from '../systems/replication/devices.ts';
import { Executor } from '../systems/replication/executor.ts';
import type { ReplicaIdentity } from '../systems/replication/quorum_client.ts';
import type { ClientRequest } from '../systems/replication/request.ts';
import { openCertified } from '../systems/replication/signed_reply_devices.ts';
import { createMachine, type Output } from '../systems/replication/state_machine.ts';
import { encodeJson } from '../systems/replication/wire.ts';
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

  it('completes a lie with the correct outputs only', async () => {
    const result = await findScenario(crScenarios(), 'lying-node', 'cr').run(context(SEED));
    expect(result.completed, `seed ${SEED}: completed`).toBe(result.operations);
    expect(result.history, `seed ${SEED}: no operation ends unknown`).not.toContain(':info');
    expect(result.verdict, `seed ${SEED}: history`).toBe('linearizable');
  });
});

describe('cr cluster', () => {
  it('gives the client no chain key', async () => {
    const cluster = await CrCluster.open({ network: new SimNetwork(SEED), backend: 'model', processes: 1, operationsPerProcess: 1, seed: SEED });
    try {
      const { sessions } = cluster;
      const n = cluster.nodes.length;
      const client = await cluster.clientDevice.device.keyedSessions();
      expect(client, 'client sessions').toEqual(sessions.ofClient());
      expect(client.filter((s) => sessions.linkSessions().includes(s)), 'link sessions on the client').toEqual([]);
      const tail = await cluster.nodes.at(-1)!.connections[0]!.tnic.device.keyedSessions();
      expect(tail, 'tail sessions').toEqual(sessions.ofNode(n - 1));
      expect(await cluster.serviceDevice.device.keyedSessions(), 'service sessions').toEqual(sessions.ofService());
    } finally {
      await cluster.close();
    }
  });

  it('fits the session layout in the keystore', () => {
    const largest = ChainSessions.withService(MAX_RECONFIGURABLE_NODES);
    expect(largest.count, `sessions of a chain of ${MAX_RECONFIGURABLE_NODES}`).toBeLessThanOrEqual(MAX_SESSIONS);
    expect(new Set(largest.all()).size, 'no session is used twice').toBe(largest.all().length);
    expect(() => ChainSessions.withService(MAX_RECONFIGURABLE_NODES + 1)).toThrow(/must be 2\.\.\d+/);

    const three = ChainSessions.withService(3);
    expect([three.link(0, 1), three.link(1, 2), three.tail(2), three.client(0)], 'original chain as before').toEqual([0, 1, 2, 3]);
    expect(three.link(2, 0), 'a link is one session both ways').toBe(three.link(0, 2));
    expect(() => ChainSessions.fixed(identities(3), { name: 'client', device: 100, session: 3 }).link(0, 2)).toThrow(/no link session/);
  });
});

function identities(n: number): ReplicaIdentity[] {
  return Array.from({ length: n }, (_, i) => ({ name: `n${i}`, device: i + 1, session: i }));
}

/** Real devices for n0, n1 and the service of a 3-node chain, and the chain messages they attest. */
describe('configuration service evidence', () => {
  const sessions = ChainSessions.withService(3);
  const members = identities(3);
  let devices: Tnic[];
  let context: EvidenceContext;
  const requests: ClientRequest[] = [
    { process: 0, id: 0, op: { f: 'put', key: 'x', value: 1 } },
    { process: 1, id: 0, op: { f: 'get', key: 'x' } },
    { process: 0, id: 1, op: { f: 'cas', key: 'x', from: 1, to: 2 } },
  ];

  beforeAll(async () => {
    const keys = drawSessionKeys(sessions.all());
    const certified = await openCertified(
      'model',
      [
        { device: 1, sessions: sessions.ofNode(0) },
        { device: 2, sessions: sessions.ofNode(1) },
        { device: CONFIG_SERVICE_DEVICE, sessions: sessions.ofService() },
      ],
      keys,
    );
    devices = certified.devices;
    context = { tnic: devices[2]!, members, sessions, machine: 'kv' };
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
  });

  function correctOutputs(): Output[] {
    const executor = new Executor(createMachine('kv'));
    const trial = executor.trial(requests);
    return trial.outputs;
  }

  /** n0 attests seq 1..3 to n1, and n1 forwards them to n2 with its own outputs, lying from `lieFrom`. */
  async function attestChain(lieFrom = Infinity): Promise<{ n0: Uint8Array[]; n1: Uint8Array[] }> {
    const outputs = correctOutputs();
    const n0: Uint8Array[] = [];
    const n1: Uint8Array[] = [];
    for (const [i, request] of requests.entries()) {
      const seq = i + 1;
      const head: ChainMessage = { t: 'chain', epoch: 1, seq, request, outputs: [outputs[i]!], previous: '' };
      const fromHead = await devices[0]!.localSend(sessions.link(0, 1), encodeJson(head));
      const own = seq >= lieFrom ? 100 : outputs[i]!;
      const middle: ChainMessage = { ...head, outputs: [outputs[i]!, own], previous: Buffer.from(fromHead).toString('hex') };
      n0.push(fromHead);
      n1.push(await devices[1]!.localSend(sessions.link(1, 2), encodeJson(middle)));
    }
    return { n0, n1 };
  }

  function accusation(fields: Partial<Accusation>): Accusation {
    return { accuser: 'n2', suspect: 'n1', kind: 'output', seq: 3, messages: [], ...fields };
  }

  it('proves a wrong output by re-execution', async () => {
    const { n1 } = await attestChain(3);
    const verdict = await checkEvidence(accusation({ messages: n1 }), context);
    expect(verdict.outcome).toBe('proven');
    expect(verdict.detail).toMatch(/output 100 for seq 3/);
  });

  it('rejects genuine outputs that match', async () => {
    const { n1 } = await attestChain();
    const verdict = await checkEvidence(accusation({ messages: n1 }), context);
    expect(verdict).toEqual({ outcome: 'rejected', detail: 'every output n1 attested for seq 1..3 matches re-execution' });
  });

  it('rejects a forged message', async () => {
    const { n1 } = await attestChain();
    const genuine = decodeAttested(n1[2]!);
    const forged = encodeAttested({ ...genuine, msg: new TextEncoder().encode(new TextDecoder().decode(genuine.msg).replace('true', 'false')) });
    const verdict = await checkEvidence(accusation({ messages: [n1[0]!, n1[1]!, forged] }), context);
    expect(verdict.outcome).toBe('rejected');
    expect(verdict.detail).toMatch(/evidence message 2: the tag is not genuine/);
  });

  it('rejects evidence without the prefix', async () => {
    const { n1 } = await attestChain(3);
    const lastOnly = await checkEvidence(accusation({ messages: [n1[2]!] }), context);
    expect(lastOnly.outcome, 'seq 3 alone').toBe('rejected');
    expect(lastOnly.detail).toMatch(/is seq 3, not 1/);
    const short = await checkEvidence(accusation({ messages: n1.slice(0, 2) }), context);
    expect(short.outcome, 'seq 1..2 for a lie at seq 3').toBe('rejected');
    const none = await checkEvidence(accusation({ messages: [] }), context);
    expect(none.outcome, 'no messages').toBe('rejected');
  });

  it('rejects messages of another node', async () => {
    const { n0 } = await attestChain();
    const verdict = await checkEvidence(accusation({ messages: n0 }), context);
    expect(verdict.outcome).toBe('rejected');
    expect(verdict.detail).toMatch(/attested by device 1, not n1's device 2/);
  });

  it('rejects accusations of unknown or own nodes', async () => {
    const { n1 } = await attestChain(3);
    expect((await checkEvidence(accusation({ suspect: 'n9', messages: n1 }), context)).outcome, 'unknown suspect').toBe('rejected');
    expect((await checkEvidence(accusation({ accuser: 'n1', messages: n1 }), context)).outcome, 'self').toBe('rejected');
  });

  it('proves equivocation and rejects agreeing messages', async () => {
    const outputs = correctOutputs();
    const first: ChainMessage = { t: 'chain', epoch: 1, seq: 2, request: requests[1]!, outputs: [outputs[1]!], previous: '' };
    const other: ChainMessage = { ...first, epoch: 2, request: requests[2]! };
    const a = await devices[0]!.localSend(sessions.link(0, 1), encodeJson(first));
    const b = await devices[0]!.localSend(sessions.link(0, 2), encodeJson(other));
    const c = await devices[0]!.localSend(sessions.link(0, 2), encodeJson({ ...first, epoch: 2 }));
    const against = (messages: Uint8Array[]): Accusation => accusation({ suspect: 'n0', kind: 'equivocation', seq: 2, messages });

    expect((await checkEvidence(against([a, b]), context)).outcome, 'two requests for seq 2').toBe('proven');
    expect((await checkEvidence(against([a, c]), context)).outcome, 'the same request in two epochs').toBe('rejected');
    expect((await checkEvidence(against([a, a]), context)).outcome, 'one message twice').toBe('rejected');
    expect((await checkEvidence(against([a]), context)).outcome, 'one message').toBe('rejected');
  });

  it('challenges a counter gap only with a later counter', async () => {
    const { n0 } = await attestChain();
    const link = sessions.link(0, 1);
    const gap = (counter: bigint, session = link): Accusation =>
      accusation({ accuser: 'n1', suspect: 'n0', kind: 'counter-gap', session, counter, messages: [n0[2]!] });
    const counter = decodeAttested(n0[2]!).counter;

    const challenged = await checkEvidence(gap(counter - 1n), context);
    expect(challenged).toMatchObject({ outcome: 'challenge', session: link, counter: counter - 1n });
    expect((await checkEvidence(gap(counter), context)).outcome, 'the held message is the missing one').toBe('rejected');
    expect((await checkEvidence(gap(counter - 1n, sessions.link(0, 2)), context)).outcome, 'another link').toBe('rejected');
  });

  it('probes on an unreachable accusation', async () => {
    const verdict = await checkEvidence(accusation({ kind: 'unreachable' }), context);
    expect(verdict.outcome).toBe('probe');
  });
});

describe('chain replies', () => {
  const sessions = ChainSessions.withService(3);
  const members = identities(3);
  let devices: Tnic[];
  let replies: ChainReplies;
  const request: ClientRequest = { process: 0, id: 0, op: { f: 'put', key: 'x', value: 1 } };

  beforeAll(async () => {
    const keys = drawSessionKeys(sessions.all());
    const certified = await openCertified(
      'model',
      [...members.map((m, i) => ({ device: m.device, sessions: sessions.ofNode(i) })), { device: CONFIG_SERVICE_DEVICE, sessions: sessions.ofService() }],
      keys,
    );
    devices = certified.devices;
    replies = await ChainReplies.create({
      roots: certified.roots,
      members: members.map((identity, i) => ({ identity, certificate: certified.certificates[i]! })),
      sessions,
      service: { device: CONFIG_SERVICE_DEVICE, certificate: certified.certificates[3]! },
    });
    replies.expectAllCertified();
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
  });

  async function reply(node: number, session: number): Promise<Uint8Array> {
    const message: ChainMessage = { t: 'chain', epoch: 1, seq: 1, request, outputs: [null], previous: '' };
    return encodeSignedReply(await devices[node]!.attestAndSign(session, encodeJson(message)));
  }

  async function announce(device: Tnic, session: number, epoch: number, chain: string[]): Promise<Uint8Array> {
    return encodeSignedReply(await device.attestAndSign(session, encodeJson({ t: 'config', epoch, chain })));
  }

  it('counts the chain of the latest announcement', async () => {
    replies.expect(request);
    expect(await replies.receive(await reply(0, sessions.link(0, 1))), 'n0 alone').toEqual([]);
    expect(await replies.receive(await reply(2, sessions.tail(2))), 'n0 and n2 of three').toEqual([]);

    const fromNode = await announce(devices[0]!, sessions.link(0, 1), 2, ['n0', 'n2']);
    expect(await replies.announcement(fromNode), 'announced by a node').toBeUndefined();
    expect(replies.epoch).toBe(1);

    const service = devices[3]!;
    const genuine = await announce(service, sessions.announcements!, 2, ['n0', 'n2']);
    const announced = await replies.announcement(genuine);
    expect(announced?.decisions.map((d) => d.output), 'completes with n0 and n2').toEqual([null]);
    expect(replies.epoch).toBe(2);

    expect(await replies.announcement(genuine), 'replayed').toBeUndefined();
    const older = await announce(service, sessions.announcements!, 2, ['n0', 'n1', 'n2']);
    expect(await replies.announcement(older), 'not newer').toBeUndefined();
    expect(replies.rejectedAnnouncements).toBe(3);
  });

  it('rejects a reply on a session its node does not attest on', async () => {
    const before = replies.rejected['unknown-replica'];
    await replies.receive(await reply(0, sessions.service(0)));
    expect(replies.rejected['unknown-replica']).toBe(before + 1);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { CounterGapError, InputError } from '../api/errors.ts';
import { QueuePair } from '../api/queue_pair.ts';
import { decodeAttested, encodeAttested, Tnic, type Backend } from '../api/tnic_api.ts';
import {
  allocMem,
  ibvQpConn,
  ibvSync,
  initLqueue,
  poll,
  remRead,
  remWrite,
  RemoteAccessError,
  authSend,
} from '../api/verbs.ts';
import { Prng } from '../sim/prng.ts';
import { decodeFrame } from '../stack/frame.ts';
import { SimNetwork, type HostHook, type LinkFaults } from '../stack/sim_network.ts';
import { TransportError } from '../stack/transport.ts';
import { decodeVerb, encodeVerb } from '../stack/verbs_wire.ts';
import { testSeed } from './seed.ts';
import { startStream } from './stream_protocol.ts';

const SESSION = 2;
const KEY = new Uint8Array(32).fill(0x5a);
const LOSSY: Partial<LinkFaults> = {
  minLatencyMs: 1,
  maxLatencyMs: 6,
  dropRate: 0.15,
  duplicateRate: 0.1,
  reorderRate: 0.2,
  reorderDelayMs: 12,
  corruptRate: 0.05,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (s: string): Uint8Array => encoder.encode(s);

/** Send `count` numbered messages a -> b over a raw channel and return what b received. */
async function streamRaw(net: SimNetwork, count: number): Promise<string[]> {
  const a = net.node('a').channel('b');
  const b = net.node('b').channel('a');
  const got: string[] = [];
  b.onReadable = () => {
    for (const m of b.receive()) got.push(decoder.decode(m));
  };
  for (let i = 0; i < count; i++) a.send(text(`m${i}`));
  await net.run();
  return got;
}

const numbered = (count: number): string[] => Array.from({ length: count }, (_, i) => `m${i}`);

describe('simulated network', () => {
  it('delivers in order under random faults', async () => {
    const seed = testSeed('sim network faults');
    const net = new SimNetwork(seed, LOSSY);
    const got = await streamRaw(net, 300);

    expect(got, 'every message once, in order').toEqual(numbered(300));
    expect(net.stats.dropped, 'some frames dropped').toBeGreaterThan(0);
    expect(net.stats.duplicated, 'some frames duplicated').toBeGreaterThan(0);
    expect(net.stats.reordered, 'some frames reordered').toBeGreaterThan(0);
    expect(net.node('b').stats.dropped['bad-checksum'], 'corruption caught by the CRC').toBeGreaterThan(0);
  });

  it('repeats a run from its seed', async () => {
    const seed = testSeed('sim network replay');
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const net = new SimNetwork(seed, LOSSY);
      const got = await streamRaw(net, 100);
      runs.push({ got, now: net.now, stats: { ...net.stats }, endpoint: structuredClone(net.node('b').stats) });
    }
    expect(runs[1], 'second run equals the first').toEqual(runs[0]);
  });

  it('fails the sender across a partition', async () => {
    const net = new SimNetwork(1);
    const a = net.node('a').channel('b', 0, { rtoMs: 10, maxRetries: 3 });
    net.node('b').channel('a', 0);
    net.partition(['a'], ['b']);
    a.send(text('lost'));
    await net.run();

    expect(a.error, 'sender failed').toBeInstanceOf(TransportError);
    expect(a.error?.code, 'error code').toBe('transport-retries-exhausted');
    expect(a.error?.message, 'names the connection and message').toContain('connection a -> b #0: message 0');
    expect(net.stats.partitioned, 'original and 3 retransmissions cut').toBe(4);
    expect(() => a.send(text('more')), 'send after failure').toThrow(TransportError);
  });

  it('recovers when a partition heals', async () => {
    const net = new SimNetwork(2);
    const a = net.node('a').channel('b', 0, { rtoMs: 10, maxRetries: 6 });
    const b = net.node('b').channel('a', 0);
    net.partition(['a'], ['b']);
    a.send(text('late'));
    await net.runFor(50);
    net.heal();
    await net.run();

    expect(b.receive().map((m) => decoder.decode(m)), 'delivered after healing').toEqual(['late']);
    expect(a.error, 'sender did not fail').toBeUndefined();
  });

  it('fails the receiver on a gap never filled', async () => {
    const net = new SimNetwork(3);
    const a = net.node('a').channel('b', 0, { rtoMs: 20, maxRetries: 8 });
    const b = net.node('b').channel('a', 0, { gapTimeoutMs: 100 });
    // The network loses every copy of message 0, retransmissions included.
    net.onFrame = ({ bytes }) => {
      const frame = decodeFrame(bytes);
      return typeof frame !== 'string' && frame.type === 'data' && frame.sequence === 0 ? [] : [bytes];
    };
    for (const m of ['m0', 'm1', 'm2']) a.send(text(m));
    await net.run();

    expect(b.receive(), 'nothing delivered past the gap').toEqual([]);
    expect(b.error?.code, 'receiver error code').toBe('transport-gap');
    expect(b.error?.sequence, 'names the missing message').toBe(0);
    expect(b.error?.message, 'names the connection').toContain('connection b -> a #0: message 0 is missing');
    expect(a.error?.code, 'sender gave up too').toBe('transport-retries-exhausted');
  });

  it('limits throughput by bandwidth', async () => {
    const net = new SimNetwork(4, { bandwidthBytesPerMs: 1 });
    const got = await streamRaw(net, 10);
    expect(got, 'all delivered').toEqual(numbered(10));
    // Ten DATA frames of 20 bytes each (18 of framing, 2 of text) at 1 byte per ms.
    expect(net.now, 'virtual time covers the serialization').toBeGreaterThanOrEqual(200);
  });

  it('stops a run at maxEvents', async () => {
    const net = new SimNetwork(5);
    net.node('a').channel('b').send(text('x'));
    net.node('b').channel('a');
    await expect(net.run({ maxEvents: 1 }), 'guard').rejects.toThrow(/ran 1 events/);
  });

  it('rejects fault rates outside 0..1', () => {
    expect(() => new SimNetwork(6, { dropRate: 1.5 }), 'drop rate').toThrow(InputError);
    expect(() => new SimNetwork(6, { minLatencyMs: 5, maxLatencyMs: 1 }), 'latency range').toThrow(InputError);
  });

  it('drops frames for unknown connections', async () => {
    const net = new SimNetwork(7);
    net.node('a').channel('b', 9).send(text('x'));
    net.node('b');
    await net.runFor(10);
    expect(net.node('b').stats.dropped['unknown-connection'], 'counted').toBe(1);
  });
});

describe('RDMA verbs over the simulated network', () => {
  let alice: Tnic;
  let bob: Tnic;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([Tnic.open('model', 1), Tnic.open('model', 2)]);
  });

  afterAll(async () => {
    await Promise.all([alice.close(), bob.close()]);
  });

  it('reads and writes registered memory', async () => {
    const net = new SimNetwork(8, { minLatencyMs: 1, maxLatencyMs: 3 });
    const qa = ibvQpConn(alice, net.node('a'), { peer: 'b', session: SESSION, peerDeviceId: 2 });
    const qb = ibvQpConn(bob, net.node('b'), { peer: 'a', session: SESSION, peerDeviceId: 1 });
    const region = allocMem(64);
    const key = initLqueue(qb, region);
    region.buffer.set(text('hello'), 10);

    const synced = Promise.all([ibvSync(qa), ibvSync(qb)]);
    await net.run();
    const [peerOfA, peerOfB] = await synced;
    expect(peerOfA.regions, 'alice sees bob region').toEqual([{ key, length: 64 }]);
    expect(peerOfA.device, 'bob device id').toBe(2);
    expect(peerOfB.queuePair, 'bob sees alice queue pair').toBe(qa.number);

    const read = remRead(qa, key, 10, 5);
    await net.run();
    expect(decoder.decode(await read), 'read bytes').toBe('hello');

    const write = remWrite(qa, key, 0, text('world'));
    await net.run();
    await write;
    expect(decoder.decode(region.buffer.subarray(0, 5)), 'written bytes').toBe('world');
    expect(qb.stats.served, 'bob served both').toBe(2);
  });

  it('rejects access outside a region', async () => {
    const net = new SimNetwork(9);
    const qa = ibvQpConn(alice, net.node('a'), { peer: 'b', session: SESSION, peerDeviceId: 2 });
    const qb = ibvQpConn(bob, net.node('b'), { peer: 'a', session: SESSION, peerDeviceId: 1 });
    await expect(remRead(qa, 1, 0, 1), 'before ibvSync').rejects.toThrow(/call ibvSync first/);
    const key = initLqueue(qb, allocMem(8));
    const synced = Promise.all([ibvSync(qa), ibvSync(qb)]);
    await net.run();
    await synced;

    await expect(remRead(qa, key, 4, 8), 'past the end').rejects.toThrow(/exceed region/);
    await expect(remRead(qa, key + 1, 0, 1), 'unknown key').rejects.toThrow(InputError);

    // A peer that shrank its region refuses what the stale sync info allowed.
    qa.peer!.regions[0]!.length = 100;
    const read = remRead(qa, key, 50, 8);
    await net.run();
    await expect(read, 'refused remotely').rejects.toBeInstanceOf(RemoteAccessError);
  });

  it('fails ibvSync with the wrong peer device', async () => {
    const net = new SimNetwork(10);
    const qa = ibvQpConn(alice, net.node('a'), { peer: 'b', session: SESSION, peerDeviceId: 7 });
    const qb = ibvQpConn(bob, net.node('b'), { peer: 'a', session: SESSION, peerDeviceId: 1 });
    const synced = ibvSync(qa);
    void ibvSync(qb);
    await net.run();
    await expect(synced, 'device 2 is not 7').rejects.toThrow(/names device 2, not the expected device 7/);
  });
});

/** Replace the attested message inside a queue pair message with `change(message)`. */
function rewriteAttested(bytes: Uint8Array, change: (wire: Uint8Array) => Uint8Array): Uint8Array {
  const verb = decodeVerb(bytes);
  if (verb.op !== 'attested') return bytes;
  return encodeVerb({ op: 'attested', bytes: change(verb.bytes) });
}

function counterOf(bytes: Uint8Array): bigint | undefined {
  const verb = decodeVerb(bytes);
  return verb.op === 'attested' ? decodeAttested(verb.bytes).counter : undefined;
}

describe.each(['model', 'rtl'] as Backend[])('TNIC over the simulated network on %s', (backend) => {
  let leader: Tnic;
  let follower: Tnic;
  let other: Tnic;

  beforeAll(async () => {
    [leader, follower, other] = await Promise.all([
      Tnic.open(backend, 1),
      Tnic.open(backend, 2),
      Tnic.open(backend, 3),
    ]);
  });

  beforeEach(async () => {
    for (const t of [leader, follower, other]) {
      await t.device.reset();
      await t.provision(SESSION, KEY);
      await t.lock();
    }
  });

  afterAll(async () => {
    await Promise.all([leader.close(), follower.close(), other.close()]);
  });

  /** Queue pairs leader <-> follower on a fresh network. */
  function pair(seed: number, faults: Partial<LinkFaults> = {}): { net: SimNetwork; a: QueuePair; b: QueuePair } {
    const net = new SimNetwork(seed, faults);
    const a = ibvQpConn(leader, net.node('a'), { peer: 'b', session: SESSION, peerDeviceId: 2 });
    const b = ibvQpConn(follower, net.node('b'), { peer: 'a', session: SESSION, peerDeviceId: 1, gapTimeoutMs: 500 });
    return { net, a, b };
  }

  it('runs the stream protocol under faults', async () => {
    const { net, a, b } = pair(testSeed(`stream over sim (${backend})`), LOSSY);
    const run = startStream(a, b, numbered(20));
    await run.sending;
    await net.run();
    await run.done;

    expect(run.delivered, 'receiver order').toEqual(numbered(20));
    expect(run.acks, 'sender got every ack').toEqual(numbered(20).map((m) => `ack ${m}`));
    expect(b.connection.rejected['bad-tag'], 'no bad tags').toBe(0);
  });

  it('rejects a forged message', async () => {
    const { net, a, b } = pair(11);
    const prng = new Prng(11);
    // The leader's host sends a forgery ahead of message 1: new text, a made-up tag.
    net.node('a').byzantine = ({ bytes }) => {
      if (counterOf(bytes) !== 1n) return [bytes];
      const forged = rewriteAttested(bytes, (wire) =>
        encodeAttested({ ...decodeAttested(wire), msg: text('pay 1000'), alpha: prng.bytes(32) }),
      );
      return [forged, bytes];
    };
    for (const m of numbered(3)) await authSend(a, text(m));
    await net.run();

    expect((await poll(b)).map((m) => decoder.decode(m.msg)), 'only genuine messages').toEqual(numbered(3));
    expect(b.connection.rejected['bad-tag'], 'forgery rejected').toBe(1);
  });

  it('rejects a replayed message', async () => {
    const { net, a, b } = pair(12);
    let first: Uint8Array | undefined;
    net.node('a').byzantine = ({ bytes }) => {
      first ??= bytes;
      return counterOf(bytes) === 2n ? [bytes, first] : [bytes];
    };
    for (const m of numbered(3)) await authSend(a, text(m));
    await net.run();

    expect((await poll(b)).map((m) => decoder.decode(m.msg)), 'each message once').toEqual(numbered(3));
    expect(b.connection.rejected.replayed, 'replay rejected').toBe(1);
    expect(b.connection.lastRejection?.counter, 'counter of the replay').toBe(0n);
  });

  it('holds a reordered message until its turn', async () => {
    const { net, a, b } = pair(13);
    // The leader's host holds message 0 back, so messages 1 and 2 arrive first.
    const hook: HostHook = ({ bytes }) => (counterOf(bytes) === 0n ? [{ bytes, delayMs: 50 }] : [bytes]);
    net.node('a').byzantine = hook;
    for (const m of numbered(3)) await authSend(a, text(m));
    await net.runFor(20);
    expect(await poll(b), 'nothing before message 0').toEqual([]);
    expect(b.connection.rejected.gap, 'messages 1 and 2 rejected as a gap').toBe(2);

    await net.run();
    expect((await poll(b)).map((m) => decoder.decode(m.msg)), 'counter order').toEqual(numbered(3));
  });

  it('rejects an equivocating leader', async () => {
    const net = new SimNetwork(14);
    const options = { session: SESSION, gapTimeoutMs: 200 };
    const toB = ibvQpConn(leader, net.node('leader'), { ...options, peer: 'b', peerDeviceId: 2 });
    const toC = ibvQpConn(leader, net.node('leader'), { ...options, peer: 'c', peerDeviceId: 3 });
    const b = ibvQpConn(follower, net.node('b'), { ...options, peer: 'leader', peerDeviceId: 1 });
    const c = ibvQpConn(other, net.node('c'), { ...options, peer: 'leader', peerDeviceId: 1 });

    // The leader's host tells b "x=1" and c "x=2". Each statement takes its
    // own counter, and a copy of "x=2" renumbered to counter 0 fails its tag.
    net.node('leader').byzantine = ({ to, bytes }) => {
      if (to !== 'c') return [bytes];
      const renumbered = rewriteAttested(bytes, (wire) => encodeAttested({ ...decodeAttested(wire), counter: 0n }));
      return [renumbered, bytes];
    };
    await authSend(toB, text('x=1'));
    await authSend(toC, text('x=2'));
    await net.runFor(50);

    expect((await poll(b)).map((m) => decoder.decode(m.msg)), 'b accepts x=1').toEqual(['x=1']);
    expect(await poll(c), 'c accepts nothing').toEqual([]);
    expect(c.connection.rejected['bad-tag'], 'renumbered copy rejected').toBe(1);
    expect(c.connection.rejected.gap, 'x=2 waits for counter 0').toBe(1);

    await net.run();
    const failure = await poll(c).catch((error: unknown) => error);
    expect(failure, 'gap never filled').toBeInstanceOf(CounterGapError);
    expect((failure as CounterGapError).counter, 'names counter 0').toBe(0n);
    expect((failure as Error).message, 'names the connection').toContain('connection c -> leader #0');
  });
});

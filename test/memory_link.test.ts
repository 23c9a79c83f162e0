import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { connectInMemory, type Connection, type ReceivedMessage } from '../api/connection.ts';
import { TnicError, UnknownSessionError } from '../api/errors.ts';
import { Tnic, decodeAttested, type Backend } from '../api/tnic_api.ts';
import { MemoryLink } from '../stack/memory_link.ts';
import { Prng } from '../sim/prng.ts';
import { testSeed } from './seed.ts';

const SESSION = 1;
/** A session whose key only the sender holds. */
const SENDER_ONLY_SESSION = 5;
const KEY = new Uint8Array(32).fill(0x42);
const OTHER_KEY = new Uint8Array(32).fill(0x43);

// Offsets in the wire bytes alpha (0..31) || header (32..47) || msg (48..).
const ALPHA_BYTE = 0;
const SESSION_BYTE = 35;
const DEVICE_BYTE = 39;
const COUNTER_BYTE = 47;
const MSG_BYTE = 48;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);
const texts = (ms: ReceivedMessage[]): string[] => ms.map((m) => decode(m.msg));
const counters = (ms: ReceivedMessage[]): bigint[] => ms.map((m) => m.counter);

/** Rejection counters with every reason at zero except those given. */
function countsWith(changes: Partial<Connection['rejected']>): Connection['rejected'] {
  return {
    'bad-tag': 0,
    replayed: 0,
    gap: 0,
    'unknown-session': 0,
    overflow: 0,
    malformed: 0,
    'wrong-peer': 0,
    'hold-full': 0,
    ...changes,
  };
}

describe.each(['model', 'rtl'] as Backend[])('connection over a memory link on the %s backend', (backend) => {
  let alice: Tnic;
  let bob: Tnic;
  let mallory: Tnic; // has another key for SESSION

  beforeAll(async () => {
    [alice, bob, mallory] = await Promise.all([
      Tnic.open(backend, 1),
      Tnic.open(backend, 2),
      Tnic.open(backend, 3),
    ]);
  });

  beforeEach(async () => {
    // Fresh keys and counters for every case.
    for (const t of [alice, bob, mallory]) await t.device.reset();
    await alice.provision(SESSION, KEY);
    await alice.provision(SENDER_ONLY_SESSION, KEY);
    await bob.provision(SESSION, KEY);
    await mallory.provision(SESSION, OTHER_KEY);
    for (const t of [alice, bob, mallory]) await t.lock();
  });

  afterAll(async () => {
    await Promise.all([alice.close(), bob.close(), mallory.close()]);
  });

  it('link endpoint queues wire bytes for the peer', async () => {
    const link = new MemoryLink(alice.device, bob.device);
    const wire = await link.a.authSend(SESSION, text('raw'));

    expect(link.b.inbox.length, 'one packet for b').toBe(1);
    expect(link.a.inbox.length, 'nothing for a').toBe(0);
    const [packet] = link.b.receive();
    expect(packet, 'the same wire bytes').toEqual(wire);
    expect(packet, 'a copy, not the sender buffer').not.toBe(wire);
    expect(decodeAttested(packet!).counter, 'first counter').toBe(0n);
    expect(link.b.inbox.length, 'receive drains the inbox').toBe(0);
  });

  it('delivers authSend messages in order', async () => {
    const { a, b } = connectInMemory(alice, bob, SESSION);
    for (const m of ['m0', 'm1', 'm2', 'm3']) await a.authSend(text(m));

    const got = await b.poll();
    expect(texts(got), 'messages in send order').toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(counters(got), 'counters 0..3').toEqual([0n, 1n, 2n, 3n]);
    expect(got.every((m) => m.device === alice.deviceId), 'sender device id in each header').toBe(true);
    expect(b.delivered, 'delivered counter').toBe(4);
    expect(b.rejected, 'no rejections').toEqual(countsWith({}));
    expect(await b.poll(), 'a second poll finds nothing new').toEqual([]);
  });

  it('serializes overlapping polls', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    await a.authSend(text('m0'));
    await a.authSend(text('m1'));
    link.b.inbox.swap(0, 1);

    const first = b.poll();
    await a.authSend(text('m2'));
    const second = b.poll();
    expect(texts(await first), 'first poll').toEqual(['m0', 'm1']);
    expect(texts(await second), 'second poll').toEqual(['m2']);
  });

  it('works in both directions on one session', async () => {
    const { a, b } = connectInMemory(alice, bob, SESSION);
    await a.authSend(text('ping'));
    await b.authSend(text('pong'));

    expect(texts(await b.poll()), 'bob receives').toEqual(['ping']);
    expect(texts(await a.poll()), 'alice receives').toEqual(['pong']);
  });

  it('counts only verified messages', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    for (const m of ['m0', 'm1', 'm2']) await a.authSend(text(m));
    link.b.inbox.tamper(2, MSG_BYTE);
    link.b.inbox.inject(new Uint8Array(10));

    const got = await b.poll();
    expect(texts(got), 'only the two intact messages').toEqual(['m0', 'm1']);
    expect(b.delivered, 'delivered counter excludes rejections').toBe(2);
    expect(b.rejected, 'one bad tag, one malformed').toEqual(countsWith({ 'bad-tag': 1, malformed: 1 }));
  });

  it.each([
    { field: 'alpha', offset: ALPHA_BYTE, reason: 'bad-tag' },
    { field: 'counter', offset: COUNTER_BYTE, reason: 'bad-tag' },
    { field: 'message', offset: MSG_BYTE, reason: 'bad-tag' },
    { field: 'session', offset: SESSION_BYTE, reason: 'unknown-session' },
    { field: 'device id', offset: DEVICE_BYTE, reason: 'wrong-peer' },
  ] as const)('rejects a tampered $field byte as $reason', async ({ offset, reason }) => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    const wire = await a.authSend(text('pay 10'));
    link.b.inbox.tamper(0, offset, 0x01);

    expect(await b.poll(), 'tampered message is not delivered').toEqual([]);
    expect(b.rejected[reason], `${reason} counter`).toBe(1);
    expect(b.lastRejection?.reason, 'last rejection reason').toBe(reason);

    // The rejection moved no counter: the genuine copy is still accepted.
    a.retransmit(wire);
    expect(texts(await b.poll()), 'retransmitted original').toEqual(['pay 10']);
  });

  it('reports the last rejection', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    await a.authSend(text('m0'));
    await a.authSend(text('m1'));
    link.b.inbox.tamper(1, ALPHA_BYTE);
    await b.poll();

    const last = b.lastRejection;
    expect(last?.reason, 'reason').toBe('bad-tag');
    expect(last?.session, 'session').toBe(SESSION);
    expect(last?.counter, 'counter of the tampered message').toBe(1n);
    expect(last?.detail, 'detail names the counter').toContain('counter 1');
  });

  it('rejects interceptor tampering as bad-tag', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    link.interceptor = ({ bytes }) => {
      const changed = bytes.slice();
      changed[MSG_BYTE]! ^= 0x20;
      return [changed];
    };
    await a.authSend(text('pay 10'));

    expect(await b.poll(), 'rewritten message is not delivered').toEqual([]);
    expect(b.rejected['bad-tag'], 'bad-tag counter').toBe(1);
  });

  it('rejects a replay as replayed', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    const wire = await a.authSend(text('once'));
    expect(texts(await b.poll()), 'first copy').toEqual(['once']);

    link.b.inbox.inject(wire);
    expect(await b.poll(), 'replayed copy is not delivered').toEqual([]);
    expect(b.rejected.replayed, 'replayed counter').toBe(1);
    expect(b.lastRejection?.counter, 'counter of the replay').toBe(0n);
    expect(b.delivered, 'delivered counter').toBe(1);
  });

  it('rejects a duplicate from the interceptor as replayed', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    link.interceptor = ({ bytes }) => [bytes, bytes];
    await a.authSend(text('m0'));
    await a.authSend(text('m1'));

    expect(texts(await b.poll()), 'each message once').toEqual(['m0', 'm1']);
    expect(b.rejected, 'two duplicates').toEqual(countsWith({ replayed: 2 }));
  });

  it('holds a reordered pair', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    await a.authSend(text('m0'));
    await a.authSend(text('m1'));
    link.b.inbox.swap(0, 1);

    const got = await b.poll();
    expect(texts(got), 'delivered in counter order').toEqual(['m0', 'm1']);
    expect(b.rejected, 'm1 was held once for the gap').toEqual(countsWith({ gap: 1 }));
    expect(b.held, 'nothing left on hold').toBe(0);
  });

  it('retransmission fills the gap', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    link.interceptor = () => []; // the network loses m0
    const m0 = await a.authSend(text('m0'));
    link.interceptor = undefined;
    await a.authSend(text('m1'));
    await a.authSend(text('m2'));

    expect(await b.poll(), 'nothing deliverable before m0').toEqual([]);
    expect(b.held, 'm1 and m2 held').toBe(2);
    expect(b.lastRejection?.reason, 'held for a gap').toBe('gap');

    a.retransmit(m0);
    const got = await b.poll();
    expect(texts(got), 'm0 then the held messages').toEqual(['m0', 'm1', 'm2']);
    expect(b.held, 'hold buffer empty').toBe(0);
    expect(b.rejected, 'two gaps, nothing discarded').toEqual(countsWith({ gap: 2 }));
  });

  it('discards arrivals when hold buffer full', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION, { maxHeld: 1 });
    const wires = [];
    for (const m of ['m0', 'm1', 'm2']) wires.push(await a.authSend(text(m)));
    link.b.inbox.drop(0);
    link.b.inbox.swap(0, 1); // m2, then m1

    expect(await b.poll(), 'nothing deliverable before m0').toEqual([]);
    expect(b.rejected['hold-full'], 'm1 found the buffer full').toBe(1);
    expect(b.held, 'm2 held').toBe(1);

    a.retransmit(wires[0]!);
    a.retransmit(wires[1]!);
    expect(texts(await b.poll()), 'all three after retransmission').toEqual(['m0', 'm1', 'm2']);
  });

  it('rejects a duplicate of a held message', async () => {
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    const m0 = await a.authSend(text('m0'));
    await a.authSend(text('m1'));
    link.b.inbox.drop(0);
    link.b.inbox.duplicate(0);

    expect(await b.poll(), 'm1 waits for m0').toEqual([]);
    expect(b.rejected.replayed, 'second copy of m1').toBe(1);
    a.retransmit(m0);
    expect(texts(await b.poll()), 'm1 delivered once').toEqual(['m0', 'm1']);
  });

  it('rejects wrong receiver key as bad-tag', async () => {
    const { a, b } = connectInMemory(alice, mallory, SESSION);
    await a.authSend(text('hello'));

    expect(await b.poll(), 'message under another key is not delivered').toEqual([]);
    expect(b.rejected, 'one bad tag').toEqual(countsWith({ 'bad-tag': 1 }));
  });

  it('rejects session without receiver key', async () => {
    const { a, b } = connectInMemory(alice, bob, SENDER_ONLY_SESSION);
    await a.authSend(text('hello'));

    expect(await b.poll(), 'message is not delivered').toEqual([]);
    expect(b.rejected['unknown-session'], 'unknown-session counter').toBe(1);
    expect(b.lastRejection?.detail, 'the device has no key').toContain('has no key on device 2');
  });

  it('rejects another session on the connection', async () => {
    const { link, b } = connectInMemory(alice, bob, SESSION);
    link.b.inbox.inject(await alice.localSend(SENDER_ONLY_SESSION, text('elsewhere')));

    expect(await b.poll(), 'message is not delivered').toEqual([]);
    expect(b.rejected['unknown-session'], 'unknown-session counter').toBe(1);
    expect(b.lastRejection?.detail, 'names both sessions').toContain(
      `session ${SENDER_ONLY_SESSION} is not this connection's session ${SESSION}`,
    );
  });

  it('rejects a message reflected back to its sender', async () => {
    const { link, a } = connectInMemory(alice, bob, SESSION);
    const wire = await a.authSend(text('to bob'));
    link.a.inbox.inject(wire);

    expect(await a.poll(), 'own message is not delivered').toEqual([]);
    expect(a.rejected['wrong-peer'], 'wrong-peer counter').toBe(1);
  });

  it('authSend without key throws UnknownSessionError', async () => {
    const { a } = connectInMemory(bob, alice, SENDER_ONLY_SESSION);
    await expect(a.authSend(text('x')), 'bob has no key for the session').rejects.toBeInstanceOf(
      UnknownSessionError,
    );
  });

  it('fails a send into a full inbox', async () => {
    const { a } = connectInMemory(alice, bob, SESSION, { inboxCapacity: 2 });
    await a.authSend(text('m0'));
    await a.authSend(text('m1'));
    await expect(a.authSend(text('m2')), 'third packet').rejects.toThrow(/full at 2 packets/);
    await expect(a.authSend(text('m3')), 'error kind').rejects.toBeInstanceOf(TnicError);
  });

  it('localVerify reports malformed bytes without throwing', async () => {
    const result = await bob.localVerify(new Uint8Array(20));
    expect(result.accepted, 'not accepted').toBe(false);
    expect(result.reason, 'reason').toBe('malformed');
    expect(result.detail, 'detail names the length').toContain('20 bytes');
  });

  it('checkForwarded leaves counters alone', async () => {
    const wire = await alice.localSend(SESSION, text('forwarded'));
    const checked = await bob.checkForwarded(wire);
    expect(checked.reason, 'tag check').toBe('ok');
    expect(checked.expected, 'no expected counter for a check').toBeUndefined();

    const verified = await bob.localVerify(wire);
    expect(verified.reason, 'counter 0 is still expected').toBe('ok');
  });

  it('orders a random shuffle with duplicates', async () => {
    const prng = new Prng(testSeed(`memory link shuffle (${backend})`));
    const { link, a, b } = connectInMemory(alice, bob, SESSION);
    const count = 24;
    for (let i = 0; i < count; i++) await a.authSend(text(`m${i}`));

    const duplicates = prng.int(0, 6);
    for (let d = 0; d < duplicates; d++) link.b.inbox.duplicate(prng.int(0, link.b.inbox.length - 1));
    for (let i = link.b.inbox.length - 1; i > 0; i--) link.b.inbox.swap(i, prng.int(0, i));

    const got = await b.poll();
    expect(counters(got), 'every counter once, in order').toEqual(
      Array.from({ length: count }, (_, i) => BigInt(i)),
    );
    expect(b.rejected.replayed, 'every duplicate rejected').toBe(duplicates);
    expect(b.rejected['bad-tag'], 'no bad tags').toBe(0);
    expect(b.held, 'nothing left on hold').toBe(0);
  });
});

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { Tnic, decodeAttested, encodeAttested, type Backend } from '../api/tnic_api.ts';
import { authSend, ibvQpConn, poll } from '../api/verbs.ts';
import { Prng } from '../sim/prng.ts';
import { decodeFrame, encodeFrame, FRAME_OVERHEAD, MAX_DATAGRAM_BYTES, type DropReason } from '../stack/frame.ts';
import { UdpTransport } from '../stack/udp_transport.ts';
import { encodeVerb } from '../stack/verbs_wire.ts';
import { testSeed } from './seed.ts';
import { startStream } from './stream_protocol.ts';

const SESSION = 4;
const KEY = new Uint8Array(32).fill(0x77);
/** Upper bound on waiting for loopback traffic; a hang guard, not a performance check. */
const WAIT_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const numbered = (count: number): string[] => Array.from({ length: count }, (_, i) => `m${i}`);

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Wait until `done()` holds, checking after each turn of the event loop (bounded). */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** One malformed datagram of a kind picked by `prng`, and the reason it must be dropped for. */
function malformed(prng: Prng): Uint8Array {
  const valid = encodeFrame({ type: 'data', connection: 0, sequence: prng.int(0, 10), payload: prng.bytes(prng.int(0, 64)) });
  switch (prng.int(0, 5)) {
    case 0:
      return prng.bytes(prng.int(0, FRAME_OVERHEAD - 1)); // too short
    case 1:
      return prng.bytes(prng.int(FRAME_OVERHEAD, 300)); // noise
    case 2:
      return valid.slice(0, prng.int(0, valid.length - 1)); // truncated
    case 3: {
      const flipped = valid.slice(); // one bit flipped: bad checksum or a bad header field
      const bit = prng.int(0, flipped.length * 8 - 1);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      return flipped;
    }
    case 4:
      // Well formed, but for a connection that is not open.
      return encodeFrame({ type: 'data', connection: prng.int(1000, 2000), sequence: 0, payload: prng.bytes(8) });
    default: {
      const padded = new Uint8Array(valid.length + prng.int(1, 16)); // trailing bytes: bad length
      padded.set(valid);
      return padded;
    }
  }
}

describe('frame decoding', () => {
  it.each([
    { name: 'empty', bytes: new Uint8Array(0), reason: 'too-short' },
    { name: 'oversized', bytes: new Uint8Array(MAX_DATAGRAM_BYTES + 1), reason: 'oversized' },
    { name: 'zero header', bytes: new Uint8Array(FRAME_OVERHEAD), reason: 'bad-magic' },
  ] as { name: string; bytes: Uint8Array; reason: DropReason }[])('rejects $name as $reason', ({ bytes, reason }) => {
    expect(decodeFrame(bytes), 'drop reason').toBe(reason);
  });

  it('rejects version, type and checksum changes', () => {
    const frame = encodeFrame({ type: 'ack', connection: 1, sequence: 2, payload: new Uint8Array(0) });
    const cases: [number, DropReason][] = [
      [2, 'bad-version'],
      [3, 'bad-type'],
      [9, 'bad-checksum'],
    ];
    for (const [offset, reason] of cases) {
      const changed = frame.slice();
      changed[offset]! ^= 0x40;
      expect(decodeFrame(changed), `byte ${offset}`).toBe(reason);
    }
  });

  it('never throws on random input', () => {
    const prng = new Prng(testSeed('frame decode fuzz'));
    for (let i = 0; i < 5000; i++) {
      const result = decodeFrame(malformed(prng));
      expect(typeof result === 'string' || result.connection >= 1000, 'dropped or for a closed connection').toBe(true);
    }
  });
});

describe('reliable channel over UDP', () => {
  let a: UdpTransport;
  let b: UdpTransport;

  beforeEach(async () => {
    [a, b] = await Promise.all([UdpTransport.open(), UdpTransport.open()]);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('delivers in order between two sockets', async () => {
    const ab = a.channel(b.local);
    const ba = b.channel(a.local);
    const got: string[] = [];
    ba.onReadable = () => {
      for (const m of ba.receive()) got.push(decoder.decode(m));
    };
    for (const m of numbered(200)) ab.send(encoder.encode(m));
    await until(() => got.length === 200, '200 deliveries');
    expect(got, 'FIFO order').toEqual(numbered(200));
    await until(() => ab.pending === 0, 'all acknowledged');
  });

  it('fails a sender whose peer is gone', async () => {
    const ab = a.channel(b.local, 0, { rtoMs: 5, maxRetries: 3 });
    await b.close();
    ab.send(encoder.encode('lost'));
    await until(() => ab.error !== undefined, 'sender failure');
    expect(ab.error?.code, 'error code').toBe('transport-retries-exhausted');
    expect(ab.error?.message, 'names connection and message').toContain(`connection ${a.local} -> ${b.local} #0: message 0`);
  });

  it('drops malformed datagrams without delivering', async () => {
    const seed = testSeed('udp malformed datagrams');
    const prng = new Prng(seed);
    const ba = b.channel(a.local);
    let delivered = 0;
    ba.onReadable = () => {
      delivered += ba.receive().length;
    };
    const count = 3000;
    const batch = 50;
    // Small batches keep the socket's receive buffer from overflowing, so none is lost.
    for (let sent = 0; sent < count; ) {
      for (let i = 0; i < batch; i++, sent++) await a.sendDatagram(b.local, malformed(prng));
      await until(() => b.stats.datagrams === sent, `arrival of ${sent} datagrams`);
    }

    const dropped = Object.values(b.stats.dropped).reduce((n, c) => n + c, 0);
    expect(delivered, 'nothing delivered').toBe(0);
    expect(ba.error, 'channel still healthy').toBeUndefined();
    expect(b.stats.datagrams, 'every datagram arrived').toBe(count);
    expect(dropped, 'every arrival dropped and counted').toBe(count);
    expect(b.stats.dropped['too-short'], 'too short counted').toBeGreaterThan(0);
    expect(b.stats.dropped['bad-checksum'], 'checksum counted').toBeGreaterThan(0);
    expect(b.stats.dropped['unknown-connection'], 'unknown connection counted').toBeGreaterThan(0);

    // The channel still works afterwards.
    a.channel(b.local).send(encoder.encode('after'));
    await until(() => delivered === 1, 'a genuine message');
  });
});

describe.each(['model', 'rtl'] as Backend[])('TNIC over UDP on %s', (backend) => {
  let alice: Tnic;
  let bob: Tnic;
  let a: UdpTransport;
  let b: UdpTransport;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([Tnic.open(backend, 1), Tnic.open(backend, 2)]);
  });

  beforeEach(async () => {
    for (const t of [alice, bob]) {
      await t.device.reset();
      await t.provision(SESSION, KEY);
      await t.lock();
    }
    [a, b] = await Promise.all([UdpTransport.open(), UdpTransport.open()]);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  afterAll(async () => {
    await Promise.all([alice.close(), bob.close()]);
  });

  it('runs the stream protocol', async () => {
    const qa = ibvQpConn(alice, a, { peer: b.local, session: SESSION, peerDeviceId: 2 });
    const qb = ibvQpConn(bob, b, { peer: a.local, session: SESSION, peerDeviceId: 1 });
    const run = startStream(qa, qb, numbered(30));
    await withTimeout(run.done, 'stream protocol');

    expect(run.delivered, 'receiver order').toEqual(numbered(30));
    expect(run.acks, 'every ack').toEqual(numbered(30).map((m) => `ack ${m}`));
  });

  it('rejects a forged and a replayed message', async () => {
    const qa = ibvQpConn(alice, a, { peer: b.local, session: SESSION, peerDeviceId: 2 });
    const qb = ibvQpConn(bob, b, { peer: a.local, session: SESSION, peerDeviceId: 1 });
    const first = await authSend(qa, encoder.encode('pay 10'));
    // Alice's host replays message 0 and sends a forgery of counter 1.
    qa.channel.send(encodeVerb({ op: 'attested', bytes: first }));
    const forged = encodeAttested({ ...decodeAttested(first), counter: 1n, msg: encoder.encode('pay 1000') });
    qa.channel.send(encodeVerb({ op: 'attested', bytes: forged }));
    await authSend(qa, encoder.encode('pay 20'));

    const got: string[] = [];
    const deadline = Date.now() + WAIT_MS;
    while (got.length < 2 || qb.connection.rejected.replayed + qb.connection.rejected['bad-tag'] < 2) {
      if (Date.now() > deadline) throw new Error(`only ${got.length} messages within ${WAIT_MS} ms`);
      for (const m of await poll(qb)) got.push(decoder.decode(m.msg));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(got, 'genuine messages').toEqual(['pay 10', 'pay 20']);
    expect(qb.connection.rejected.replayed, 'replay rejected').toBe(1);
    expect(qb.connection.rejected['bad-tag'], 'forgery rejected').toBe(1);
  });
});

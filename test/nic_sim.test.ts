import { describe, expect, it } from 'vitest';

import { macCycles } from '../sim/kernel_latency.ts';
import { TnicKernelModel } from '../sim/tnic_kernel.ts';
import { Prng } from '../sim/prng.ts';
import { compareAnchors } from '../sim/nic/anchors.ts';
import { AttestationUnit } from '../sim/nic/attestation_unit.ts';
import { EventQueue } from '../sim/nic/event_queue.ts';
import { localAttestNs, measureSize } from '../sim/nic/experiments.ts';
import { KernelTimeline, coreCycles } from '../sim/nic/kernel_timing.ts';
import type { LinkFaults } from '../sim/nic/link.ts';
import { NicNetwork, breakdown, segmentEnds, type MessageRecord } from '../sim/nic/network.ts';
import { PcapWriter } from '../sim/nic/pcap.ts';
import { getProfile, loadProfiles, parseProfiles, type HmacCoreParams, type Profile } from '../sim/nic/profiles.ts';
import { testSeed } from './seed.ts';

const PROFILES = loadProfiles();
const prototype = getProfile(PROFILES, 'tnic-prototype');
const ours = getProfile(PROFILES, 'tnic');

describe('event queue', () => {
  it('runs events by time, ties in insertion order', () => {
    const q = new EventQueue();
    const order: string[] = [];
    q.at(20, () => order.push('c'));
    q.at(10, () => order.push('a'));
    q.at(10, () => order.push('b'));
    q.at(5, () => q.after(5, () => order.push('d')));
    q.run();
    expect(order).toEqual(['a', 'b', 'd', 'c']);
    expect(q.now).toBe(20);
  });

  it('runs lane events in the order of a plain heap', () => {
    const seed = testSeed('nic event lanes');
    // The same random process on two queues: one uses lanes for fixed delays and growing times, one only the heap.
    const drive = (useLanes: boolean): number[] => {
      const q = new EventQueue();
      const posts = q.createLane();
      const prng = new Prng(seed);
      const order: number[] = [];
      let next = 0;
      let postAt = 0;
      const schedule = (depth: number): void => {
        for (let i = 0; i < 3; i++) {
          const id = next++;
          const kind = prng.int(0, 2);
          const delay = [0, 500, 2000][prng.int(0, 2)]!;
          const at = q.now + prng.int(0, 3000);
          postAt = Math.max(postAt + prng.int(0, 400), q.now);
          const run = (): void => {
            order.push(id);
            if (depth < 6) schedule(depth + 1);
          };
          if (kind === 0) q.at(at, run);
          else if (kind === 1 && useLanes) q.after(delay, run);
          else if (kind === 1) q.at(q.now + delay, run);
          else if (useLanes) posts.call(postAt, run);
          else q.at(postAt, run);
        }
      };
      schedule(0);
      q.run();
      return order;
    };
    const withLanes = drive(true);
    expect(withLanes.length).toBeGreaterThan(100);
    expect(withLanes).toEqual(drive(false));
  });

  it('rejects a lane event before the previous one', () => {
    const q = new EventQueue();
    const lane = q.createLane();
    lane.call(100, () => {});
    expect(() => lane.call(99, () => {})).toThrow(/lane event at 99 ns is before the lane's previous event at 100 ns/);
  });

  it('rejects an event in the past', () => {
    const q = new EventQueue();
    q.at(10, () => {});
    q.run();
    expect(() => q.at(5, () => {})).toThrow(/before the current time/);
  });
});

describe('kernel timing', () => {
  it('reproduces our kernel cycle formula', () => {
    const k = ours.kernel as HmacCoreParams;
    for (let len = 0; len <= 2048; len++) {
      if (coreCycles(k, len + 16) !== macCycles(len)) {
        expect.fail(`len ${len}: ${coreCycles(k, len + 16)} cycles, kernel formula ${macCycles(len)}`);
      }
    }
  });

  it('reproduces the prototype core formula', () => {
    const k = prototype.kernel as HmacCoreParams;
    for (const hashed of [0, 1, 64, 111, 112, 4096, 32704]) {
      expect(coreCycles(k, hashed)).toBe(400 * (Math.ceil((hashed + 145) / 128) + 2) + 14);
    }
  });

  it('gives the isolated latency when all bytes are present', () => {
    const k = prototype.kernel as HmacCoreParams;
    const chunks = [1000, 5000, 9000].map((hashedEnd) => ({ arrival: 0, hashedEnd }));
    const s = new KernelTimeline(k).schedule(0, 9000, chunks);
    expect(s.final).toBeCloseTo((coreCycles(k, 9000) * 1000) / 300, 6);
  });

  it('serializes messages on one engine and spreads them over twelve', () => {
    const single = new KernelTimeline(prototype.kernel);
    const a = single.schedule(0, 64, [{ arrival: 0, hashedEnd: 64 }]);
    const b = single.schedule(0, 64, [{ arrival: 0, hashedEnd: 64 }]);
    expect(b.start).toBe(a.final);

    const twelve = new KernelTimeline(ours.kernel);
    const first = twelve.schedule(0, 80, [{ arrival: 0, hashedEnd: 80 }]);
    const second = twelve.schedule(0, 80, [{ arrival: 0, hashedEnd: 80 }]);
    // The second message waits only for the input port: 1 command cycle and 20 words at 4 ns.
    expect(second.start).toBeCloseTo(84, 6);
    expect(second.final - second.start).toBeCloseTo(first.final - first.start, 6);
  });
});

describe('functional attestation', () => {
  it('matches the kernel model tags for the tnic profile', async () => {
    const key = new Prng(5).bytes(32);
    const unit = new AttestationUnit(ours.kernel, 7);
    unit.loadKey(3, key);
    const model = new TnicKernelModel();
    model.step({ op: 'load-key', session: 3, key });
    model.step({ op: 'set-id', device: 7 });
    for (const len of [0, 1, 55, 64, 1000]) {
      const msg = new Prng(len).bytes(len);
      const attested = unit.attest(3, msg);
      const expected = model.step({ op: 'attest', session: 3, msg });
      expect(attested.subarray(0, 32), `tag for ${len} bytes`).toEqual(expected.tag);
    }
  });

  it('rejects a tampered, replayed or skipped message', () => {
    const key = new Uint8Array(32).fill(1);
    const sender = new AttestationUnit(prototype.kernel, 1);
    const receiver = new AttestationUnit(prototype.kernel, 2);
    sender.loadKey(0, key);
    receiver.loadKey(0, key);
    const m0 = sender.attest(0, Uint8Array.of(1, 2, 3));
    const m1 = sender.attest(0, Uint8Array.of(4));
    const m2 = sender.attest(0, Uint8Array.of(5));
    const tampered = m0.slice();
    tampered[0]! ^= 1;
    expect(receiver.verify(0, tampered).status).toBe('bad-tag');
    expect(receiver.verify(0, m1).status).toBe('gap');
    expect(receiver.verify(0, m0).status).toBe('ok');
    expect(receiver.verify(0, m0).status).toBe('replayed');
    expect(receiver.verify(0, m1).status).toBe('ok');
    expect(receiver.verify(0, m2).msg).toEqual(Uint8Array.of(5));
  });
});

describe('segmentation', () => {
  it('splits at the path MTU', () => {
    expect(segmentEnds(0, 4096)).toEqual([0]);
    expect(segmentEnds(4096, 4096)).toEqual([4096]);
    expect(segmentEnds(4097, 4096)).toEqual([4096, 4097]);
    expect(segmentEnds(3000, 1024)).toEqual([1024, 2048, 3000]);
  });
});

interface RunResult {
  records: MessageRecord[];
  /** Records of each connection, in posting order. */
  byConnection: Map<number, MessageRecord[]>;
  sent: Uint8Array[];
  net: NicNetwork;
  pcap: PcapWriter;
}

/** Random messages between random pairs of `nodes`, posted at random times. */
function runScenario(profile: Profile, seed: number, nodes: number, messages: number, faults?: LinkFaults): RunResult {
  const pcap = new PcapWriter();
  const net = new NicNetwork({ profile, seed, nodes, path: 'attest-verify', faults, pcap, keepPayloads: true });
  const prng = new Prng(seed);
  const conns = [];
  for (let a = 0; a < nodes; a++) for (let b = 0; b < nodes; b++) if (a !== b) conns.push(net.connect(a, b));
  const records: MessageRecord[] = [];
  const byConnection = new Map<number, MessageRecord[]>();
  const sent: Uint8Array[] = [];
  for (let i = 0; i < messages; i++) {
    const conn = prng.pick(conns);
    const msg = prng.bytes(prng.int(0, 9000));
    const at = prng.int(0, 200_000);
    net.queue.at(at, () => {
      const record = net.post(conn, msg);
      records.push(record);
      sent.push(msg);
      if (!byConnection.has(conn.id)) byConnection.set(conn.id, []);
      byConnection.get(conn.id)!.push(record);
    });
  }
  net.run();
  return { records, byConnection, sent, net, pcap };
}

describe('simulator', () => {
  it('is deterministic for a seed', () => {
    const seed = testSeed('nic sim determinism');
    const a = runScenario(ours, seed, 3, 40);
    const b = runScenario(ours, seed, 3, 40);
    expect(b.records.map((r) => r.completedAt)).toEqual(a.records.map((r) => r.completedAt));
    expect(b.records.map((r) => breakdown(r))).toEqual(a.records.map((r) => breakdown(r)));
    expect(Buffer.from(b.pcap.bytes()).equals(Buffer.from(a.pcap.bytes()))).toBe(true);
    const c = runScenario(ours, seed + 1, 3, 40);
    expect(Buffer.from(c.pcap.bytes()).equals(Buffer.from(a.pcap.bytes()))).toBe(false);
  });

  it('splits latency into stages that sum to the total', () => {
    const { records } = runScenario(prototype, 3, 2, 5);
    for (const r of records) {
      const parts = Object.values(breakdown(r)).reduce((x, y) => x + y, 0);
      expect(parts).toBeCloseTo(r.completedAt! - r.postedAt, 6);
    }
  });

  it.each([
    ['loss', { loss: 0.05, duplicate: 0, reorder: 0, reorderDelayNs: 0, corrupt: 0 }],
    ['duplication', { loss: 0, duplicate: 0.1, reorder: 0, reorderDelayNs: 0, corrupt: 0 }],
    ['reordering', { loss: 0, duplicate: 0, reorder: 0.1, reorderDelayNs: 3000, corrupt: 0 }],
    ['corruption', { loss: 0, duplicate: 0, reorder: 0, reorderDelayNs: 0, corrupt: 0.05 }],
    ['all faults', { loss: 0.03, duplicate: 0.03, reorder: 0.03, reorderDelayNs: 2000, corrupt: 0.02 }],
  ] as Array<[string, LinkFaults]>)('delivers every message once and in order with %s', (name, faults) => {
    const seed = testSeed(`nic sim ${name}`);
    const { records, byConnection, sent, net } = runScenario(ours, seed, 4, 150, faults);

    expect(records.length).toBe(150);
    const incomplete = records.filter((r) => r.completedAt === undefined).length;
    expect(incomplete, 'messages never completed').toBe(0);
    expect(net.counters.verifyFailures, 'verify failures (replay, gap or bad tag)').toBe(0);
    for (let i = 0; i < records.length; i++) {
      expect(records[i]!.verify, `message ${i}`).toBe('ok');
      const same = Buffer.from(records[i]!.received!).equals(Buffer.from(sent[i]!));
      expect(same, `payload of message ${i} equals the one sent`).toBe(true);
    }
    // Delivery order: on each connection completions come in posting order.
    for (const conn of net.connections) {
      const posted = byConnection.get(conn.id) ?? [];
      const times = posted.map((r) => r.completedAt!);
      expect(times, `completion order on connection ${conn.id}`).toEqual([...times].sort((x, y) => x - y));
      expect(conn.delivered, `delivered on connection ${conn.id}`).toBe(posted.length);
      expect(conn.inFlight.length - conn.inFlightHead, `records still held on connection ${conn.id}`).toBe(0);
    }
    const faultsSeen = net.linkCounters();
    const injected = faultsSeen.lost + faultsSeen.duplicated + faultsSeen.reordered + faultsSeen.corrupted;
    expect(injected, 'faults injected').toBeGreaterThan(0);
    if (faults.corrupt > 0) expect([...net.counters.malformed.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    if (faults.loss > 0 || faults.corrupt > 0) {
      const retransmitted = net.connections.reduce((n, c) => n + c.requester.counters.retransmitted, 0);
      expect(retransmitted, 'retransmitted packets').toBeGreaterThan(0);
    }
  });
});

describe('tnic-prototype anchors', () => {
  const results = [128, 32768].map((size) => measureSize(prototype, size, 1));
  const anchors = compareAnchors(results);

  it('covers all six published anchors', () => {
    expect(anchors.length).toBe(6);
  });

  it.each(anchors.map((a) => [`${a.path} ${a.metric} at ${a.size} B`, a] as const))('%s', (_name, a) => {
    expect(
      Math.abs(a.ratio - 1),
      `ours ${a.ours.toFixed(2)} vs published ${a.published} (ratio ${a.ratio.toFixed(3)})`,
    ).toBeLessThanOrEqual(a.tolerance);
  });
});

describe('Attest latency of 64 bytes', () => {
  // Published: native Intel server 10.7 us, SGX 45-46 us, AMD-SEV 90 us, TNIC 23 us.
  it.each([
    ['ssl-server', 10.7],
    ['sgx', 45.5],
    ['amd-sev', 90],
    ['tnic-prototype', 23],
  ] as const)('%s is within 10%% of %s us', (name, published) => {
    const ns = localAttestNs(getProfile(PROFILES, name), 64);
    expect(Math.abs(ns / 1000 / published - 1), `${(ns / 1000).toFixed(2)} us`).toBeLessThanOrEqual(0.1);
  });
});

describe('profile file', () => {
  const raw = (): { profiles: Record<string, any> } => JSON.parse(JSON.stringify({ profiles: { p: structuredClone(rawPrototype) } }));
  const rawPrototype = { description: 'x', kernel: { ...prototype.kernel }, stack: { ...prototype.stack } };

  it('accepts a valid profile', () => {
    expect(parseProfiles(raw(), 'f.json').get('p')?.kernel.model).toBe('hmac-core');
  });

  it('names a missing, mistyped or unknown field', () => {
    const missing = raw();
    delete missing.profiles.p.kernel.clockMHz;
    expect(() => parseProfiles(missing, 'f.json')).toThrow(/f.json: profile "p" field kernel.clockMHz is missing/);
    const wrong = raw();
    wrong.profiles.p.kernel.clockMHz = '300';
    expect(() => parseProfiles(wrong, 'f.json')).toThrow(/kernel.clockMHz is "300"; expected a number in 1..10000/);
    const unknown = raw();
    unknown.profiles.p.stack.mtuBytes = 1;
    expect(() => parseProfiles(unknown, 'f.json')).toThrow(/stack.mtuBytes is not a known field; remove it/);
  });

  it('rejects an MTU RoCE does not define and a short tag field', () => {
    const mtu = raw();
    mtu.profiles.p.stack.mtu = 1500;
    expect(() => parseProfiles(mtu, 'f.json')).toThrow(/stack.mtu 1500 is not a RoCE path MTU; use one of 256, 512/);
    const tag = raw();
    tag.profiles.p.kernel.tagFieldBytes = 32;
    expect(() => parseProfiles(tag, 'f.json')).toThrow(/smaller than the 48-byte sha384 tag/);
  });

  it('lists the known profiles for an unknown name', () => {
    expect(() => getProfile(PROFILES, 'nope')).toThrow(/profile 'nope' not found; known profiles: tnic-prototype, tnic/);
  });
});

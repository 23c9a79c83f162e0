// Pinned summaries of small simulator runs. They were recorded before the
// simulator was optimized for scale, so a change that moves any latency, any
// event time, any frame byte or any counter by one bit fails here. Change a
// pinned hash only for a deliberate change of the model, and explain it in the commit message.

import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { measureSize } from '../sim/nic/experiments.ts';
import type { LinkFaults } from '../sim/nic/link.ts';
import { NicNetwork, STAGES, breakdown, type MessageRecord, type PathKind } from '../sim/nic/network.ts';
import { PcapWriter } from '../sim/nic/pcap.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';
import { Prng } from '../sim/prng.ts';

const PROFILES = loadProfiles();

interface Scenario {
  profile: string;
  path: PathKind;
  nodes: number;
  messages: number;
  maxBytes: number;
  seed: number;
  faults?: LinkFaults;
}

interface Summary {
  /** Events run, from the event queue's own count. */
  events: number;
  /** SHA-256 of the virtual time after each event, in the order the events ran. */
  eventTimes: string;
  /** SHA-256 of every record: addressing, sizes, post and completion time, stage split, verdict, payload. */
  records: string;
  /** SHA-256 of the pcap file. */
  pcap: string;
  /** Link, transport and receive counters. */
  counters: string;
}

const sha = (text: string | Uint8Array): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Random messages between random pairs, posted at random times, run one event at a time. */
function summarize(s: Scenario): Summary {
  const pcap = new PcapWriter();
  const profile = getProfile(PROFILES, s.profile);
  const net = new NicNetwork({ profile, seed: s.seed, nodes: s.nodes, path: s.path, faults: s.faults, pcap, keepPayloads: true });
  const prng = new Prng(s.seed ^ 0x5a5a5a5a);
  const conns = [];
  for (let a = 0; a < s.nodes; a++) for (let b = 0; b < s.nodes; b++) if (a !== b) conns.push(net.connect(a, b));
  const records: MessageRecord[] = [];
  for (let i = 0; i < s.messages; i++) {
    const conn = prng.pick(conns);
    const msg = prng.bytes(prng.int(0, s.maxBytes));
    net.queue.at(prng.int(0, 100_000), () => records.push(net.post(conn, msg)));
  }

  const times = createHash('sha256');
  while (net.queue.pending > 0) {
    net.queue.run(Infinity, 1);
    times.update(`${net.queue.now};`);
  }

  const lines = records.map((r) => {
    const split = breakdown(r);
    const payload = r.received === undefined ? '-' : sha(r.received);
    const stages = STAGES.map((stage) => `${stage}=${split[stage]}`).join(',');
    return `${r.connection}/${r.index} ${r.msgBytes} ${r.wireBytes} ${r.postedAt} ${r.completedAt} ${stages} ${r.verify} ${payload}`;
  });
  const transport = net.connections.map((c) => JSON.stringify([c.requester.counters, c.responder.counters]));
  const malformed = [...net.counters.malformed.entries()].sort();
  const counters = JSON.stringify([net.linkCounters(), malformed, net.counters.verifyFailures, transport]);
  return {
    events: net.queue.executed,
    eventTimes: times.digest('hex').slice(0, 16),
    records: sha(lines.join('\n')),
    pcap: sha(pcap.bytes()),
    counters: sha(counters),
  };
}

const NONE: LinkFaults = { loss: 0, duplicate: 0, reorder: 0, reorderDelayNs: 0, corrupt: 0 };
const ALL_FAULTS: LinkFaults = { loss: 0.03, duplicate: 0.03, reorder: 0.03, reorderDelayNs: 2000, corrupt: 0.02 };

const SCENARIOS: Array<[string, Scenario]> = [
  ['tnic attest-verify, 4 nodes, all faults', { profile: 'tnic', path: 'attest-verify', nodes: 4, messages: 120, maxBytes: 9000, seed: 101, faults: ALL_FAULTS }],
  ['tnic-prototype send-only, 3 nodes', { profile: 'tnic-prototype', path: 'send-only', nodes: 3, messages: 80, maxBytes: 20000, seed: 202 }],
  ['tnic-prototype attest-verify, 5 nodes, all faults', { profile: 'tnic-prototype', path: 'attest-verify', nodes: 5, messages: 100, maxBytes: 12000, seed: 505, faults: ALL_FAULTS }],
  ['ssl-lib rdma with loss', { profile: 'ssl-lib', path: 'rdma', nodes: 3, messages: 80, maxBytes: 5000, seed: 303, faults: { ...NONE, loss: 0.05 } }],
  ['tnic attest-verify, 64 nodes, small messages', { profile: 'tnic', path: 'attest-verify', nodes: 64, messages: 3000, maxBytes: 64, seed: 606 }],
  ['ssl-server attest-verify with reordering', { profile: 'ssl-server', path: 'attest-verify', nodes: 3, messages: 60, maxBytes: 6000, seed: 404, faults: { ...NONE, reorder: 0.1, reorderDelayNs: 3000 } }],
];

/** Recorded with the simulator before the scale optimizations. */
const PINNED: Record<string, Summary> = {
  'tnic attest-verify, 4 nodes, all faults': { events: 1496, eventTimes: 'd35742066b04ddbe', records: 'bf8da709a12a93ed', pcap: '665a6ad9b434813f', counters: '161308505873170b' },
  'tnic-prototype send-only, 3 nodes': { events: 1392, eventTimes: '2f0baf9c6f7177f1', records: '88ee39a1b0f030a6', pcap: '32efa13a1c0896d0', counters: '2feda839cf12e98e' },
  'tnic-prototype attest-verify, 5 nodes, all faults': { events: 1436, eventTimes: 'd7c90023888ee081', records: 'adc1da24fdd6ec9e', pcap: '298990c6f599de09', counters: 'fc4786695ecd1c9a' },
  'ssl-lib rdma with loss': { events: 817, eventTimes: '611b46eb72c39de2', records: 'd245d81eae21d9cc', pcap: 'c2400d5468d375dc', counters: 'fabb22c6d00f4f95' },
  'tnic attest-verify, 64 nodes, small messages': { events: 27000, eventTimes: '4c01d351901eb0ba', records: '920f6c9904fb3ee3', pcap: 'dba0475ba03a6190', counters: '5eeda2e94f0f74cd' },
  'ssl-server attest-verify with reordering': { events: 660, eventTimes: '3d613a9120935e1d', records: '08ae46e45688c2bb', pcap: '2e17e3ec7ec56fc1', counters: 'fa4d419a4c606c8e' },
};

/** measureSize results (latency split and throughput of all three paths), hashed as JSON. */
const PINNED_SIZES: Record<string, string> = {
  'tnic-prototype 128': 'aaea78af836fc3f1',
  'tnic-prototype 32768': 'fdbbafe042f3e57a',
  'tnic 1024': 'd5f20a0385f27130',
  'ssl-server 4096': '8ff6929735e05a0f',
};

describe('pinned simulator summaries', () => {
  it.each(SCENARIOS)('%s', (name, scenario) => {
    const got = summarize(scenario);
    const expected = PINNED[name];
    const all = `got ${JSON.stringify(got)}`;
    expect(expected, `no pinned summary for "${name}"; ${all}`).toBeDefined();
    expect(got.events, `events run; ${all}`).toBe(expected!.events);
    expect(got.eventTimes, `event times in order; ${all}`).toBe(expected!.eventTimes);
    expect(got.records, `message records; ${all}`).toBe(expected!.records);
    expect(got.pcap, `pcap bytes; ${all}`).toBe(expected!.pcap);
    expect(got.counters, `counters; ${all}`).toBe(expected!.counters);
  });

  it.each([
    ['tnic-prototype', 128, 1],
    ['tnic-prototype', 32768, 1],
    ['tnic', 1024, 9],
    ['ssl-server', 4096, 3],
  ] as const)('measureSize %s %i B', (name, size, seed) => {
    const got = sha(JSON.stringify(measureSize(getProfile(PROFILES, name), size, seed)));
    expect(got, `measureSize ${name} ${size} seed ${seed}`).toBe(PINNED_SIZES[`${name} ${size}`]);
  });
});

import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { Tnic, encodeAttested, type Backend } from '../api/tnic_api.ts';
import { SimNetwork } from '../stack/sim_network.ts';
import { LogAuditor } from '../systems/peerreview/auditor.ts';
import type { ChildBehavior } from '../systems/peerreview/child.ts';
import { EVIDENCE_FORMAT, checkEvidence, type Evidence } from '../systems/peerreview/evidence.ts';
import { GENESIS_HASH, TamperEvidentLog, entryHash } from '../systems/peerreview/log.ts';
import { toBase64 } from '../systems/peerreview/messages.ts';
import { PeerReviewCluster } from '../systems/peerreview/peerreview_cluster.ts';
import { createReference } from '../systems/peerreview/reference.ts';
import { deviceTagChecker, keyTagChecker, type TagChecker } from '../systems/peerreview/tag_checker.ts';
import { PEERREVIEW_TOPOLOGY, sessionsOf } from '../systems/peerreview/topology.ts';
import { encodeJson } from '../systems/replication/wire.ts';
import {
  findPeerReviewScenario,
  peerReviewScenarios,
  runPeerReviewStream,
  type PeerReviewScenarioContext,
} from '../systems/scenarios/peerreview_scenarios.ts';
import { UnknownScenarioError } from '../systems/scenarios/scenario.ts';
import { testSeed } from './seed.ts';

const SEED = testSeed('peerreview scenarios');
/** Further seeds per scenario, derived from SEED so a replay repeats all of them. */
const EXTRA_SEEDS = [1, 2].map((i) => (SEED + i * 0x9e37) >>> 0);
const TOPOLOGY = PEERREVIEW_TOPOLOGY;

function context(seed: number, backend: Backend = 'model'): PeerReviewScenarioContext {
  return { network: new SimNetwork(seed), backend, seed, log: () => {} };
}

interface Run {
  cluster: PeerReviewCluster;
  evidence: Evidence[];
}

/** Run a stream with audits every 10 ms and hand the open cluster to `body`. */
async function withRun(behaviors: Record<string, ChildBehavior>, body: (run: Run) => Promise<void>): Promise<void> {
  const network = new SimNetwork(SEED);
  const cluster = await PeerReviewCluster.open({ network, backend: 'model', seed: SEED, behaviors });
  try {
    await runPeerReviewStream(cluster, network, { chunks: 24, seed: SEED, auditIntervalMs: 10 });
    await body({ cluster, evidence: cluster.witness.evidence });
  } finally {
    await cluster.close();
  }
}

/** Copy `evidence` through JSON, as a third party receives it. */
function reparse(evidence: Evidence): Evidence {
  return JSON.parse(JSON.stringify(evidence)) as Evidence;
}

describe('peerreview scenarios', () => {
  const names = peerReviewScenarios().map((s) => s.name);

  it.each(names)('%s meets its expected outcome', async (name) => {
    for (const seed of [SEED, ...EXTRA_SEEDS]) {
      const result = await findPeerReviewScenario(peerReviewScenarios(), name).run(context(seed));
      for (const c of result.checks) expect(c.passed, `${name} seed ${seed}: ${c.name} (${c.observed})`).toBe(true);
      expect(result.met, `${name} seed ${seed}: met`).toBe(true);
    }
  });

  it('audit changes no output', async () => {
    const withAudit = await findPeerReviewScenario(peerReviewScenarios(), 'baseline').run(context(SEED));
    const without = await findPeerReviewScenario(peerReviewScenarios(), 'no-audit').run(context(SEED));
    expect(withAudit.audit.requests, 'audit requests with audit').toBeGreaterThan(0);
    expect(withAudit.audit.entriesAudited, 'entries audited: 24 + 36 + 36').toBe(96);
    expect(without.audit.requests, 'audit requests without audit').toBe(0);
    expect(withAudit.evidence, 'evidence with audit').toEqual([]);
    expect(without.evidence, 'evidence without audit').toEqual([]);
  });

  it('pages a log over small responses', async () => {
    const scenarios = peerReviewScenarios({ maxPageBytes: 256, auditIntervalMs: 40 });
    const result = await findPeerReviewScenario(scenarios, 'baseline').run(context(SEED));
    for (const c of result.checks) expect(c.passed, `${c.name} (${c.observed})`).toBe(true);
    // Every entry is over 128 bytes, so a 256-byte page contains one entry.
    expect(result.audit.responses, 'responses').toBeGreaterThanOrEqual(96);
  });

  it('detects corrupt forward on rtl', async () => {
    const scenario = findPeerReviewScenario(peerReviewScenarios({ chunks: 8 }), 'corrupt-forward');
    const result = await scenario.run(context(SEED, 'rtl'));
    for (const c of result.checks) expect(c.passed, `${c.name} (${c.observed})`).toBe(true);
  });

  it('repeats a run from its seed', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) runs.push(await findPeerReviewScenario(peerReviewScenarios(), 'omitted-entries').run(context(SEED)));
    const [a, b] = [runs[0]!, runs[1]!];
    expect(b.audit, 'same audit traffic').toEqual(a.audit);
    expect(b.virtualMs, 'same virtual time').toBe(a.virtualMs);
    expect(b.evidence[0]?.finding.index, 'same finding index').toBe(a.evidence[0]?.finding.index);
  });

  it('rejects too few chunks for a fault', async () => {
    const scenario = findPeerReviewScenario(peerReviewScenarios({ chunks: 4 }), 'omitted-entries');
    await expect(scenario.run(context(SEED)), 'chunks').rejects.toThrow(/needs at least 5 chunks/);
  });

  it('lists valid names for an unknown scenario', () => {
    expect(() => findPeerReviewScenario(peerReviewScenarios(), 'nope'), 'error type').toThrow(UnknownScenarioError);
    expect(() => findPeerReviewScenario(peerReviewScenarios(), 'nope'), 'names').toThrow(/use one of: baseline, no-audit/);
  });
});

describe('peerreview evidence', () => {
  it('checks on a provisioned device', async () => {
    await withRun({ c1: { kind: 'corrupt-forward' } }, async ({ cluster, evidence }) => {
      expect(evidence.length, 'one piece of evidence').toBe(1);
      // A third party's own device, provisioned with the session keys by the vendor.
      const tnic = await Tnic.open('model', 50);
      try {
        for (const session of sessionsOf(TOPOLOGY, TOPOLOGY.witness)) await tnic.provision(session, cluster.keys.get(session)!);
        await tnic.lock();
        const verdict = await checkEvidence(reparse(evidence[0]!), deviceTagChecker(tnic));
        expect(verdict.confirmed, verdict.detail).toBe(true);
      } finally {
        await tnic.close();
      }
    });
  });

  it('rejects altered or unfounded evidence', async () => {
    await withRun({ c1: { kind: 'omit-entries' } }, async ({ cluster, evidence }) => {
      const genuine = evidence[0]!;
      const checker = keyTagChecker(cluster.keys);
      expect((await checkEvidence(reparse(genuine), checker)).confirmed, 'genuine').toBe(true);

      const flipped = reparse(genuine);
      const bytes = Buffer.from(flipped.responses.at(-1)!, 'base64');
      bytes[bytes.length - 3]! ^= 1;
      flipped.responses[flipped.responses.length - 1] = bytes.toString('base64');
      const flippedVerdict = await checkEvidence(flipped, checker);
      expect(flippedVerdict.confirmed, 'flipped response byte').toBe(false);
      expect(flippedVerdict.detail, 'names the tag').toMatch(/fails the tag check/);

      const otherKind = reparse(genuine);
      otherKind.finding.kind = 'output';
      expect((await checkEvidence(otherKind, checker)).confirmed, 'stated finding changed').toBe(false);

      const shortened = reparse(genuine);
      shortened.requests.pop();
      shortened.responses.pop();
      const shortVerdict = await checkEvidence(shortened, checker);
      expect(shortVerdict.confirmed, 'last exchange removed').toBe(false);

      const otherAccused = { ...reparse(genuine), accused: 'c2' };
      expect((await checkEvidence(otherAccused, checker)).confirmed, 'other node accused').toBe(false);

      const otherTopology = reparse(genuine);
      otherTopology.topology = { ...otherTopology.topology, witness: 'x' };
      expect((await checkEvidence(otherTopology, checker)).confirmed, 'other topology').toBe(false);

      const wrongKeys = keyTagChecker(new Map([...cluster.keys.keys()].map((s) => [s, new Uint8Array(randomBytes(32))])));
      expect((await checkEvidence(reparse(genuine), wrongKeys)).confirmed, 'wrong keys').toBe(false);

      expect((await checkEvidence({ format: 'x' }, checker)).confirmed, 'not evidence').toBe(false);
    });
  });

  it('rejects a false accusation', async () => {
    await withRun({}, async ({ cluster }) => {
      const auditor = cluster.witness.auditor('c2');
      const accusation: Evidence = {
        format: EVIDENCE_FORMAT,
        accused: 'c2',
        witness: 'w',
        finding: { kind: 'output', index: 3, detail: 'c2: made up', entries: [] },
        topology: TOPOLOGY,
        requests: auditor.requests.map(toBase64),
        responses: auditor.responses.map(toBase64),
      };
      const verdict = await checkEvidence(reparse(accusation), keyTagChecker(cluster.keys));
      expect(verdict.confirmed, 'confirmed').toBe(false);
      expect(verdict.detail, 'detail').toMatch(/every exchange passes the audit/);
    });
  });

  it('key checker agrees with the device', async () => {
    await withRun({}, async ({ cluster }) => {
      const keyChecker = keyTagChecker(cluster.keys);
      const tnic = await Tnic.open('model', 51);
      try {
        for (const session of sessionsOf(TOPOLOGY, TOPOLOGY.witness)) await tnic.provision(session, cluster.keys.get(session)!);
        await tnic.lock();
        const deviceChecker = deviceTagChecker(tnic);
        const wire = cluster.source.log.entry(0).wire;
        const tampered = wire.slice();
        tampered[tampered.length - 1]! ^= 1;
        for (const [label, bytes] of [['genuine', wire], ['tampered', tampered], ['short', wire.slice(0, 10)]] as const) {
          expect(await keyChecker.check(bytes), label).toBe(await deviceChecker.check(bytes));
        }
        expect(await keyChecker.check(wire), 'genuine is ok').toBe('ok');
        expect(await keyChecker.check(tampered), 'tampered is bad-tag').toBe('bad-tag');
      } finally {
        await tnic.close();
      }
    });
  });
});

describe('peerreview log', () => {
  const wire = (n: number): Uint8Array => new Uint8Array(100).fill(n);

  it('chains entry hashes', () => {
    const log = new TamperEvidentLog();
    log.append('recv', 's', wire(1));
    log.append('send', 'c2', wire(2));
    const first = entryHash(GENESIS_HASH, 0, 'recv', 's', wire(1));
    expect(log.hashBefore(1), 'entry 0').toEqual(first);
    expect(log.hashBefore(2), 'entry 1').toEqual(entryHash(first, 1, 'send', 'c2', wire(2)));
    expect(entryHash(GENESIS_HASH, 0, 'send', 's', wire(1)), 'kind is hashed').not.toEqual(first);
    expect(entryHash(GENESIS_HASH, 1, 'recv', 's', wire(1)), 'index is hashed').not.toEqual(first);
  });

  it('rehashes after a replaced entry', () => {
    const log = new TamperEvidentLog();
    for (let i = 0; i < 3; i++) log.append('recv', 's', wire(i));
    const head = log.hashBefore(3);
    log.replace(1, 'recv', 's', wire(9));
    expect(log.hashBefore(1), 'entry 0 unchanged').toEqual(entryHash(GENESIS_HASH, 0, 'recv', 's', wire(0)));
    expect(log.hashBefore(3), 'head changed').not.toEqual(head);
  });

  it('pages within a byte budget', () => {
    const log = new TamperEvidentLog();
    for (let i = 0; i < 5; i++) log.append('recv', 's', wire(i));
    expect(log.page(0, 250).length, 'two of 100 bytes').toBe(2);
    expect(log.page(0, 10).length, 'at least one').toBe(1);
    expect(log.page(5, 250).length, 'none past the end').toBe(0);
    expect(() => log.hashBefore(6), 'past the end').toThrow(/outside 0..5/);
  });
});

describe('peerreview reference', () => {
  const chunk = (seq: number, data = 'AAAA') => ({ t: 'chunk' as const, seq, data });
  const forward = (seq: number, data = 'AAAA') => ({ t: 'forward' as const, seq, data });

  it('accepts a correct child', () => {
    const c1 = createReference(TOPOLOGY, 'c1');
    expect(c1.receive('s', chunk(1)), 'receive').toBeUndefined();
    expect(c1.owed(), 'owes the forward').toEqual(['forward seq 1 to c2']);
    expect(c1.send('c2', forward(1)), 'forward').toBeUndefined();
    expect(c1.receive('c2', forward(2)), 'sibling forward').toBeUndefined();
    expect(c1.owed(), 'owes nothing').toEqual([]);
  });

  it('rejects a wrong child', () => {
    const altered = createReference(TOPOLOGY, 'c1');
    altered.receive('s', chunk(1));
    expect(altered.send('c2', forward(1, 'BBBB')), 'altered data').toMatch(/differs from the chunk/);

    const unsolicited = createReference(TOPOLOGY, 'c1');
    expect(unsolicited.send('c2', forward(1)), 'forward of nothing').toMatch(/never sends/);

    const late = createReference(TOPOLOGY, 'c1');
    late.receive('s', chunk(1));
    expect(late.receive('s', chunk(3)), 'received before forwarding').toMatch(/before sending forward seq 1/);
  });

  it('rejects an out-of-order source', () => {
    const source = createReference(TOPOLOGY, 's');
    expect(source.send('c1', chunk(1)), 'chunk 1 to c1').toBeUndefined();
    expect(source.send('c1', chunk(2)), 'chunk 2 to c1').toMatch(/chunk seq 2 to c2/);
    expect(source.send('c2', chunk(3)), 'chunk 3 skips 2').toMatch(/chunk seq 2 to c2/);
  });
});

describe('peerreview auditor', () => {
  const anyTag: TagChecker = { check: async () => 'ok' };
  const attested = (session: number, device: number, counter: number, value: unknown): Uint8Array =>
    encodeAttested({ alpha: new Uint8Array(32), session, device, counter: BigInt(counter), msg: encodeJson(value) });
  const request = attested(4, 10, 0, { t: 'audit', from: 0, nonce: 'n0' });
  const response = (value: Record<string, unknown>): Uint8Array =>
    attested(4, 2, 0, { t: 'audit-response', nonce: 'n0', from: 0, prevHash: toBase64(GENESIS_HASH), entries: [], more: false, ...value });

  it('accepts an empty log', async () => {
    const result = await new LogAuditor(TOPOLOGY, 'c1', anyTag).apply(request, response({}));
    expect(result.finding, 'finding').toBeUndefined();
  });

  it.each([
    ['wrong nonce', { nonce: 'other' }, 'malformed'],
    ['more without entries', { more: true }, 'malformed'],
    ['other start hash', { prevHash: toBase64(new Uint8Array(32).fill(1)) }, 'hash-chain'],
    ['not a response', { t: 'nope' }, 'malformed'],
    ['later start', { from: 2 }, 'malformed'],
  ])('flags %s', async (_label, fields, kind) => {
    const result = await new LogAuditor(TOPOLOGY, 'c1', anyTag).apply(request, response(fields));
    expect(result.finding?.kind, 'kind').toBe(kind);
  });

  it('rejects a request from the wrong index', async () => {
    const late = attested(4, 10, 0, { t: 'audit', from: 3, nonce: 'n0' });
    await expect(new LogAuditor(TOPOLOGY, 'c1', anyTag).apply(late, response({})), 'from').rejects.toThrow(/not the next unaudited 0/);
  });

});

describe('peerreview cluster', () => {
  it('rejects invalid cluster options', async () => {
    const base = { network: new SimNetwork(1), backend: 'model' as const, seed: 1 };
    await expect(PeerReviewCluster.open({ ...base, behaviors: { s: { kind: 'corrupt-forward' } } }), 'source').rejects.toThrow(/not a child/);
    await expect(PeerReviewCluster.open({ ...base, maxPageBytes: 10 }), 'page').rejects.toThrow(/maxPageBytes 10/);
  });
});

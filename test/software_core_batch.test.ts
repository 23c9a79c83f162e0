import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { InputError } from '../sim/errors.ts';
import { COUNTER_MAX, type KernelRequest, type KernelResult } from '../sim/kernel_port.ts';
import { Prng } from '../sim/prng.ts';
import { TnicKernelModel, encodeHeader } from '../sim/tnic_kernel.ts';
import { openBaselineKernel } from '../stack/baselines/baseline_kernel.ts';
import { SoftwareAttestationCore } from '../stack/baselines/software_core.ts';
import { loadVectors, runVectors } from '../verify/vectors.ts';
import { testSeed } from './seed.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const DEVICE = 3;

function describeResult(r: KernelResult): string {
  return `${r.status} counter ${r.counter} tag ${hex(r.tag)} cycles ${r.cycles}`;
}

/** Describe the result without its cycles, which only the reference model counts. */
function describeOutcome(r: KernelResult): string {
  return `${r.status} counter ${r.counter} tag ${hex(r.tag)}`;
}

/**
 * Build a seeded command stream over 18 sessions (two beyond the keystore): key loads, the device
 * id, attests, and verifies and checks whose tags are right or flipped and whose counters
 * are expected, replayed or ahead.
 */
function commandStream(rng: Prng, count: number): KernelRequest[] {
  const keys = Array.from({ length: 18 }, () => rng.bytes(rng.int(0, 100)));
  const expected = new Array<bigint>(18).fill(0n);
  const requests: KernelRequest[] = [{ op: 'set-id', device: DEVICE }];
  for (let s = 0; s < 12; s++) requests.push({ op: 'load-key', session: s, key: keys[s]! });

  while (requests.length < count) {
    const session = rng.int(0, 17);
    const msg = rng.bytes(rng.pick([0, 16, 64, 200, 1500]));
    const kind = rng.int(0, 99);
    if (kind < 40) {
      requests.push({ op: 'attest', session, msg });
    } else if (kind < 95) {
      const shift = rng.pick([0n, 0n, 0n, -1n, 1n, 5n]);
      const counter = expected[session]! + shift < 0n ? 0n : expected[session]! + shift;
      const tag = createHmac('sha256', keys[session]!)
        .update(encodeHeader(session, DEVICE, counter))
        .update(msg)
        .digest();
      const flip = rng.int(0, 9) === 0;
      if (flip) tag[rng.int(0, 31)]! ^= 1 << rng.int(0, 7);
      const op = rng.int(0, 4) === 0 ? 'check' : 'verify';
      requests.push({ op, session, device: DEVICE, counter, tag: new Uint8Array(tag), msg });
      if (op === 'verify' && !flip && shift === 0n) expected[session]! += 1n;
    } else if (kind < 98) {
      requests.push({ op: 'load-key', session: rng.int(0, 17), key: keys[rng.int(0, 17)]! });
    } else {
      requests.push({ op: 'verify', session, device: DEVICE, counter: COUNTER_MAX, tag: new Uint8Array(32), msg });
    }
  }
  return requests;
}

describe('SoftwareAttestationCore.stepAll', () => {
  it('matches step() and the model on a random stream', async () => {
    const seed = testSeed('software core batch');
    const rng = new Prng(seed);
    const requests = commandStream(rng, 3000);
    const single = new SoftwareAttestationCore();
    const batched = new SoftwareAttestationCore();
    const model = new TnicKernelModel();

    const statuses = new Set<string>();
    let at = 0;
    while (at < requests.length) {
      // Chunks of 1 to 300 commands, so runs are cut by the chunk ends and by the 256-command batch.
      const chunk = requests.slice(at, at + rng.int(1, 300));
      const reported: [KernelRequest, KernelResult][] = [];
      const got = batched.stepAll(chunk, (req, res) => reported.push([req, res]));
      const want = chunk.map((req) => single.step(req));
      const reference = await model.run(chunk);

      expect(got.length).toBe(chunk.length);
      for (let i = 0; i < chunk.length; i++) {
        const label = `command ${at + i} (${chunk[i]!.op})`;
        expect(describeResult(got[i]!), label).toBe(describeResult(want[i]!));
        expect(describeOutcome(got[i]!), `${label} against the model`).toBe(describeOutcome(reference[i]!));
        statuses.add(`${chunk[i]!.op} ${want[i]!.status}`);
      }
      expect(reported.map(([req]) => req), 'onResult once per command, in order').toEqual(chunk);
      expect(reported.map(([, res]) => res)).toEqual(got);
      at += chunk.length;
    }

    // The stream reaches every outcome that it can reach.
    for (const outcome of [
      'attest ok',
      'attest unknown-session',
      'verify ok',
      'verify bad-tag',
      'verify replayed',
      'verify gap',
      'verify unknown-session',
      'check ok',
      'check bad-tag',
      'load-key rejected',
    ]) {
      expect(statuses.has(outcome), `stream has ${outcome}`).toBe(true);
    }
  });

  it('stops at an invalid command', () => {
    const core = new SoftwareAttestationCore();
    const reference = new SoftwareAttestationCore();
    const msg = new Uint8Array(10);
    const setup: KernelRequest = { op: 'load-key', session: 1, key: new Uint8Array(32) };
    const attest: KernelRequest = { op: 'attest', session: 1, msg };
    const tooLong: KernelRequest = { op: 'attest', session: 1, msg: new Uint8Array(65536) };
    const reported: KernelRequest[] = [];

    expect(() => core.stepAll([setup, attest, attest, attest, tooLong, attest], (req) => reported.push(req))).toThrow(
      InputError,
    );
    expect(reported, 'the four commands before the invalid one ran').toEqual([setup, attest, attest, attest]);
    for (const req of [setup, attest, attest, attest]) reference.step(req);

    const next = core.stepAll([attest, attest]);
    const expected = [reference.step(attest), reference.step(attest)];
    expect(next.map((r) => r.counter), 'counters continue after the three attests').toEqual([3n, 4n]);
    expect(next.map(describeResult)).toEqual(expected.map(describeResult));
  });

  it('forgets keys on reset', () => {
    const core = new SoftwareAttestationCore();
    const msg = new Uint8Array(8);
    core.stepAll([{ op: 'load-key', session: 0, key: new Uint8Array(16) }]);
    core.reset();
    const results = core.stepAll([
      { op: 'attest', session: 0, msg },
      { op: 'attest', session: 0, msg },
    ]);
    expect(results.map((r) => r.status)).toEqual(['unknown-session', 'unknown-session']);
  });
});

describe('ssl-lib device on the HMAC vectors', () => {
  it('accepts valid and rejects invalid tags', async () => {
    const kernel = await openBaselineKernel('ssl-lib');
    try {
      const report = await runVectors(kernel);
      expect(report.failures, report.failures.join('\n')).toEqual([]);
      expect(report.cases).toBe(loadVectors().length);
      expect(report.invalid).toBe(108);
    } finally {
      await kernel.close();
    }
  });
});

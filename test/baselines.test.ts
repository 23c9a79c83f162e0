import { inspect } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InputError } from '../sim/errors.ts';
import type { KernelRequest, KernelResult } from '../sim/kernel_port.ts';
import { TnicKernelModel } from '../sim/tnic_kernel.ts';
import {
  BASELINE_BACKENDS,
  isBaselineKernel,
  openBaselineKernel,
  type BaselineBackend,
  type BaselineKernel,
} from '../stack/baselines/baseline_kernel.ts';
import { SslServerKernel } from '../stack/baselines/ssl_server_kernel.ts';
import { BACKENDS, TnicDevice, type Backend } from '../stack/tnic_device.ts';
import { cosimulate, formatMismatch } from '../verify/cosim.ts';
import { testSeed } from './seed.ts';

const KEY = new Uint8Array(32).map((_, i) => 0xa0 + i);
const OTHER_KEY = new Uint8Array(32).fill(0x11);

describe('baseline backends', () => {
  it('follow model and rtl in BACKENDS', () => {
    expect(BACKENDS.slice(0, 2)).toEqual(['model', 'rtl']);
    expect(BACKENDS.slice(2)).toEqual(['ssl-lib', 'ssl-server', 'sgx', 'sev']);
  });
});

describe.each(BASELINE_BACKENDS)('%s kernel against the reference model', (backend) => {
  let kernel: BaselineKernel;
  beforeAll(async () => {
    kernel = await openBaselineKernel(backend);
  });
  afterAll(async () => {
    await kernel.close();
  });

  it('matches every status, tag and counter of the cosim stream', async () => {
    const seed = testSeed(`${backend} cosim`);
    const report = await cosimulate(new TnicKernelModel(), kernel, { seed, count: 1500, compareCycles: false });
    expect(report.mismatch && formatMismatch(report.mismatch, seed)).toBeUndefined();
    expect(report.transactions).toBeGreaterThan(1500);
  });

  it('rejects keys and device ids after lock, as the model does', async () => {
    const requests: KernelRequest[] = [
      { op: 'set-id', device: 7 },
      { op: 'load-key', session: 0, key: KEY },
      { op: 'load-key', session: 0, key: OTHER_KEY }, // keys are write-once
      { op: 'load-key', session: 16, key: KEY }, // outside the 16-session keystore
      { op: 'lock' },
      { op: 'load-key', session: 1, key: KEY },
      { op: 'set-id', device: 8 },
      { op: 'attest', session: 0, msg: new Uint8Array(3) },
      { op: 'attest', session: 1, msg: new Uint8Array(3) },
    ];
    const model = new TnicKernelModel();
    await kernel.reset();
    const expected = await model.run(requests);
    const got = await kernel.run(requests);
    expect(got.map((r) => r.status)).toEqual(expected.map((r) => r.status));
    expect(got.map((r) => r.status)).toEqual([
      'ok',
      'ok',
      'rejected',
      'rejected',
      'ok',
      'rejected',
      'rejected',
      'ok',
      'unknown-session',
    ]);
    expect(Buffer.from(got[7]!.tag).toString('hex')).toBe(Buffer.from(expected[7]!.tag).toString('hex'));
  });

  it('throws InputError for a message over 65535 bytes', async () => {
    await expect(kernel.run([{ op: 'attest', session: 0, msg: new Uint8Array(65536) }])).rejects.toThrow(InputError);
    await expect(new TnicKernelModel().run([{ op: 'attest', session: 0, msg: new Uint8Array(65536) }])).rejects.toThrow(
      InputError,
    );
  });

  it('keeps no key where a caller can read it', async () => {
    await kernel.reset();
    await kernel.run([{ op: 'load-key', session: 2, key: KEY }]);
    const keyHex = Buffer.from(KEY).toString('hex');
    expect(Object.keys(kernel)).toEqual(['backend']);
    expect(JSON.stringify(kernel)).not.toContain(keyHex);
    // util.inspect shows no private field, so no key bytes or HMAC states.
    expect(inspect(kernel, { depth: 10, showHidden: true })).not.toMatch(/Array/);
  });
});

describe('baseline devices reject what the model device rejects', () => {
  /** Send through a pair of devices and return the receiver's verdicts. */
  async function verdicts(backend: Backend): Promise<string[]> {
    const sender = await TnicDevice.open(backend, 1);
    const receiver = await TnicDevice.open(backend, 2);
    const stranger = await TnicDevice.open(backend, 3);
    try {
      for (const d of [sender, receiver]) {
        await d.provision(0, KEY);
        await d.provision(1, KEY);
        await d.lock();
      }
      await stranger.provision(0, OTHER_KEY);
      await stranger.lock();

      const m0 = await sender.localSend(0, new TextEncoder().encode('first'));
      const m1 = await sender.localSend(0, new TextEncoder().encode('second'));
      const m2 = await sender.localSend(0, new TextEncoder().encode('third'));
      const forged = m1.slice();
      forged[0]! ^= 0x01; // flip a bit of the tag
      const foreign = await stranger.localSend(0, new TextEncoder().encode('first'));
      const other = m0.slice();
      new DataView(other.buffer).setUint32(32, 5); // session 5 has no key

      const out: string[] = [];
      for (const bytes of [m0, m0, foreign, m2, forged, m1, m2, other]) {
        out.push((await receiver.localVerify(bytes)).reason);
      }
      out.push((await receiver.checkForwarded(m0)).reason);
      out.push((await receiver.checkForwarded(forged)).reason);
      return out;
    } finally {
      await Promise.all([sender.close(), receiver.close(), stranger.close()]);
    }
  }

  let reference: string[];
  beforeAll(async () => {
    reference = await verdicts('model');
  });

  it('model device gives the expected verdicts', () => {
    expect(reference).toEqual(['ok', 'replayed', 'bad-tag', 'gap', 'bad-tag', 'ok', 'ok', 'unknown-session', 'ok', 'bad-tag']);
  });

  it.each(BASELINE_BACKENDS)('%s device gives the same verdicts', async (backend) => {
    expect(await verdicts(backend)).toEqual(reference);
  });
});

describe('modelled latency', () => {
  const attest64: KernelRequest = { op: 'attest', session: 0, msg: new Uint8Array(64) };
  const cases: [BaselineBackend, number, number][] = [
    // [backend, 64-byte ATTEST, access only]: access + compute + per-byte cost of 16 header bytes past 64.
    ['ssl-lib', 0 + 1260 + 0.5 * 16, 0],
    ['ssl-server', 9000 + 1600 + 0.5 * 16, 9000],
    ['sgx', 16000 + 29000 + 9 * 16, 16000],
    ['sev', 35000 + 63000 + 20 * 16, 35000],
  ];

  it.each(cases)('%s charges the profile latency per command', async (backend, attestNs, accessNs) => {
    const kernel = await openBaselineKernel(backend);
    try {
      const [load, attest, unknown] = await kernel.run([
        { op: 'load-key', session: 0, key: KEY },
        attest64,
        { op: 'attest', session: 9, msg: new Uint8Array(64) },
      ]);
      expect(kernel.latencyNs(attest!)).toBe(attestNs);
      expect(kernel.latencyNs(load!), 'a key load costs the access only').toBe(accessNs);
      expect(kernel.latencyNs(unknown!), 'no HMAC for an unknown session').toBe(accessNs);
      expect(attest!.cycles).toBe(0);

      const costs = kernel.costs;
      expect(costs.commands).toBe(3);
      expect(costs.modelledNs).toBe(attestNs + 2 * accessNs);
      expect([...costs.hmacBySession]).toEqual([[0, new Map([[64, 1]])]]);
    } finally {
      await kernel.close();
    }
  });

  it('is undefined for a result of another kernel', async () => {
    const kernel = await openBaselineKernel('sgx');
    const foreign: KernelResult = { status: 'ok', tag: new Uint8Array(32), counter: 0n, cycles: 0 };
    expect(kernel.latencyNs(foreign)).toBeUndefined();
    expect(isBaselineKernel(kernel)).toBe(true);
    expect(isBaselineKernel(new TnicKernelModel())).toBe(false);
  });
});

describe('ssl-server process', () => {
  it('exits and rejects requests after close', async () => {
    const kernel = (await openBaselineKernel('ssl-server')) as SslServerKernel;
    const pid = kernel.serverPid!;
    expect(() => process.kill(pid, 0), 'server is running').not.toThrow();

    await kernel.close();
    expect(() => process.kill(pid, 0), 'server process is gone').toThrow(/ESRCH/);
    await expect(kernel.run([{ op: 'lock' }])).rejects.toThrow(/closed/);
    await kernel.close(); // a second close is harmless
  });
});

import { createHmac } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Prng } from '../sim/prng.ts';
import { testSeed } from './seed.ts';
import { macCycles } from '../sim/kernel_latency.ts';
import type { KernelRequest } from '../sim/kernel_port.ts';
import { CycleKernel } from '../sim/cycle/kernel_driver.ts';
import { encodeHeader } from '../sim/tnic_kernel.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Independent reference: node:crypto HMAC-SHA256 over header || msg. */
function referenceAlpha(key: Uint8Array, session: number, device: number, counter: bigint, msg: Uint8Array): string {
  return createHmac('sha256', key).update(encodeHeader(session, device, counter)).update(msg).digest('hex');
}

describe('model and RTL against node:crypto', () => {
  let rtl: RtlKernel;
  const model = new CycleKernel();
  beforeAll(async () => {
    rtl = await RtlKernel.start();
  });
  afterAll(async () => {
    await rtl.close();
  });

  it('agree for keys of 0 to 200 bytes and messages of 0 to 9216 bytes', async () => {
    const seed = testSeed('equivalence');
    const rng = new Prng(seed);
    const device = 0x01020304;
    const keyLengths = [0, 1, 31, 32, 63, 64, 65, 100, 128, 199, 200];
    const msgLengths = [0, 1, 3, 4, 5, 47, 48, 55, 56, 63, 64, 65, 119, 120, 1000, 4096, 9215, 9216];

    for (let start = 0; start < keyLengths.length; start += 16) {
      const keys = keyLengths.slice(start, start + 16).map((n) => rng.bytes(n));
      const requests: KernelRequest[] = [{ op: 'set-id', device }];
      keys.forEach((key, session) => requests.push({ op: 'load-key', session, key }));
      const expected: { alpha: string; cycles: number; what: string }[] = [];
      keys.forEach((key, session) => {
        msgLengths.forEach((n, i) => {
          const msg = rng.bytes(n);
          requests.push({ op: 'attest', session, msg });
          expected.push({
            alpha: referenceAlpha(key, session, device, BigInt(i), msg),
            cycles: macCycles(n),
            what: `seed ${seed}: ${key.length}-byte key, ${n}-byte message`,
          });
        });
      });

      await Promise.all([model.reset(), rtl.reset()]);
      const [m, r] = await Promise.all([model.run(requests), rtl.run(requests)]);
      const offset = 1 + keys.length;
      expected.forEach((e, i) => {
        expect(hex(m[offset + i]!.tag), `model alpha, ${e.what}`).toBe(e.alpha);
        expect(hex(r[offset + i]!.tag), `rtl alpha, ${e.what}`).toBe(e.alpha);
        expect(m[offset + i]!.cycles, `model cycles, ${e.what}`).toBe(e.cycles);
        expect(r[offset + i]!.cycles, `rtl cycles, ${e.what}`).toBe(e.cycles);
      });
    }
  });

  it('report equal cycles for key loads of every length class', async () => {
    const requests: KernelRequest[] = [0, 1, 4, 5, 64, 65, 119, 120, 200].map((n, session) => ({
      op: 'load-key',
      session,
      key: new Uint8Array(n).fill(1),
    }));
    await Promise.all([model.reset(), rtl.reset()]);
    const [m, r] = await Promise.all([model.run(requests), rtl.run(requests)]);
    requests.forEach((req, i) => {
      const bytes = req.op === 'load-key' ? req.key.length : -1;
      expect(m[i]!.status, `model load of ${bytes} bytes`).toBe('ok');
      expect(r[i]!.cycles, `rtl cycles for a ${bytes}-byte key`).toBe(m[i]!.cycles);
    });
  });

  it('attest of a 64-byte message takes 196 cycles, 65 more per 64 bytes', () => {
    expect(macCycles(64)).toBe(196);
    expect(macCycles(128) - macCycles(64)).toBe(65);
    expect(macCycles(0)).toBe(131);
  });
});

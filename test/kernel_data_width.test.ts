import { createHmac } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CycleKernel } from '../sim/cycle/kernel_driver.ts';
import { DEFAULT_PARAMS } from '../sim/cycle/tnic_kernel.ts';
import { bypassCycles, loadKeyCycles, macCycles, serialCycles } from '../sim/kernel_latency.ts';
import type { KernelRequest } from '../sim/kernel_port.ts';
import { Prng } from '../sim/prng.ts';
import { encodeHeader } from '../sim/tnic_kernel.ts';
import { buildFlags } from '../verify/build_rtl.ts';
import { lockstep } from '../verify/lockstep.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';
import { testSeed } from './seed.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function referenceAlpha(key: Uint8Array, session: number, device: number, counter: bigint, msg: Uint8Array): string {
  return createHmac('sha256', key).update(encodeHeader(session, device, counter)).update(msg).digest('hex');
}

describe.each([64, 128])('kernel with DATA_W %i', (dataWidth) => {
  const params = { ...DEFAULT_PARAMS, dataWidth };
  let rtl: RtlKernel;
  beforeAll(async () => {
    rtl = await RtlKernel.start({ dataWidth });
  }, 600_000);
  afterAll(async () => {
    await rtl?.close();
  });

  it('model and RTL agree in lockstep with stalls', async () => {
    const seed = testSeed(`lockstep DATA_W ${dataWidth}`);
    const report = await lockstep(new CycleKernel(params), rtl, { seed, count: 600, batch: 200 });
    expect(report.mismatch, `seed ${seed}`).toBeUndefined();
    expect(report.cycles).toBeGreaterThan(600 * 100);
  });

  it('tags match node:crypto with the formula cycles', async () => {
    const seed = testSeed(`equivalence DATA_W ${dataWidth}`);
    const rng = new Prng(seed);
    const device = 0x0a0b0c0d;
    const keys = [0, 5, 64, 65, 131].map((n) => rng.bytes(n));
    const msgLengths = [0, 1, 7, 8, 15, 16, 17, 47, 48, 63, 64, 65, 1000, 4095, 4096];
    const requests: KernelRequest[] = [{ op: 'set-id', device }];
    keys.forEach((key, session) => requests.push({ op: 'load-key', session, key }));
    const expected: { alpha: string; msgBytes: number; what: string }[] = [];
    keys.forEach((key, session) => {
      msgLengths.forEach((n, i) => {
        const msg = rng.bytes(n);
        requests.push({ op: 'attest', session, msg });
        expected.push({
          alpha: referenceAlpha(key, session, device, BigInt(i), msg),
          msgBytes: n,
          what: `seed ${seed}: ${key.length}-byte key, ${n}-byte message`,
        });
      });
    });

    const model = new CycleKernel(params);
    await rtl.reset();
    const [m, r] = await Promise.all([model.run(requests), rtl.run(requests)]);
    keys.forEach((key, session) => {
      expect(m[1 + session]!.cycles, `model load of a ${key.length}-byte key`).toBe(loadKeyCycles(key.length));
      expect(r[1 + session]!.cycles, `rtl load of a ${key.length}-byte key`).toBe(loadKeyCycles(key.length));
    });
    const offset = 1 + keys.length;
    expected.forEach((e, i) => {
      expect(hex(m[offset + i]!.tag), `model alpha, ${e.what}`).toBe(e.alpha);
      expect(hex(r[offset + i]!.tag), `rtl alpha, ${e.what}`).toBe(e.alpha);
      expect(m[offset + i]!.cycles, `model cycles, ${e.what}`).toBe(macCycles(e.msgBytes));
      expect(r[offset + i]!.cycles, `rtl cycles, ${e.what}`).toBe(macCycles(e.msgBytes));
    });
  });

  it('rejections take the beat-count formulas', async () => {
    const lengths = [0, 1, 16, 17, 100, 1000];
    const requests: KernelRequest[] = [
      ...lengths.map((n): KernelRequest => ({ op: 'attest', session: 9, msg: new Uint8Array(n).fill(7) })),
      { op: 'lock' },
      ...lengths.map((n): KernelRequest => ({ op: 'load-key', session: 1, key: new Uint8Array(n).fill(3) })),
    ];
    const model = new CycleKernel(params);
    await rtl.reset();
    const [m, r] = await Promise.all([model.run(requests), rtl.run(requests)]);
    lengths.forEach((n, i) => {
      expect(m[i]!.status, `ATTEST of ${n} bytes on a session without a key`).toBe('unknown-session');
      expect(m[i]!.cycles, `model bypass of ${n} bytes`).toBe(bypassCycles(n, dataWidth));
      expect(r[i]!.cycles, `rtl bypass of ${n} bytes`).toBe(bypassCycles(n, dataWidth));
      const k = lengths.length + 1 + i;
      expect(m[k]!.status, `LOAD_KEY of ${n} bytes after LOCK`).toBe('rejected');
      expect(m[k]!.cycles, `model rejected key of ${n} bytes`).toBe(serialCycles(n, dataWidth));
      expect(r[k]!.cycles, `rtl rejected key of ${n} bytes`).toBe(serialCycles(n, dataWidth));
    });
  });
});

describe('unsupported DATA_W', () => {
  it('is rejected by the cycle model', () => {
    expect(() => new CycleKernel({ ...DEFAULT_PARAMS, dataWidth: 48 })).toThrow(/data width 48 is not supported; use 32, 64 or 128/);
  });

  it('is rejected before a Verilator build', () => {
    expect(() => buildFlags(false, 256)).toThrow(/data width 256 is not supported/);
    expect(buildFlags(false, 64)).toContain('-GDATA_W=64');
    expect(buildFlags(false, 32).join(' ')).not.toContain('DATA_W');
  });

  it('bypass and serial formulas count beats', () => {
    expect(bypassCycles(17, 32)).toBe(9);
    expect(bypassCycles(17, 64)).toBe(7);
    expect(bypassCycles(17, 128)).toBe(6);
    expect(bypassCycles(0, 128)).toBe(2);
    expect(serialCycles(16, 128)).toBe(3);
  });
});

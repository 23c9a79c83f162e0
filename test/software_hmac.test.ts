import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { Prng } from '../sim/prng.ts';
import { PrecomputedHmacSha256 } from '../stack/software_hmac.ts';
import { testSeed } from './seed.ts';

describe('PrecomputedHmacSha256', () => {
  it('equals node:crypto on block-boundary lengths', () => {
    const seed = testSeed('software hmac');
    const rng = new Prng(seed);
    for (const keyLength of [0, 1, 32, 63, 64, 65, 128, 200]) {
      const key = rng.bytes(keyLength);
      const mac = new PrecomputedHmacSha256(key);
      for (const msgLength of [0, 1, 39, 40, 47, 48, 55, 56, 63, 64, 65, 119, 120, 1000, 9216]) {
        const msg = rng.bytes(msgLength);
        const split = rng.int(0, msgLength);
        const expected = createHmac('sha256', key).update(msg).digest('hex');
        const got = Buffer.from(mac.mac(msg.subarray(0, split), msg.subarray(split))).toString('hex');
        expect(got, `${keyLength}-byte key, ${msgLength}-byte message split at ${split}`).toBe(expected);
      }
    }
  });

  it('gives the same tag on reuse', () => {
    const mac = new PrecomputedHmacSha256(new Uint8Array(16).fill(3));
    const msg = new Uint8Array(100).fill(9);
    expect(Buffer.from(mac.mac(msg)).toString('hex')).toBe(Buffer.from(mac.mac(msg)).toString('hex'));
  });
});

import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { HmacSha256 } from '../sim/nic/hmac_sha256.ts';
import { Prng } from '../sim/prng.ts';
import { testSeed } from './seed.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('HmacSha256', () => {
  it('matches RFC 4231 test case 2', () => {
    const key = new TextEncoder().encode('Jefe');
    const data = new TextEncoder().encode('what do ya want for nothing?');
    const tag = new Uint8Array(32);
    new HmacSha256(key).macInto(data, 0, data.length, tag, 0);
    expect(hex(tag)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('matches node:crypto for every length across the padding boundaries', () => {
    const prng = new Prng(1);
    const key = prng.bytes(32);
    const mac = new HmacSha256(key);
    const data = prng.bytes(300);
    const tag = new Uint8Array(32);
    for (let length = 0; length <= 300; length++) {
      mac.macInto(data, 0, length, tag, 0);
      const expected = createHmac('sha256', key).update(data.subarray(0, length)).digest();
      if (hex(tag) !== expected.toString('hex')) expect.fail(`length ${length}: ${hex(tag)} vs ${expected.toString('hex')}`);
    }
  });

  it('keeps instances apart when calls interleave', () => {
    // Every instance shares one message schedule, so a constructor or MAC in between must not leak into the next MAC.
    const seed = testSeed('nic hmac interleave');
    const prng = new Prng(seed);
    const keys = [prng.bytes(32), prng.bytes(32)];
    const macs = keys.map((key) => new HmacSha256(key));
    const data = prng.bytes(112);
    const tag = new Uint8Array(32);
    for (let i = 0; i < 20; i++) {
      const keyIndex = i % 2;
      if (i % 5 === 0) new HmacSha256(prng.bytes(prng.int(0, 100)));
      const end = 32 + prng.int(0, 80);
      macs[keyIndex]!.macInto(data, 32, end, tag, 0);
      const expected = createHmac('sha256', keys[keyIndex]!).update(data.subarray(32, end)).digest('hex');
      expect(hex(tag), `call ${i}, key ${keyIndex}, data [32, ${end})`).toBe(expected);
    }
  });

  it('matches node:crypto for random keys, offsets and lengths', () => {
    const seed = testSeed('nic hmac');
    const prng = new Prng(seed);
    for (let i = 0; i < 300; i++) {
      const key = prng.bytes(prng.int(0, 200));
      const data = prng.bytes(prng.int(0, 5000));
      const start = prng.int(0, data.length);
      const end = prng.int(start, data.length);
      const out = new Uint8Array(40);
      const outAt = prng.int(0, 8);
      new HmacSha256(key).macInto(data, start, end, out, outAt);
      const expected = createHmac('sha256', key).update(data.subarray(start, end)).digest();
      expect(hex(out.subarray(outAt, outAt + 32)), `key ${key.length} B, data [${start}, ${end})`).toBe(expected.toString('hex'));
      expect(out.subarray(0, outAt).every((b) => b === 0), 'bytes before outAt untouched').toBe(true);
    }
  });
});

import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { Prng } from '../sim/prng.ts';
import { PrecomputedHmacSha256 } from '../stack/software_hmac.ts';
import { loadVectors } from '../verify/vectors.ts';
import { testSeed } from './seed.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** header = session u32 || device u32 || counter u64, big-endian, as the kernel builds it. */
function header(session: number, device: number, high: number, low: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, session);
  view.setUint32(4, device);
  view.setUint32(8, high);
  view.setUint32(12, low);
  return bytes;
}

/** Message lengths around every block boundary that the 16-byte header and the padding create. */
const BOUNDARY_LENGTHS = [0, 1, 3, 4, 39, 40, 47, 48, 55, 56, 63, 64, 65, 103, 104, 111, 112, 119, 120, 1000, 4096, 9216];

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

  it('reproduces the RFC 4231 and Wycheproof tags', () => {
    const vectors = loadVectors();
    expect(vectors.length).toBe(181);
    for (const v of vectors) {
      const tag = new PrecomputedHmacSha256(v.key).mac(v.msg).subarray(0, v.tag.length);
      expect(hex(tag) === hex(v.tag), `${v.source} (${v.valid ? 'valid' : 'invalid'} tag)`).toBe(v.valid);
    }
  });

  it('macHeader reproduces the vectors', () => {
    // A message of 16 bytes or more is header || rest for any split of its first 16 bytes into words.
    let checked = 0;
    for (const v of loadVectors().filter((x) => x.msg.length >= 16)) {
      const words = new DataView(v.msg.buffer, v.msg.byteOffset, 16);
      const out = new Uint8Array(32);
      new PrecomputedHmacSha256(v.key).macHeader(
        words.getUint32(0),
        words.getUint32(4),
        words.getUint32(8),
        words.getUint32(12),
        v.msg.subarray(16),
        out,
        0,
      );
      expect(hex(out.subarray(0, v.tag.length)) === hex(v.tag), v.source).toBe(v.valid);
      checked++;
    }
    // RFC 4231 cases 2 to 7 and 84 Wycheproof cases have messages of 16 bytes or more.
    expect(checked).toBe(90);
  });

  it('macHeader handles keys of 0-200 bytes', () => {
    const seed = testSeed('software hmac keys');
    const rng = new Prng(seed);
    const out = new Uint8Array(32);
    for (let keyLength = 0; keyLength <= 200; keyLength++) {
      const key = rng.bytes(keyLength);
      const msg = rng.bytes(rng.int(0, 200));
      const [session, device, high, low] = [rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()];
      new PrecomputedHmacSha256(key).macHeader(session, device, high, low, msg, out, 0);
      const expected = createHmac('sha256', key).update(header(session, device, high, low)).update(msg).digest('hex');
      expect(hex(out), `${keyLength}-byte key, ${msg.length}-byte message`).toBe(expected);
    }
  });

  it('macHeader handles messages of 0-9216 bytes', () => {
    const seed = testSeed('software hmac lengths');
    const rng = new Prng(seed);
    const key = rng.bytes(32);
    const mac = new PrecomputedHmacSha256(key);
    const lengths = [...BOUNDARY_LENGTHS, ...Array.from({ length: 40 }, () => rng.int(0, 9216))];
    for (const length of lengths) {
      const msg = rng.bytes(length);
      const [session, device, high, low] = [rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()];
      const out = new Uint8Array(48).fill(0xee);
      mac.macHeader(session, device, high, low, msg, out, 8);
      const expected = createHmac('sha256', key).update(header(session, device, high, low)).update(msg).digest('hex');
      expect(hex(out.subarray(8, 40)), `${length}-byte message`).toBe(expected);
      expect(hex(out.subarray(0, 8)), 'bytes before the tag are untouched').toBe('ee'.repeat(8));
      expect(hex(out.subarray(40)), 'bytes after the tag are untouched').toBe('ee'.repeat(8));
    }
  });

  it('macHeader and mac agree on the header bytes', () => {
    const mac = new PrecomputedHmacSha256(new Uint8Array(20).fill(0x0b));
    const msg = new TextEncoder().encode('Hi There');
    const out = new Uint8Array(32);
    mac.macHeader(0xffffffff, 0, 0x80000000, 1, msg, out, 0);
    expect(hex(out)).toBe(hex(mac.mac(header(0xffffffff, 0, 0x80000000, 1), msg)));
  });

  it('macHeader tags depend on the counter', () => {
    const key = new Uint8Array(32).fill(7);
    const mac = new PrecomputedHmacSha256(key);
    const msg = new Uint8Array(64).fill(1);
    const a = new Uint8Array(32);
    const b = new Uint8Array(32);
    mac.macHeader(1, 2, 0, 5, msg, a, 0);
    mac.macHeader(1, 2, 0, 4, msg, b, 0);
    expect(hex(a)).not.toBe(hex(b));
  });
});

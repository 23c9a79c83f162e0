import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';

import { describe, expect, it } from 'vitest';

import { Prng } from '../sim/prng.ts';
import { MultiBufferHmacSha256 } from '../stack/hmac_multi_buffer.ts';
import { hmacKernelWasmBytes } from '../stack/sha256_x4_wasm.ts';
import { loadVectors } from '../verify/vectors.ts';
import { testSeed } from './seed.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Job {
  slot: number;
  session: number;
  device: number;
  high: number;
  low: number;
  msg: Uint8Array;
}

/** HMAC(key, session || device || counter || msg) by node:crypto. */
function expectedTag(key: Uint8Array, job: Job): string {
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  view.setUint32(0, job.session);
  view.setUint32(4, job.device);
  view.setUint32(8, job.high);
  view.setUint32(12, job.low);
  return createHmac('sha256', key).update(header).update(job.msg).digest('hex');
}

/** Queue `jobs`, finish, and compare every tag with node:crypto; returns the output buffer. */
function checkBatch(engine: MultiBufferHmacSha256, keys: Uint8Array[], jobs: Job[], label: string): Uint8Array {
  for (const j of jobs) engine.add(j.slot, j.session, j.device, j.high, j.low, j.msg);
  expect(engine.queued).toBe(jobs.length);
  const out = new Uint8Array(32 * jobs.length);
  expect(engine.finish(out)).toBe(jobs.length);
  expect(engine.queued, 'finish empties the queue').toBe(0);
  jobs.forEach((j, i) => {
    const got = hex(out.subarray(32 * i, 32 * i + 32));
    expect(got, `${label}: message ${i} of ${j.msg.length} bytes, slot ${j.slot}`).toBe(expectedTag(keys[j.slot]!, j));
  });
  return out;
}

function randomJob(rng: Prng, slots: number, maxLength: number): Job {
  return {
    slot: rng.int(0, slots - 1),
    session: rng.nextU32(),
    device: rng.nextU32(),
    high: rng.nextU32(),
    low: rng.nextU32(),
    msg: rng.bytes(rng.int(0, maxLength)),
  };
}

describe('multi-buffer kernel module', () => {
  it('is valid WebAssembly', () => {
    expect(WebAssembly.validate(hmacKernelWasmBytes())).toBe(true);
  });

  it('is generated the same each time', () => {
    expect(hex(hmacKernelWasmBytes())).toBe(hex(hmacKernelWasmBytes()));
  });
});

describe('MultiBufferHmacSha256', () => {
  it('reproduces the RFC 4231 and Wycheproof tags', () => {
    // A message of 16 bytes or more is header || rest for the header words read from its first 16 bytes.
    const vectors = loadVectors().filter((v) => v.msg.length >= 16);
    // RFC 4231 cases 2 to 7 and 84 Wycheproof cases.
    expect(vectors.length).toBe(90);
    const engine = new MultiBufferHmacSha256(vectors.length, vectors.length);
    vectors.forEach((v, slot) => engine.setKey(slot, v.key));
    vectors.forEach((v, slot) => {
      const words = new DataView(v.msg.buffer, v.msg.byteOffset, 16);
      engine.add(slot, words.getUint32(0), words.getUint32(4), words.getUint32(8), words.getUint32(12), v.msg.subarray(16));
    });
    const out = new Uint8Array(32 * vectors.length);
    engine.finish(out);
    vectors.forEach((v, i) => {
      const tag = out.subarray(32 * i, 32 * i + v.tag.length);
      expect(hex(tag) === hex(v.tag), `${v.source} (${v.valid ? 'valid' : 'invalid'} tag)`).toBe(v.valid);
    });
  });

  it('equals node:crypto on vector inputs', () => {
    const seed = testSeed('multi-buffer vectors');
    const rng = new Prng(seed);
    const vectors = loadVectors();
    const engine = new MultiBufferHmacSha256(vectors.length, vectors.length);
    const keys = vectors.map((v) => v.key);
    keys.forEach((key, slot) => engine.setKey(slot, key));
    const jobs = vectors.map((v, slot) => ({ ...randomJob(rng, 1, 0), slot, msg: v.msg }));
    checkBatch(engine, keys, jobs, 'vectors');
  });

  it('equals node:crypto for keys of 0 to 200 bytes', () => {
    const seed = testSeed('multi-buffer keys');
    const rng = new Prng(seed);
    const keys = Array.from({ length: 201 }, (_, length) => rng.bytes(length));
    const engine = new MultiBufferHmacSha256(keys.length, keys.length);
    keys.forEach((key, slot) => engine.setKey(slot, key));
    const jobs = keys.map((_, slot) => ({ ...randomJob(rng, 1, 200), slot }));
    checkBatch(engine, keys, jobs, 'key lengths');
  });

  it('equals node:crypto for messages of 0 to 9216 bytes', () => {
    const seed = testSeed('multi-buffer lengths');
    const rng = new Prng(seed);
    const keys = [rng.bytes(32)];
    const engine = new MultiBufferHmacSha256(1, 64);
    engine.setKey(0, keys[0]!);
    const lengths = [0, 1, 3, 4, 39, 40, 47, 48, 55, 56, 63, 64, 65, 103, 104, 111, 112, 119, 120, 1000, 4096, 9216];
    // Each length alone (three unused lanes), then all together (mixed lengths in each group).
    for (const length of lengths) {
      checkBatch(engine, keys, [{ ...randomJob(rng, 1, 0), msg: rng.bytes(length) }], `${length} bytes alone`);
    }
    checkBatch(engine, keys, lengths.map((length) => ({ ...randomJob(rng, 1, 0), msg: rng.bytes(length) })), 'all lengths');
  });

  it('equals node:crypto on mixed batches', () => {
    const seed = testSeed('multi-buffer batches');
    const rng = new Prng(seed);
    const keys = Array.from({ length: 16 }, () => rng.bytes(rng.int(0, 200)));
    const engine = new MultiBufferHmacSha256(16, 128);
    keys.forEach((key, slot) => engine.setKey(slot, key));
    for (let batch = 0; batch < 30; batch++) {
      const maxLength = rng.pick([64, 300, 9216]);
      const jobs = Array.from({ length: rng.int(1, 128) }, () => randomJob(rng, 16, maxLength));
      checkBatch(engine, keys, jobs, `batch ${batch}`);
    }
  });

  it('hashes early past its input window', () => {
    const seed = testSeed('multi-buffer window');
    const rng = new Prng(seed);
    const keys = [rng.bytes(64)];
    const engine = new MultiBufferHmacSha256(1, 256);
    engine.setKey(0, keys[0]!);
    // 200 x 9216 bytes is over the 1 MiB window, so the first messages are hashed before finish().
    // Then messages up to 70,000 bytes make the memory grow.
    checkBatch(engine, keys, Array.from({ length: 200 }, () => ({ ...randomJob(rng, 1, 0), msg: rng.bytes(9216) })), 'window');
    checkBatch(engine, keys, [65535, 3, 65535, 0, 70000].map((n) => ({ ...randomJob(rng, 1, 0), msg: rng.bytes(n) })), 'long');
  });

  it('writes one tag per message', () => {
    const engine = new MultiBufferHmacSha256(1, 8);
    engine.setKey(0, new Uint8Array(32).fill(1));
    for (let i = 0; i < 5; i++) engine.add(0, 1, 2, 0, i, new Uint8Array(64));
    const out = new Uint8Array(32 * 7).fill(0xee);
    expect(engine.finish(out, 32)).toBe(5);
    expect(hex(out.subarray(0, 32)), 'before the offset').toBe('ee'.repeat(32));
    expect(hex(out.subarray(32 * 6)), 'after the fifth tag').toBe('ee'.repeat(32));
    expect(new Set([1, 2, 3, 4, 5].map((i) => hex(out.subarray(32 * i, 32 * i + 32)))).size, 'five distinct tags').toBe(5);
  });

  it('macConsecutive carries the counter', () => {
    const seed = testSeed('multi-buffer consecutive');
    const rng = new Prng(seed);
    const keys = [rng.bytes(32)];
    const engine = new MultiBufferHmacSha256(1, 8);
    engine.setKey(0, keys[0]!);
    const msgs = Array.from({ length: 21 }, () => rng.bytes(rng.int(0, 150)));
    const first = 2n ** 32n - 3n;
    const out = new Uint8Array(32 * msgs.length);
    engine.macConsecutive(0, 9, 4, first, msgs, out);
    msgs.forEach((msg, i) => {
      const counter = first + BigInt(i);
      const job = { slot: 0, session: 9, device: 4, high: Number(counter >> 32n), low: Number(counter & 0xffffffffn), msg };
      expect(hex(out.subarray(32 * i, 32 * i + 32)), `counter ${counter}`).toBe(expectedTag(keys[0]!, job));
    });
  });

  it('rejects invalid input by value', () => {
    const engine = new MultiBufferHmacSha256(2, 2);
    const msg = new Uint8Array(4);
    expect(() => engine.add(0, 1, 1, 0, 0, msg)).toThrow('key slot 0 has no key; call setKey(0, key) first');
    expect(() => engine.setKey(2, msg)).toThrow('key slot 2 is outside 0..1');
    expect(() => engine.add(-1, 1, 1, 0, 0, msg)).toThrow('key slot -1 is outside 0..1');
    engine.setKey(0, msg);
    expect(() => engine.add(0, -1, 1, 0, 0, msg)).toThrow('session -1 and device 1 must be unsigned 32-bit integers');
    expect(() => engine.add(0, 1, 1, 2 ** 32, 0, msg)).toThrow('counter halves 4294967296 and 0');
    engine.add(0, 1, 1, 0, 0, msg);
    expect(() => engine.setKey(1, msg)).toThrow('setKey(1) with 1 messages queued; call finish() first');
    engine.add(0, 1, 1, 0, 1, msg);
    expect(() => engine.add(0, 1, 1, 0, 2, msg)).toThrow('the queue is full (capacity 2 messages)');
    expect(() => engine.finish(new Uint8Array(63))).toThrow('cannot hold 2 tags');
    engine.finish(new Uint8Array(64));
    expect(() => engine.macConsecutive(0, 1, 1, 2n ** 64n - 1n, [msg, msg], new Uint8Array(64))).toThrow(
      'do not fit in 64 bits',
    );
    expect(() => new MultiBufferHmacSha256(0)).toThrow('slots 0 must be an integer in 1..4096');
  });

  it('forgets cleared keys and hides states', () => {
    const key = new Uint8Array(32).fill(0x5a);
    const engine = new MultiBufferHmacSha256(2, 4);
    engine.setKey(1, key);
    expect(engine.hasKey(1)).toBe(true);
    engine.clearKey(1);
    expect(engine.hasKey(1)).toBe(false);
    expect(() => engine.add(1, 0, 0, 0, 0, key)).toThrow('key slot 1 has no key');

    engine.setKey(0, key);
    expect(Object.keys(engine)).toEqual([]);
    expect(JSON.stringify(engine)).toBe('{}');
    // util.inspect shows no private field, so no memory holding key states.
    expect(inspect(engine, { depth: 10, showHidden: true })).not.toMatch(/Array|Memory/);
    engine.clearKeys();
    expect(engine.hasKey(0)).toBe(false);
  });
});

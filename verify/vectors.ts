/**
 * HMAC-SHA256 vectors (RFC 4231, Wycheproof) re-expressed as attestations.
 *
 * The kernel MACs header || msg, never msg alone, so a vector cannot be
 * replayed on it as is. Each vector instead runs as:
 *   1. the reference (@noble/hashes) must give the vector's tag on (key, msg),
 *      which shows the reference is right;
 *   2. the kernel attests msg under key, and alpha must equal the reference
 *      HMAC(key, header || msg);
 *   3. on the verify path the vector's tag error (its XOR with the true tag,
 *      zero for valid vectors) is applied to alpha: a valid vector must be
 *      accepted and an invalid one rejected as bad-tag without moving
 *      recv_cnt. A tag shorter than 32 bytes is sent zero-padded and must be
 *      rejected, because the kernel compares the whole tag.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

import { N_SESSIONS, type AttestationKernel, type KernelRequest } from '../sim/kernel_port.ts';
import { encodeHeader } from '../sim/tnic_kernel.ts';
import { REPO_ROOT } from './build_rtl.ts';

export interface HmacVector {
  source: string;
  key: Uint8Array;
  msg: Uint8Array;
  tag: Uint8Array;
  valid: boolean;
}

export interface VectorReport {
  cases: number;
  /** Valid full-length tags: accepted. */
  valid: number;
  /** Invalid tags: rejected as bad-tag. */
  invalid: number;
  /** Valid but truncated tags (RFC 4231 case 5, Wycheproof 128-bit groups): rejected. */
  truncated: number;
  failures: string[];
}

const VECTOR_DIR = join(REPO_ROOT, 'test', 'data', 'vectors');
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function loadVectors(): HmacVector[] {
  const rfc = JSON.parse(readFileSync(join(VECTOR_DIR, 'rfc4231_hmac_sha256.json'), 'utf8')) as {
    cases: { case: number; key: string; data: string; hmacSha256: string }[];
  };
  const wp = JSON.parse(readFileSync(join(VECTOR_DIR, 'wycheproof_hmac_sha256_test.json'), 'utf8')) as {
    testGroups: { tests: { tcId: number; key: string; msg: string; tag: string; result: string }[] }[];
  };

  const vectors: HmacVector[] = rfc.cases.map((c) => ({
    source: `RFC 4231 case ${c.case}`,
    key: fromHex(c.key),
    msg: fromHex(c.data),
    tag: fromHex(c.hmacSha256),
    valid: true,
  }));
  for (const group of wp.testGroups) {
    for (const t of group.tests) {
      vectors.push({
        source: `Wycheproof tcId ${t.tcId}`,
        key: fromHex(t.key),
        msg: fromHex(t.msg),
        tag: fromHex(t.tag),
        valid: t.result === 'valid',
      });
    }
  }
  return vectors;
}

/** Run every vector on `kernel`, 16 at a time (one per keystore slot), resetting in between. */
export async function runVectors(kernel: AttestationKernel, device = 1): Promise<VectorReport> {
  const vectors = loadVectors();
  const report: VectorReport = { cases: vectors.length, valid: 0, invalid: 0, truncated: 0, failures: [] };
  for (let start = 0; start < vectors.length; start += N_SESSIONS) {
    await kernel.reset();
    await runChunk(kernel, device, vectors.slice(start, start + N_SESSIONS), report);
  }
  return report;
}

async function runChunk(
  kernel: AttestationKernel,
  device: number,
  chunk: HmacVector[],
  report: VectorReport,
): Promise<void> {
  const fail = (v: HmacVector, what: string): void => {
    report.failures.push(`${kernel.backend}: ${v.source}: ${what}`);
  };

  // Steps 1 and 2: reference check, then attest each message on its own session.
  const setup: KernelRequest[] = [{ op: 'set-id', device }];
  chunk.forEach((v, session) => setup.push({ op: 'load-key', session, key: v.key }));
  chunk.forEach((v, session) => setup.push({ op: 'attest', session, msg: v.msg }));
  const setupResults = await kernel.run(setup);

  const alphas = chunk.map((v, session) => {
    const truth = hmac(sha256, v.key, v.msg).subarray(0, v.tag.length);
    if ((toHex(truth) === toHex(v.tag)) !== v.valid) fail(v, 'reference HMAC disagrees with the vector');

    const loaded = setupResults[1 + session]!;
    const attested = setupResults[1 + chunk.length + session]!;
    if (loaded.status !== 'ok') fail(v, `load-key returned ${loaded.status}`);
    const expected = hmac(sha256, v.key, concat(encodeHeader(session, device, 0n), v.msg));
    if (attested.status !== 'ok' || toHex(attested.tag) !== toHex(expected)) {
      fail(v, `alpha ${toHex(attested.tag)} (${attested.status}), expected ${toHex(expected)}`);
    }
    return attested.tag;
  });

  // Step 3: the vector's tag, as an error pattern on alpha, then the true alpha.
  const checks: KernelRequest[] = [];
  chunk.forEach((v, session) => {
    const truth = hmac(sha256, v.key, v.msg);
    const presented = new Uint8Array(32);
    for (let i = 0; i < v.tag.length; i++) presented[i] = alphas[session]![i]! ^ v.tag[i]! ^ truth[i]!;
    const common = { session, device, counter: 0n, msg: v.msg };
    checks.push({ op: 'verify', ...common, tag: presented });
    checks.push({ op: 'verify', ...common, tag: alphas[session]! });
  });
  const results = await kernel.run(checks);

  chunk.forEach((v, session) => {
    const presented = results[2 * session]!;
    const genuine = results[2 * session + 1]!;
    const acceptable = v.valid && v.tag.length === 32;
    if (acceptable) {
      report.valid++;
      if (presented.status !== 'ok') fail(v, `valid tag rejected as ${presented.status}`);
      if (genuine.status !== 'replayed') fail(v, `second delivery returned ${genuine.status}, expected replayed`);
    } else {
      if (v.valid) report.truncated++;
      else report.invalid++;
      if (presented.status !== 'bad-tag') fail(v, `invalid tag returned ${presented.status}, expected bad-tag`);
      if (genuine.status !== 'ok') fail(v, `true alpha after a rejection returned ${genuine.status}, expected ok`);
    }
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The software attest path, as a CPU-only baseline (the SSL-lib design):
 * attestations per second on one core, HMAC-SHA256(key, header || msg)
 * with the 16-byte header, for each implementation and message size.
 *
 * Time is the process's CPU time (process.cpuUsage, user + system), not
 * wall-clock time, so that other processes on a shared machine slow the
 * figures less. It includes every thread of the process, so the garbage
 * collector's and the compilers' background work counts against the
 * implementation that causes it. The implementations take turns in short
 * slices within one run, so a change in the machine's load affects all of
 * them alike, and each is also given as a ratio to node:crypto.
 */

import { createHmac } from 'node:crypto';

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

import type { KernelRequest } from '../sim/kernel_port.ts';
import { SoftwareAttestationCore } from '../stack/baselines/software_core.ts';
import { MultiBufferHmacSha256 } from '../stack/hmac_multi_buffer.ts';
import { PrecomputedHmacSha256 } from '../stack/software_hmac.ts';

export interface SoftwarePoint {
  implementation: string;
  bytes: number;
  attestsPerSecond: number;
  /** attestsPerSecond over that of node:crypto for the same size, from the same run. */
  ratioToNodeCrypto?: number;
  /** Clock of attestsPerSecond: process CPU time, or wall-clock time in results written before it was recorded. */
  clock?: 'cpu';
}

/** Messages per call of the multi-buffer path. */
export const MULTI_BUFFER_BATCH = 256;

export const IMPLEMENTATIONS = {
  nodeCrypto: 'node:crypto createHmac (key schedule per message)',
  noble: '@noble/hashes, precomputed HMAC state cloned per message',
  scalar: 'toolkit scalar JavaScript, PrecomputedHmacSha256.macHeader (states from key load, header in place)',
  single: 'toolkit scalar WebAssembly, one message per MultiBufferHmacSha256.add and finish',
  multiBuffer: `toolkit multi-buffer, WebAssembly SIMD, 4 messages per pass (batches of ${MULTI_BUFFER_BATCH})`,
  device: `ssl-lib device core, ${MULTI_BUFFER_BATCH} ATTEST commands per SoftwareAttestationCore.stepAll (multi-buffer)`,
} as const;

/** One turn of an implementation: attest some messages, return how many. */
type Turn = () => number;

const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** Run `turn` until `seconds` of CPU time have passed; returns attestations and CPU seconds. */
function runFor(turn: Turn, seconds: number): { count: number; cpu: number } {
  const start = cpuSeconds();
  let count = 0;
  let now = start;
  while (now - start < seconds) {
    count += turn();
    now = cpuSeconds();
  }
  return { count, cpu: now - start };
}

/** The turns of every implementation for `bytes`-byte messages under one session key. */
function turnsFor(bytes: number): Record<keyof typeof IMPLEMENTATIONS, Turn> {
  const key = new Uint8Array(32).fill(0x42);
  const session = 1;
  const device = 7;
  const msg = new Uint8Array(bytes).fill(0xa5);

  // node:crypto and @noble/hashes hash header || msg as bytes, with the counter's low word
  // rewritten per message; the toolkit paths write the header themselves.
  const data = new Uint8Array(16 + bytes);
  data.set(msg, 16);
  const view = new DataView(data.buffer);
  view.setUint32(0, session);
  view.setUint32(4, device);
  const nobleBase = hmac.create(sha256, key);
  const scalar = new PrecomputedHmacSha256(key);
  const multi = new MultiBufferHmacSha256(1, MULTI_BUFFER_BATCH);
  multi.setKey(0, key);
  const msgs = new Array<Uint8Array>(MULTI_BUFFER_BATCH).fill(msg);
  const tags = new Uint8Array(32 * MULTI_BUFFER_BATCH);

  const core = new SoftwareAttestationCore();
  core.stepAll([
    { op: 'set-id', device },
    { op: 'load-key', session, key },
  ]);
  const commands: KernelRequest[] = new Array(MULTI_BUFFER_BATCH).fill({ op: 'attest', session, msg });

  let counter = 0;
  const perTurn = 32;
  return {
    nodeCrypto: () => {
      for (let i = 0; i < perTurn; i++) {
        view.setUint32(12, counter++);
        createHmac('sha256', key).update(data).digest();
      }
      return perTurn;
    },
    noble: () => {
      for (let i = 0; i < perTurn; i++) {
        view.setUint32(12, counter++);
        nobleBase.clone().update(data).digest();
      }
      return perTurn;
    },
    scalar: () => {
      for (let i = 0; i < perTurn; i++) scalar.macHeader(session, device, 0, counter++, msg, tags, 0);
      return perTurn;
    },
    single: () => {
      for (let i = 0; i < perTurn; i++) {
        multi.add(0, session, device, 0, counter++ >>> 0, msg);
        multi.finish(tags);
      }
      return perTurn;
    },
    multiBuffer: () => {
      multi.macConsecutive(0, session, device, BigInt(counter), msgs, tags);
      counter += MULTI_BUFFER_BATCH;
      return MULTI_BUFFER_BATCH;
    },
    device: () => {
      core.stepAll(commands);
      return MULTI_BUFFER_BATCH;
    },
  };
}

/**
 * Measure every implementation for each size with about `seconds` of CPU
 * time each, in `rounds` interleaved turns after a warm-up, and return
 * attestations per CPU-second.
 */
export function runSoftwareBench(sizes = [64, 256, 1024, 4096], seconds = 0.5, rounds = 10): SoftwarePoint[] {
  const points: SoftwarePoint[] = [];
  for (const bytes of sizes) {
    const turns = turnsFor(bytes);
    const names = Object.keys(IMPLEMENTATIONS) as (keyof typeof IMPLEMENTATIONS)[];
    // Warm-up, so the JIT and the WebAssembly tier-up are done before timing.
    for (const name of names) runFor(turns[name], Math.min(0.1, seconds / 4));

    const totals = new Map(names.map((name) => [name, { count: 0, cpu: 0 }]));
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const { count, cpu } = runFor(turns[name], seconds / rounds);
        const total = totals.get(name)!;
        total.count += count;
        total.cpu += cpu;
      }
    }

    const rate = (name: keyof typeof IMPLEMENTATIONS): number => totals.get(name)!.count / totals.get(name)!.cpu;
    for (const name of names) {
      points.push({
        implementation: IMPLEMENTATIONS[name],
        bytes,
        attestsPerSecond: rate(name),
        ratioToNodeCrypto: rate(name) / rate('nodeCrypto'),
        clock: 'cpu',
      });
    }
  }
  return points;
}

/**
 * The software attest path, as a CPU-only baseline (the SSL-lib design):
 * attestations per second on one core for header || msg, with the HMAC key
 * schedule done once per session and reused across messages where the
 * library allows it. Wall-clock figures for the machine that runs it.
 */

import { createHmac } from 'node:crypto';

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

import { encodeHeader } from '../sim/tnic_kernel.ts';
import { PrecomputedHmacSha256 } from '../stack/software_hmac.ts';

export interface SoftwarePoint {
  implementation: string;
  bytes: number;
  attestsPerSecond: number;
}

/** Run `op` repeatedly for about `seconds`; return operations per second. */
function measure(op: (counter: bigint) => void, seconds: number): number {
  let n = 0;
  let counter = 0n;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    // Check the clock once per 256 operations so the check costs little.
    for (let i = 0; i < 256; i++) op(counter++);
    n += 256;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

export function runSoftwareBench(sizes = [64, 256, 1024, 4096], seconds = 0.5): SoftwarePoint[] {
  const key = new Uint8Array(32).fill(0x42);
  const session = 1;
  const device = 7;
  const points: SoftwarePoint[] = [];

  const fast = new PrecomputedHmacSha256(key);
  const nobleBase = hmac.create(sha256, key);

  for (const bytes of sizes) {
    const msg = new Uint8Array(bytes).fill(0xa5);
    const data = new Uint8Array(16 + bytes);
    data.set(msg, 16);
    const view = new DataView(data.buffer);
    view.setUint32(0, session);
    view.setUint32(4, device);

    const implementations: [string, (counter: bigint) => void][] = [
      ['node:crypto createHmac (key schedule per message)', (c) => {
        createHmac('sha256', key).update(encodeHeader(session, device, c)).update(msg).digest();
      }],
      ['@noble/hashes, precomputed HMAC state cloned per message', (c) => {
        view.setBigUint64(8, c);
        nobleBase.clone().update(data).digest();
      }],
      ['toolkit PrecomputedHmacSha256 (states from key load, no key blocks)', (c) => {
        view.setBigUint64(8, c);
        fast.mac(data);
      }],
    ];
    for (const [implementation, op] of implementations) {
      points.push({ implementation, bytes, attestsPerSecond: measure(op, seconds) });
    }
  }
  return points;
}

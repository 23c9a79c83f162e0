/**
 * Fuzz the RoCE v2 decoder with 100,000 inputs (fast-check): random byte
 * strings, and valid frames with bytes changed and the tail cut. Every
 * input must come back as a packet or a rejection with a reason; a throw
 * fails the run. Run: npx tsx bench/fuzz_roce_codec.ts [--seed N] [--runs N]
 */

import fc from 'fast-check';

import { decodeRoce, encodeRoce, OPCODE, type RocePacket } from '../sim/nic/roce_codec.ts';
import { randomSeed } from '../sim/prng.ts';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`${name} '${process.argv[at + 1]}' is not a non-negative integer`);
    process.exit(2);
  }
  return value;
}

const seed = argument('--seed', randomSeed());
const runs = argument('--runs', 100_000);

function frame(opcode: number, payload: number, extra: Partial<RocePacket>): Uint8Array {
  return encodeRoce({
    ethernet: { dst: new Uint8Array(6), src: new Uint8Array(6) },
    ipv4: { src: 0x0a010001, dst: 0x0a010002, id: 0, ttl: 64, dscp: 0, ecn: 0 },
    udpSrcPort: 0xc000,
    bth: { opcode, solicited: false, migReq: true, pKey: 0xffff, fecn: false, becn: false, destQp: 0x11, ackReq: true, psn: 1 },
    payload: new Uint8Array(payload).fill(0x5a),
    ...extra,
  });
}

const reth = { va: 0n, rkey: 1, dmaLength: 100 };
const frames = [
  frame(OPCODE.RDMA_WRITE_ONLY, 100, { reth }),
  frame(OPCODE.RDMA_WRITE_FIRST, 1024, { reth }),
  frame(OPCODE.RDMA_WRITE_MIDDLE, 1024, {}),
  frame(OPCODE.SEND_ONLY_WITH_IMMEDIATE, 3, { immediate: 7 }),
  frame(OPCODE.ACKNOWLEDGE, 0, { aeth: { syndrome: 0x1f, msn: 1 } }),
];

const reasons = new Map<string, number>();
let accepted = 0;
function decodeCounted(bytes: Uint8Array): boolean {
  const r = decodeRoce(bytes);
  if (r.ok) {
    accepted++;
    return true;
  }
  const kind = r.reason.replace(/\b0x[0-9a-f]+\b|\b\d+\b/g, 'N');
  reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
  return r.reason.length > 0;
}

console.error(`fuzz: ${runs} random inputs and ${runs} mutated frames, seed ${seed}`);
const started = performance.now();
fc.assert(
  fc.property(fc.uint8Array({ minLength: 14, maxLength: 2048 }), (bytes) => decodeCounted(bytes)),
  { seed, numRuns: runs },
);
fc.assert(
  fc.property(
    fc.nat(frames.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }),
    fc.nat(64),
    (which, edits, cut) => {
      const f = frames[which]!.slice(0, Math.max(0, frames[which]!.length - cut));
      for (const [at, xor] of edits) if (f.length > 0) f[at % f.length]! ^= xor;
      return decodeCounted(f);
    },
  ),
  { seed, numRuns: runs },
);
const seconds = (performance.now() - started) / 1000;
console.log(`${2 * runs} inputs in ${seconds.toFixed(1)} s, no throw; ${accepted} decoded as packets (edits in unchecked fields)`);
for (const [kind, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`${String(n).padStart(8)}  ${kind}`);

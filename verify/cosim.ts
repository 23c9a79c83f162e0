/**
 * Transaction-level co-simulation: the same seeded stream of kernel
 * commands goes to the TypeScript model and to the Verilator RTL, and every
 * result field (status, tag, counter, cycles) must be equal. An independent
 * reference (@noble/hashes HMAC and plain counters) also predicts each
 * status and tag, so that model and RTL cannot agree on a wrong result.
 */

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

import { Prng } from '../sim/prng.ts';
import {
  N_SESSIONS,
  type AttestationKernel,
  type KernelRequest,
  type KernelResult,
  type KernelStatus,
} from '../sim/kernel_port.ts';
import { encodeHeader } from '../sim/tnic_kernel.ts';

export interface Expectation {
  status: KernelStatus;
  /** Expected alpha for ATTEST; other operations return a zero tag. */
  tag?: Uint8Array;
}

export interface Transaction {
  request: KernelRequest;
  expect: Expectation;
}

/** Sessions 0..LOADED_SESSIONS-1 get keys; the rest of the keystore stays empty. */
const LOADED_SESSIONS = N_SESSIONS - 3;

/** Message length: mostly short, some up to a 9,216-byte jumbo frame. */
function messageLength(rng: Prng): number {
  const r = rng.next();
  if (r < 0.7) return rng.int(0, 256);
  if (r < 0.95) return rng.int(257, 2048);
  return rng.int(2049, 9216);
}

/** Generate `count` transactions (after the key loads) with their expected outcomes. */
export function generateTransactions(seed: number, count: number): Transaction[] {
  const rng = new Prng(seed);
  const device = rng.nextU32();
  const keys: Uint8Array[] = [];
  const sendCnt: bigint[] = [];
  const recvCnt: bigint[] = [];
  const txs: Transaction[] = [{ request: { op: 'set-id', device }, expect: { status: 'ok' } }];

  for (let s = 0; s < LOADED_SESSIONS; s++) {
    keys.push(rng.bytes(rng.pick([0, 1, 16, 32, 63, 64, 65, 100, 128, 200])));
    sendCnt.push(0n);
    recvCnt.push(0n);
    txs.push({ request: { op: 'load-key', session: s, key: keys[s]! }, expect: { status: 'ok' } });
  }

  const mac = (s: number, dev: number, cnt: bigint, msg: Uint8Array, key = keys[s]!): Uint8Array => {
    const data = new Uint8Array(16 + msg.length);
    data.set(encodeHeader(s, dev, cnt));
    data.set(msg, 16);
    return hmac(sha256, key, data);
  };

  for (let i = 0; i < count; i++) {
    const r = rng.next();
    const msg = rng.bytes(messageLength(rng));

    if (r < 0.4) {
      const session = rng.next() < 0.9 ? rng.int(0, LOADED_SESSIONS - 1) : rng.int(LOADED_SESSIONS, 40);
      if (session >= LOADED_SESSIONS) {
        txs.push({ request: { op: 'attest', session, msg }, expect: { status: 'unknown-session' } });
        continue;
      }
      const tag = mac(session, device, sendCnt[session]!, msg);
      sendCnt[session]!++;
      txs.push({ request: { op: 'attest', session, msg }, expect: { status: 'ok', tag } });
    } else if (r < 0.97) {
      const op = r < 0.85 ? 'verify' : 'check';
      const session = rng.int(0, LOADED_SESSIONS - 1);
      const sender = rng.nextU32();
      const expected = recvCnt[session]!;
      let counter = expected;
      let status: KernelStatus = 'ok';
      let tag: Uint8Array;

      // Which fault, if any, this message carries.
      const fault = rng.pick(['none', 'none', 'none', 'flip', 'replay', 'gap', 'wrong-key', 'unknown']);
      if (fault === 'replay' && expected > 0n) {
        counter = BigInt(rng.int(0, Number(expected) - 1));
        status = op === 'verify' ? 'replayed' : 'ok';
      } else if (fault === 'gap') {
        counter = expected + BigInt(rng.int(1, 5));
        status = op === 'verify' ? 'gap' : 'ok';
      }
      tag = mac(session, sender, counter, msg);
      if (fault === 'flip') {
        tag[rng.int(0, 31)]! ^= 1 << rng.int(0, 7);
        status = 'bad-tag';
      } else if (fault === 'wrong-key') {
        // Another session's key may be equal (two empty keys), so flip a key bit instead.
        const wrong = keys[session]!.length > 0 ? keys[session]!.slice() : new Uint8Array(1);
        wrong[0]! ^= 1;
        tag = mac(session, sender, counter, msg, wrong);
        status = 'bad-tag';
      }
      const target = fault === 'unknown' ? rng.int(LOADED_SESSIONS, 40) : session;
      if (fault === 'unknown') status = 'unknown-session';
      if (op === 'verify' && status === 'ok') recvCnt[session]!++;
      txs.push({
        request: { op, session: target, device: sender, counter, tag, msg },
        expect: { status },
      });
    } else {
      // A second key for a loaded session is rejected: keys are write-once.
      const session = rng.int(0, LOADED_SESSIONS - 1);
      txs.push({ request: { op: 'load-key', session, key: rng.bytes(32) }, expect: { status: 'rejected' } });
    }
  }
  return txs;
}

export interface Mismatch {
  index: number;
  field: string;
  left: string;
  right: string;
  leftName: string;
  rightName: string;
  request: string;
}

export interface CosimReport {
  seed: number;
  transactions: number;
  mismatch?: Mismatch;
  /** Cycles of ATTEST by message length, as measured on the backends. */
  attestCycles: Map<number, number>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Short description of a request for mismatch reports; never includes a key. */
export function describeRequest(req: KernelRequest): string {
  switch (req.op) {
    case 'load-key':
      return `load-key session ${req.session} (${req.key.length}-byte key)`;
    case 'set-id':
      return `set-id ${req.device}`;
    case 'lock':
      return 'lock';
    case 'attest':
      return `attest session ${req.session} (${req.msg.length}-byte msg)`;
    default:
      return `${req.op} session ${req.session} device ${req.device} counter ${req.counter} (${req.msg.length}-byte msg)`;
  }
}

function compare(
  index: number,
  req: KernelRequest,
  a: KernelResult,
  b: KernelResult,
  names: [string, string],
  compareCycles: boolean,
): Mismatch | undefined {
  const fields: [string, string, string][] = [
    ['status', a.status, b.status],
    ['tag', hex(a.tag), hex(b.tag)],
    ['counter', String(a.counter), String(b.counter)],
  ];
  if (compareCycles) fields.push(['cycles', String(a.cycles), String(b.cycles)]);
  for (const [field, left, right] of fields) {
    if (left !== right) {
      return { index, field, left, right, leftName: names[0], rightName: names[1], request: describeRequest(req) };
    }
  }
  return undefined;
}

function checkExpectation(index: number, tx: Transaction, got: KernelResult): Mismatch | undefined {
  const base = { index, leftName: 'reference', rightName: 'kernel', request: describeRequest(tx.request) };
  if (got.status !== tx.expect.status) {
    return { ...base, field: 'status', left: tx.expect.status, right: got.status };
  }
  if (tx.expect.tag && hex(tx.expect.tag) !== hex(got.tag)) {
    return { ...base, field: 'tag', left: hex(tx.expect.tag), right: hex(got.tag) };
  }
  return undefined;
}

export interface CosimOptions {
  seed: number;
  count: number;
  batch?: number;
  /** Compare cycle counts too (default). Off when one side has input stalls. */
  compareCycles?: boolean;
  /** Called after each batch with the transactions done so far. */
  progress?: (done: number, total: number) => void;
}

/** Run the seeded stream through both kernels (both reset first) and stop at the first mismatch. */
export async function cosimulate(
  left: AttestationKernel,
  right: AttestationKernel,
  options: CosimOptions,
): Promise<CosimReport> {
  const txs = generateTransactions(options.seed, options.count);
  const batch = options.batch ?? 500;
  const names: [string, string] = [left.backend, right.backend];
  const report: CosimReport = { seed: options.seed, transactions: txs.length, attestCycles: new Map() };
  await Promise.all([left.reset(), right.reset()]);

  for (let start = 0; start < txs.length; start += batch) {
    const slice = txs.slice(start, start + batch);
    const requests = slice.map((t) => t.request);
    const [a, b] = await Promise.all([left.run(requests), right.run(requests)]);
    for (let i = 0; i < slice.length; i++) {
      const index = start + i;
      const mismatch =
        compare(index, requests[i]!, a[i]!, b[i]!, names, options.compareCycles ?? true) ?? checkExpectation(index, slice[i]!, a[i]!);
      if (mismatch) {
        report.mismatch = mismatch;
        return report;
      }
      const req = requests[i]!;
      if (req.op === 'attest' && a[i]!.status === 'ok') report.attestCycles.set(req.msg.length, a[i]!.cycles);
    }
    options.progress?.(Math.min(start + batch, txs.length), txs.length);
  }
  return report;
}

/** Format a mismatch as one line naming the transaction, field, both values and the seed to replay. */
export function formatMismatch(m: Mismatch, seed: number): string {
  return (
    `transaction ${m.index} (${m.request}): ${m.field} differs: ` +
    `${m.leftName}=${m.left} ${m.rightName}=${m.right}; replay with --seed ${seed}`
  );
}

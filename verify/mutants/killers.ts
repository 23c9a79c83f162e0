/**
 * The checks that must kill every mutant. Each runs on a subject kernel
 * (mutated, or unmutated for the baseline) and reports whether it found a
 * mismatch or a failure.
 *
 * - cosim: seeded random transactions. Every result field (status, tag,
 *   counter, cycles) is compared with an unmutated kernel, and status and
 *   tag with an independent HMAC reference.
 * - vectors: the RFC 4231 and Wycheproof HMAC vectors, run as attestations.
 * - lock: LOAD_KEY and SET_ID after LOCK must be rejected.
 */

import type { AttestationKernel, KernelRequest, KernelStatus } from '../../sim/kernel_port.ts';
import { cosimulate, type Mismatch } from '../cosim.ts';
import { runVectors } from '../vectors.ts';

export const CHECK_NAMES = ['cosim', 'vectors', 'lock'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface CheckOutcome {
  check: CheckName;
  /** True when the check found a mismatch or a failure. */
  failed: boolean;
  /** One line: what differed, or what passed. */
  detail: string;
  seconds: number;
}

/** Shorten hex tags in reports to their first 16 digits. */
function short(value: string): string {
  return value.length > 24 ? `${value.slice(0, 16)}...` : value;
}

function describeMismatch(m: Mismatch): string {
  const where = `transaction ${m.index} (${m.request})`;
  // cosimulate names the independent reference 'reference' against 'kernel'.
  if (m.rightName === 'kernel') {
    return `${where}: ${m.field} ${short(m.right)}, HMAC reference expects ${short(m.left)}`;
  }
  return `${where}: ${m.field} ${short(m.left)}, unmutated ${m.rightName} returns ${short(m.right)}`;
}

async function timed(check: CheckName, body: () => Promise<Omit<CheckOutcome, 'check' | 'seconds'>>): Promise<CheckOutcome> {
  const started = performance.now();
  const outcome = await body();
  return { check, ...outcome, seconds: (performance.now() - started) / 1000 };
}

export interface CosimCheckOptions {
  seed: number;
  /** Random transactions after the key loads. */
  count: number;
}

/** Run the seeded stream through `subject` and the unmutated `reference`, comparing cycles too. */
export function cosimCheck(
  subject: AttestationKernel,
  reference: AttestationKernel,
  options: CosimCheckOptions,
): Promise<CheckOutcome> {
  return timed('cosim', async () => {
    const report = await cosimulate(subject, reference, { seed: options.seed, count: options.count, compareCycles: true });
    if (report.mismatch) return { failed: true, detail: describeMismatch(report.mismatch) };
    return { failed: false, detail: `${report.transactions} transactions equal (seed ${options.seed})` };
  });
}

/** Run every HMAC vector on `subject`. */
export function vectorsCheck(subject: AttestationKernel): Promise<CheckOutcome> {
  return timed('vectors', async () => {
    const report = await runVectors(subject);
    if (report.failures.length > 0) {
      return {
        failed: true,
        detail: `${report.failures.length} failures in ${report.cases} vectors; first: ${report.failures[0]}`,
      };
    }
    return { failed: false, detail: `${report.cases} vectors passed` };
  });
}

const LOCK_KEY = new Uint8Array(32).fill(0x5a);

/** Provisioning after LOCK, with the status each step must return. */
const LOCK_SEQUENCE: { request: KernelRequest; expect: KernelStatus; what: string }[] = [
  { request: { op: 'set-id', device: 7 }, expect: 'ok', what: 'set-id before lock' },
  { request: { op: 'load-key', session: 0, key: LOCK_KEY }, expect: 'ok', what: 'load-key before lock' },
  { request: { op: 'lock' }, expect: 'ok', what: 'lock' },
  { request: { op: 'load-key', session: 1, key: LOCK_KEY }, expect: 'rejected', what: 'load-key after lock' },
  { request: { op: 'set-id', device: 8 }, expect: 'rejected', what: 'set-id after lock' },
  { request: { op: 'attest', session: 1, msg: new Uint8Array(4) }, expect: 'unknown-session', what: 'attest on the session refused a key' },
  { request: { op: 'attest', session: 0, msg: new Uint8Array(4) }, expect: 'ok', what: 'attest on the key loaded before lock' },
];

/** Reset `subject`, lock it, then try to provision it: every step must return its expected status. */
export function lockCheck(subject: AttestationKernel): Promise<CheckOutcome> {
  return timed('lock', async () => {
    await subject.reset();
    const results = await subject.run(LOCK_SEQUENCE.map((s) => s.request));
    for (const [i, step] of LOCK_SEQUENCE.entries()) {
      const status = results[i]!.status;
      if (status !== step.expect) {
        return { failed: true, detail: `${step.what} returned ${status}, expected ${step.expect}` };
      }
    }
    return { failed: false, detail: `${LOCK_SEQUENCE.length} provisioning steps around lock as expected` };
  });
}

/**
 * A2M throughput run: on a fresh device, append N entries to one log, then
 * look up every index and check it with verifyLookup. Every entry is
 * counted as verified or failed, so verified + failed == entries.
 */

import { InputError } from '../../api/errors.ts';
import type { Backend } from '../../api/tnic_api.ts';
import { A2m } from './a2m.ts';

export interface A2mRunOptions {
  entries: number;
  backend: Backend;
  /** Receives start, progress and end lines. */
  log?: (line: string) => void;
  /** Test hook, called between the appends and the lookups, e.g. to tamper with host memory. */
  beforeLookups?: (a2m: A2m) => void;
}

export interface A2mRunResult {
  appendsPerSec: number;
  /** Lookups per second, each followed by verifyLookup. */
  lookupsPerSec: number;
  verified: number;
  failed: number;
  entries: number;
  backend: Backend;
}

const LOG_ID = 0;
const CTX_BYTES = 64;
/**
 * Device requests in flight at once. The device takes requests in call
 * order, and the RTL backend returns the results of a batch in one pipe
 * round trip.
 */
const WINDOW = 64;
const PROGRESS_INTERVAL_MS = 2000;
/** Failed entries whose reason is logged; the rest are only counted. */
const FAILURES_LOGGED = 5;

/** Build the context of entry i: its index as u64, then the low byte of i repeated. */
function entryContext(i: number): Uint8Array {
  const ctx = new Uint8Array(CTX_BYTES).fill(i & 0xff);
  new DataView(ctx.buffer).setBigUint64(0, BigInt(i));
  return ctx;
}

export async function runA2m(options: A2mRunOptions): Promise<A2mRunResult> {
  const { entries, backend } = options;
  if (!Number.isSafeInteger(entries) || entries < 1) {
    throw new InputError(`entries ${entries} must be a whole number of 1 or more`);
  }
  const log = options.log ?? ((): void => {});

  log(`a2m: ${entries} entries of ${CTX_BYTES} bytes on the ${backend} backend`);
  const a2m = await A2m.open({ backend, logs: 1 });
  try {
    const appendSeconds = await inWindows(entries, 'appended', log, async (i) => {
      await a2m.append(LOG_ID, entryContext(i));
    });

    options.beforeLookups?.(a2m);
    const head = a2m.head(LOG_ID);
    const tail = a2m.tail(LOG_ID);
    let verified = 0;
    let failed = 0;
    const lookupSeconds = await inWindows(entries, 'looked up and verified', log, async (i) => {
      const problem = await checkEntry(a2m, i, head, tail);
      if (problem === undefined) {
        verified++;
        return;
      }
      failed++;
      if (failed <= FAILURES_LOGGED) log(`a2m: ${problem}`);
    });

    log(`a2m: done, ${verified} verified, ${failed} failed`);
    return {
      appendsPerSec: entries / appendSeconds,
      lookupsPerSec: entries / lookupSeconds,
      verified,
      failed,
      entries,
      backend,
    };
  } finally {
    await a2m.close();
  }
}

/** Look up index i and verify it; returns why it failed, or undefined. */
async function checkEntry(a2m: A2m, i: number, head: number, tail: number): Promise<string | undefined> {
  const entry = a2m.lookup(LOG_ID, i);
  if (entry === undefined) return `entry ${i} is missing from host memory`;
  if (entry.index !== i) return `lookup of ${i} returned entry ${entry.index}`;

  const verdict = await a2m.verifyLookup(LOG_ID, entry, head, tail);
  return verdict.valid ? undefined : `entry ${i} failed verifyLookup (${verdict.reason}): ${verdict.detail}`;
}

/** Run `step` for 0..count-1, WINDOW at a time, logging progress; returns seconds taken. */
async function inWindows(
  count: number,
  phase: string,
  log: (line: string) => void,
  step: (i: number) => Promise<void>,
): Promise<number> {
  const started = performance.now();
  let lastLog = started;

  for (let start = 0; start < count; start += WINDOW) {
    const end = Math.min(start + WINDOW, count);
    const steps: Promise<void>[] = [];
    for (let i = start; i < end; i++) steps.push(step(i));
    await Promise.all(steps);

    const now = performance.now();
    if (now - lastLog >= PROGRESS_INTERVAL_MS && end < count) {
      log(`a2m: ${phase} ${end}/${count}`);
      lastLog = now;
    }
  }
  return Math.max(performance.now() - started, 1e-3) / 1000;
}

/**
 * Attested append-only memory (A2M) on the TNIC API. Each log has its own
 * session, so the session's send counter numbers the log's entries: the
 * attestation of entry i carries counter i. Entries live in untrusted host
 * memory (`host`), and verifyLookup trusts only the device's tag check.
 *
 * A truncation appends a "trnc" entry to the log and then appends that
 * entry's wire bytes to the manifest log. A verifier reads the manifest to
 * find each log's attested live boundary.
 */

import { randomBytes } from 'node:crypto';

import { InputError, TnicError } from '../../api/errors.ts';
import { ATTESTED_OVERHEAD, MAX_SESSIONS, Tnic, decodeAttested, type Backend } from '../../api/tnic_api.ts';
import {
  checkAttested,
  concatBytes,
  rejectLookup,
  type HostLog,
  type LogEntry,
  type LookupVerdict,
} from './log_entry.ts';
import { MANIFEST_SESSION, ManifestReader, sessionOfLog } from './manifest.ts';
import { encodeTruncation } from './truncation_record.ts';

export type { HostLog, LogEntry, LookupFailure, LookupRejection, LookupVerdict } from './log_entry.ts';
export { MANIFEST_SESSION };

/** Log ids are 0..MAX_LOGS-1, because the manifest takes one of the device's sessions. */
export const MAX_LOGS = MAX_SESSIONS - 1;

const KEY_BYTES = 32;

export interface A2mOptions {
  backend: Backend;
  /** Logs to create (default 1, at most MAX_LOGS). */
  logs?: number;
  deviceId?: number;
}

export class A2m {
  /** Untrusted host memory: the logs and the manifest. Tests may change it freely. */
  readonly host: { logs: HostLog[]; manifest: HostLog };

  #manifest: ManifestReader;

  private constructor(
    readonly tnic: Tnic,
    readonly logCount: number,
  ) {
    this.host = {
      logs: Array.from({ length: logCount }, () => ({ tail: 0, entries: [] })),
      manifest: { tail: 0, entries: [] },
    };
    this.#manifest = new ManifestReader(tnic, logCount);
  }

  /**
   * Open a fresh device with one random key per log and for the manifest,
   * then lock it. The keys exist only inside the device afterwards.
   */
  static async open(options: A2mOptions): Promise<A2m> {
    const logs = options.logs ?? 1;
    if (!Number.isInteger(logs) || logs < 1 || logs > MAX_LOGS) {
      throw new InputError(`logs ${logs} is out of range; use 1..${MAX_LOGS}, one session per log`);
    }

    const tnic = await Tnic.open(options.backend, options.deviceId ?? 1);
    try {
      for (let session = 0; session <= logs; session++) {
        const key = randomBytes(KEY_BYTES);
        await tnic.provision(session, key);
        key.fill(0);
      }
      await tnic.lock();
    } catch (err) {
      await tnic.close();
      throw err;
    }
    return new A2m(tnic, logs);
  }

  async close(): Promise<void> {
    await this.tnic.close();
  }

  /** Index the next append takes, as host memory reports it. */
  head(logId: number): number {
    const log = this.#hostLog(logId);
    return log.tail + log.entries.length;
  }

  /** First index still in host memory. */
  tail(logId: number): number {
    return this.#hostLog(logId).tail;
  }

  /**
   * Attest `ctx` as the next entry of the log and store it in host memory.
   * Appends to one log may run concurrently: each entry goes to the slot of
   * its attested counter.
   */
  async append(logId: number, ctx: Uint8Array): Promise<LogEntry> {
    return this.#appendTo(sessionOfLog(this.#checkLogId(logId)), this.#hostLog(logId), ctx);
  }

  /** Plain read of host memory; undefined when the index is not stored. */
  lookup(logId: number, index: number): LogEntry | undefined {
    const log = this.#hostLog(logId);
    return index >= log.tail ? log.entries[index - log.tail] : undefined;
  }

  /**
   * Check an entry from lookup against bounds the caller trusts: tail <=
   * index < head, index at or above the log's attested truncation point,
   * attested on the log's session by this device with counter == index, and
   * a valid tag. The tag check leaves counters alone, so entries can be
   * checked in any order. The caller also checks that `entry.index` is the
   * index it looked up.
   */
  async verifyLookup(logId: number, entry: LogEntry, head: number, tail: number): Promise<LookupVerdict> {
    this.#checkLogId(logId);
    if (!Number.isSafeInteger(tail) || !Number.isSafeInteger(head) || tail < 0 || head < tail) {
      throw new InputError(`bounds tail ${tail} and head ${head} must be integers with 0 <= tail <= head`);
    }

    const i = entry.index;
    if (!Number.isSafeInteger(i) || i < tail || i >= head) {
      return rejectLookup('out-of-range', `entry ${i} of log ${logId} is outside ${tail}..${head - 1}`);
    }

    const manifestFailure = await this.#manifest.scan(this.host.manifest);
    if (manifestFailure) return manifestFailure;
    const z = this.#manifest.liveTail(logId);
    if (i < z) {
      return rejectLookup('truncated', `entry ${i} of log ${logId} is below its truncation point ${z}`);
    }

    const checked = await checkAttested(this.tnic, sessionOfLog(logId), entry);
    return 'reason' in checked ? checked : { valid: true };
  }

  /**
   * Drop the entries below `z`. Appends a "trnc" entry at index `headBefore`
   * and records it in the manifest, so verifyLookup rejects the dropped
   * entries as truncated. `headBefore` must be the log's current head, and
   * no append to the log may run at the same time.
   */
  async truncate(logId: number, headBefore: number, z: number): Promise<LogEntry> {
    const log = this.#hostLog(logId);
    const head = this.head(logId);
    if (headBefore !== head) {
      throw new InputError(`head ${headBefore} is not log ${logId}'s head ${head}; read head() and retry`);
    }
    if (!Number.isSafeInteger(z) || z < log.tail || z > head) {
      throw new InputError(`truncation point ${z} is outside log ${logId}'s live range ${log.tail}..${head}`);
    }

    const entry = await this.append(logId, encodeTruncation({ logId, z, head }));
    if (entry.index !== head) {
      throw new TnicError(
        'a2m-concurrent-append',
        `truncation entry of log ${logId} took index ${entry.index}, not head ${head}, ` +
          'because another append ran at the same time; truncate again from the new head',
      );
    }
    const wire = concatBytes(entry.attestation, entry.ctx);
    await this.#appendTo(MANIFEST_SESSION, this.host.manifest, wire);

    log.entries.splice(0, z - log.tail);
    log.tail = z;
    return entry;
  }

  async #appendTo(session: number, log: HostLog, ctx: Uint8Array): Promise<LogEntry> {
    const wire = await this.tnic.localSend(session, ctx);
    const index = Number(decodeAttested(wire).counter);
    const entry: LogEntry = {
      index,
      ctx: wire.slice(ATTESTED_OVERHEAD),
      attestation: wire.slice(0, ATTESTED_OVERHEAD),
    };
    log.entries[index - log.tail] = entry;
    return entry;
  }

  #checkLogId(logId: number): number {
    if (!Number.isInteger(logId) || logId < 0 || logId >= this.logCount) {
      throw new InputError(`log ${logId} does not exist; this A2M has logs 0..${this.logCount - 1}`);
    }
    return logId;
  }

  #hostLog(logId: number): HostLog {
    return this.host.logs[this.#checkLogId(logId)]!;
  }
}

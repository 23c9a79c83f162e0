/**
 * The verifier's view of the A2M manifest. Every manifest entry contains
 * the wire bytes of one truncation entry. The reader verifies both
 * attestations and the record, then raises that log's live tail.
 */

import { InputError } from '../../api/errors.ts';
import { ATTESTED_OVERHEAD, decodeAttested, type Tnic } from '../../api/tnic_api.ts';
import { checkAttested, rejectLookup, type HostLog, type LogEntry, type LookupRejection } from './log_entry.ts';
import { decodeTruncation } from './truncation_record.ts';

/** Session of the manifest log. Log id L uses session L + 1. */
export const MANIFEST_SESSION = 0;

export function sessionOfLog(logId: number): number {
  return logId + 1;
}

export class ManifestReader {
  // From manifest entries 0..#checked-1, all verified: the highest attested
  // truncation point of each log.
  #liveTail: number[];
  #checked = 0;

  constructor(
    private readonly tnic: Tnic,
    private readonly logCount: number,
  ) {
    this.#liveTail = new Array<number>(logCount).fill(0);
  }

  /** First live index of the log, as of the last scan. */
  liveTail(logId: number): number {
    return this.#liveTail[logId]!;
  }

  /**
   * Verify the manifest entries not yet checked and raise each log's live
   * tail. Returns the first failure, which repeats on every later scan.
   * Concurrent scans repeat work but agree, because a tail only grows.
   */
  async scan(manifest: HostLog): Promise<LookupRejection | undefined> {
    const head = manifest.tail + manifest.entries.length;

    for (let j = this.#checked; j < head; j++) {
      const entry = j >= manifest.tail ? manifest.entries[j - manifest.tail] : undefined;
      if (entry === undefined) {
        return rejectLookup('manifest-invalid', `manifest entry ${j} is missing from host memory`);
      }
      const problem = await this.#apply(entry);
      if (problem !== undefined) {
        return rejectLookup('manifest-invalid', `manifest entry ${j}: ${problem}`);
      }
      this.#checked = Math.max(this.#checked, j + 1);
    }
    // NOTE: a host that hides the newest manifest entries before the first
    // scan keeps their truncations invisible. Hiding them after a scan has
    // no effect, because the reader keeps what it verified.
    return undefined;
  }

  /** Verify one manifest entry and the truncation entry inside it; returns the problem, if any. */
  async #apply(entry: LogEntry): Promise<string | undefined> {
    const outer = await checkAttested(this.tnic, MANIFEST_SESSION, entry);
    if ('reason' in outer) return outer.detail;

    if (entry.ctx.length < ATTESTED_OVERHEAD) {
      return `its ${entry.ctx.length} bytes are too short for an attested truncation entry`;
    }
    const inner = decodeAttested(entry.ctx);
    const logId = inner.session - 1;
    if (inner.session === MANIFEST_SESSION || logId >= this.logCount) {
      return `it records session ${inner.session}, which belongs to no log of this A2M`;
    }
    const truncationEntry = {
      index: Number(inner.counter),
      ctx: inner.msg,
      attestation: entry.ctx.slice(0, ATTESTED_OVERHEAD),
    };
    const checked = await checkAttested(this.tnic, inner.session, truncationEntry);
    if ('reason' in checked) return `its truncation entry: ${checked.detail}`;

    let record;
    try {
      record = decodeTruncation(inner.msg);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return err.message;
    }
    if (record.logId !== logId || BigInt(record.head) !== inner.counter || record.z > record.head) {
      return (
        `truncation record (log ${record.logId}, z ${record.z}, head ${record.head}) ` +
        `does not match its entry ${inner.counter} of log ${logId}`
      );
    }

    this.#liveTail[logId] = Math.max(this.#liveTail[logId]!, record.z);
    return undefined;
  }
}

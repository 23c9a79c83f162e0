/**
 * A2M log entries as the untrusted host stores them, and the check that an
 * entry is the one the device attested. The wire bytes of an entry are
 * `attestation || ctx`, so the device can check the tag again at any time.
 */

import {
  ATTESTED_OVERHEAD,
  decodeAttested,
  type AttestedMessage,
  type Tnic,
} from '../../api/tnic_api.ts';

/** An entry as stored in host memory. */
export interface LogEntry {
  /** Position in the log, as the host reports it. */
  index: number;
  ctx: Uint8Array;
  /** alpha || header from localSend, ATTESTED_OVERHEAD bytes. */
  attestation: Uint8Array;
}

/** One log in host memory. Invariant: `entries[k]` is the entry at index `tail + k`. */
export interface HostLog {
  tail: number;
  entries: LogEntry[];
}

export type LookupFailure =
  | 'out-of-range' // index outside the [tail, head) the caller gave
  | 'truncated' // index below the log's attested truncation point
  | 'malformed'
  | 'wrong-session' // attested on another log's session
  | 'wrong-device'
  | 'index-mismatch' // the attested counter is not the entry's index
  | 'bad-tag'
  | 'manifest-invalid'; // the manifest in host memory failed verification

export interface LookupRejection {
  valid: false;
  reason: LookupFailure;
  detail: string;
}

export type LookupVerdict = { valid: true } | LookupRejection;

export function rejectLookup(reason: LookupFailure, detail: string): LookupRejection {
  return { valid: false, reason, detail };
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Check that `entry` was attested by the device of `tnic` on `session`
 * with counter == index, and that its tag is valid. Returns the parsed
 * message, or the rejection. The tag check reads and changes no counter.
 */
export async function checkAttested(
  tnic: Tnic,
  session: number,
  entry: LogEntry,
): Promise<AttestedMessage | LookupRejection> {
  const where = `entry ${entry.index} on session ${session}`;
  if (entry.attestation.length !== ATTESTED_OVERHEAD) {
    const length = entry.attestation.length;
    return rejectLookup('malformed', `${where} has an attestation of ${length} bytes, not ${ATTESTED_OVERHEAD}`);
  }

  const wire = concatBytes(entry.attestation, entry.ctx);
  const m = decodeAttested(wire);
  if (m.session !== session) {
    return rejectLookup('wrong-session', `${where} is attested on session ${m.session}`);
  }
  if (m.device !== tnic.deviceId) {
    return rejectLookup('wrong-device', `${where} is attested by device ${m.device}, not ${tnic.deviceId}`);
  }
  if (m.counter !== BigInt(entry.index)) {
    return rejectLookup('index-mismatch', `${where} carries attested counter ${m.counter}`);
  }

  const result = await tnic.checkForwarded(wire);
  if (!result.accepted) {
    const reason = result.reason === 'malformed' ? 'malformed' : 'bad-tag';
    return rejectLookup(reason, `${where}: ${result.detail}`);
  }
  return m;
}

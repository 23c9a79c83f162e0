/**
 * The audit of one node's log, shared by the witness and the offline
 * evidence checker so both reach the same verdict from the same bytes.
 *
 * Each exchange is the witness's attested request (from, nonce) and the
 * node's attested response with its log entries from `from` on. The caller
 * has authenticated both messages. The auditor checks, entry by entry and
 * continuing across exchanges:
 *
 *   1. hash chain: the response extends the hash of the last entry audited
 *      before, and every sent message commits to the chain value before it;
 *   2. attestation: each entry's header names the session and device of the
 *      logged peer, and its tag passes the tag checker;
 *   3. counters: per session and sender, the entries count 0, 1, 2 ... with
 *      no gap and no repeat, so no message the device attested or accepted
 *      is missing from the log;
 *   4. replay: the entries, in log order, are what the node's reference
 *      implementation sends given what it received.
 *
 * The first violation is the finding; the audit of that node ends there.
 */

import { InputError } from '../../api/errors.ts';
import { decodeAttested, type AttestedMessage } from '../../api/tnic_api.ts';
import { decodeJson } from '../replication/wire.ts';
import { GENESIS_HASH, entryHash } from './log.ts';
import {
  fromBase64,
  parseAuditRequest,
  parseAuditResponse,
  parseStreamMessage,
  toBase64,
  type AuditRequest,
  type EntryKind,
  type WireEntry,
} from './messages.ts';
import { createReference, type ReferenceNode } from './reference.ts';
import type { TagChecker } from './tag_checker.ts';
import { linkSession, nodeOf, type Topology } from './topology.ts';

export type FindingKind =
  | 'malformed' // a response or entry that does not parse, or a response to another request
  | 'attestation' // an entry whose tag fails or whose header names another session or device
  | 'counter' // a counter gap (entries left out) or a repeated counter
  | 'hash-chain' // a log that contradicts its own commitments or an earlier audit
  | 'output'; // entries that the reference implementation would not produce

/** A log entry as evidence shows it, decoded for a human reader. */
export interface EntrySummary {
  index: number;
  kind: EntryKind;
  peer: string;
  session: number;
  device: number;
  /** Decimal, because counters are 64-bit. */
  counter: string;
  /** The attested payload as UTF-8 text. */
  msg: string;
  /** base64 of the attested wire bytes. */
  wire: string;
}

export interface Finding {
  kind: FindingKind;
  /** The log index at which the check failed. */
  index: number;
  detail: string;
  /** The entries the finding rests on, e.g. the two entries around a counter gap. */
  entries: EntrySummary[];
}

export interface ExchangeResult {
  finding: Finding | undefined;
  /** True when the node reported more entries after this page. */
  more: boolean;
}

const textDecoder = new TextDecoder('utf-8');

function summarize(index: number, kind: EntryKind, peer: string, m: AttestedMessage, wire: Uint8Array): EntrySummary {
  return {
    index,
    kind,
    peer,
    session: m.session,
    device: m.device,
    counter: m.counter.toString(),
    msg: textDecoder.decode(m.msg),
    wire: toBase64(wire),
  };
}

export class LogAuditor {
  /** The next log index to audit; every entry before it passed. */
  next = 0;
  /** The witness's attested requests and the node's attested responses, in order. */
  readonly requests: Uint8Array[] = [];
  readonly responses: Uint8Array[] = [];
  #finding: Finding | undefined;
  /** Whether the last response announced more entries. */
  #more = false;
  #head: Uint8Array = GENESIS_HASH;
  #last: EntrySummary | undefined;
  #reference: ReferenceNode;
  /** Next counter per `session/device`, and the entry that carried the counter before it. */
  #counters = new Map<string, { next: bigint; last: EntrySummary }>();
  readonly #device: number;

  constructor(
    private readonly topology: Topology,
    readonly node: string,
    private readonly checker: TagChecker,
  ) {
    const role = nodeOf(topology, node).role;
    if (role === 'witness') throw new InputError(`'${node}' is the witness, which keeps no stream log`);
    this.#device = nodeOf(topology, node).device;
    this.#reference = createReference(topology, node);
  }

  get finding(): Finding | undefined {
    return this.#finding;
  }

  /**
   * Audit one exchange. Throws InputError when the request is not a valid
   * audit request for `next`: that is the witness's fault, not the node's.
   */
  async apply(requestWire: Uint8Array, responseWire: Uint8Array): Promise<ExchangeResult> {
    if (this.#finding !== undefined) throw new InputError(`the audit of ${this.node} already ended with a finding`);
    const request = parseAuditRequest(decodeJson(decodeAttested(requestWire).msg));
    if (request === undefined) throw new InputError(`request ${this.requests.length} is not a valid audit request`);
    if (request.from !== this.next) {
      throw new InputError(`request ${this.requests.length} asks from entry ${request.from}, not the next unaudited ${this.next}`);
    }
    this.requests.push(requestWire);
    this.responses.push(responseWire);

    const finding = await this.#audit(request, decodeAttested(responseWire).msg);
    this.#finding = finding;
    return { finding, more: finding === undefined && this.#more };
  }

  async #audit(request: AuditRequest, msg: Uint8Array): Promise<Finding | undefined> {
    const response = parseAuditResponse(decodeJson(msg));
    if (response === undefined) return this.#fail('malformed', this.next, 'the audit response does not parse', []);
    if (response.nonce !== request.nonce) {
      const detail = `the audit response carries nonce '${response.nonce}', not the request's '${request.nonce}'`;
      return this.#fail('malformed', this.next, detail, []);
    }
    if (response.more && response.entries.length === 0) {
      return this.#fail('malformed', this.next, 'the audit response announces more entries but carries none', []);
    }
    const before = this.#last === undefined ? [] : [this.#last];
    if (response.from < request.from) {
      const detail = `the log ends at entry ${response.from}, before the ${request.from} entries audited earlier`;
      return this.#fail('hash-chain', response.from, detail, before);
    }
    if (response.from > request.from) {
      const detail = `the audit response starts at entry ${response.from}, not at the requested ${request.from}`;
      return this.#fail('malformed', request.from, detail, before);
    }
    if (response.prevHash !== toBase64(this.#head)) {
      const detail =
        `the log now gives hash ${response.prevHash} before entry ${this.next}, ` +
        `but the entries audited earlier chain to ${toBase64(this.#head)}: the audited log was rewritten`;
      return this.#fail('hash-chain', this.next, detail, before);
    }

    for (const entry of response.entries) {
      const finding = await this.#auditEntry(this.next, entry);
      if (finding !== undefined) return finding;
    }
    this.#more = response.more;
    const owed = this.#reference.owed();
    if (!response.more && owed.length > 0) {
      const detail = `the log ends without ${owed.join(', ')}, which the reference sends`;
      return this.#fail('output', this.next, detail, before);
    }
    return undefined;
  }

  async #auditEntry(index: number, entry: WireEntry): Promise<Finding | undefined> {
    const wire = fromBase64(entry.wire)!;
    let m: AttestedMessage;
    try {
      m = decodeAttested(wire);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      return this.#fail('malformed', index, `entry ${index} is not an attested message: ${error.message}`, []);
    }
    const summary = summarize(index, entry.kind, entry.peer, m, wire);

    const session = linkSession(this.topology, this.node, entry.peer);
    if (session === undefined) {
      return this.#fail('malformed', index, `entry ${index} names '${entry.peer}', which shares no stream session`, [summary]);
    }
    const device = entry.kind === 'send' ? this.#device : nodeOf(this.topology, entry.peer).device;
    if (m.session !== session || m.device !== device) {
      const detail =
        `entry ${index} is logged as ${entry.kind} with ${entry.peer} but its header names session ` +
        `${m.session} and device ${m.device}, not session ${session} and device ${device}`;
      return this.#fail('attestation', index, detail, [summary]);
    }
    const tag = await this.checker.check(wire);
    if (tag !== 'ok') {
      const detail = `entry ${index} (counter ${m.counter} on session ${session}) fails the tag check: ${tag}`;
      return this.#fail('attestation', index, detail, [summary]);
    }

    const counterFinding = this.#checkCounter(index, m, summary);
    if (counterFinding !== undefined) return counterFinding;

    const message = parseStreamMessage(decodeJson(m.msg));
    if (entry.kind === 'send' && message !== undefined) {
      const commitment = { index, hash: toBase64(this.#head) };
      if (message.log.index !== commitment.index || message.log.hash !== commitment.hash) {
        const detail =
          `entry ${index} commits to index ${message.log.index} with hash ${message.log.hash}, ` +
          `but the log gives index ${commitment.index} with hash ${commitment.hash}`;
        return this.#fail('hash-chain', index, detail, [summary]);
      }
    }

    const content = message === undefined ? undefined : { t: message.t, seq: message.seq, data: message.data };
    const violation =
      entry.kind === 'send' ? this.#reference.send(entry.peer, content) : this.#reference.receive(entry.peer, content);
    if (violation !== undefined) return this.#fail('output', index, `entry ${index}: ${violation}`, [summary]);

    this.#head = entryHash(this.#head, index, entry.kind, entry.peer, wire);
    this.#last = summary;
    this.next = index + 1;
    return undefined;
  }

  #checkCounter(index: number, m: AttestedMessage, summary: EntrySummary): Finding | undefined {
    const key = `${m.session}/${m.device}`;
    const state = this.#counters.get(key);
    const expected = state?.next ?? 0n;
    const prior = state === undefined ? [] : [state.last];
    if (m.counter > expected) {
      const missing = m.counter - expected;
      const detail =
        `entry ${index} has counter ${m.counter} on session ${m.session} from device ${m.device}, ` +
        `but the log contains counters only up to ${expected - 1n}: ${missing} attested message(s) are left out`;
      return this.#fail('counter', index, detail, [...prior, summary]);
    }
    if (m.counter < expected) {
      const detail =
        `entry ${index} repeats counter ${m.counter} on session ${m.session} from device ${m.device}, ` +
        `which the log already holds (next expected ${expected})`;
      return this.#fail('counter', index, detail, [...prior, summary]);
    }
    this.#counters.set(key, { next: expected + 1n, last: summary });
    return undefined;
  }

  #fail(kind: FindingKind, index: number, detail: string, entries: EntrySummary[]): Finding {
    return { kind, index, detail: `${this.node}: ${detail}`, entries };
  }
}

/**
 * Evidence of a node's misbehaviour: a JSON document that any third party
 * can check offline. It contains every audit exchange between the witness
 * and the accused, from the first one on. Each exchange is the witness's
 * attested request and the accused's attested response, which carries log
 * entries with their own attested wire bytes. The checker authenticates all of them, then runs the
 * same audit as the witness and confirms that it ends in the stated finding.
 *
 * Authentication rests on the session keys, which only TNIC devices hold:
 * only the accused's device can attest a response under its device id on
 * its audit session. A checker that is given the raw keys could forge
 * messages itself, so it must be trusted by whoever relies on its verdict.
 */

import { InputError } from '../../api/errors.ts';
import { decodeAttested, type AttestedMessage } from '../../api/tnic_api.ts';
import { isRecord } from '../replication/wire.ts';
import { LogAuditor, type EntrySummary, type Finding } from './auditor.ts';
import { fromBase64, toBase64 } from './messages.ts';
import type { TagChecker } from './tag_checker.ts';
import { PEERREVIEW_TOPOLOGY, auditSession, nodeOf, type Topology } from './topology.ts';

export const EVIDENCE_FORMAT = 'tnic-peerreview-evidence/1';

export interface Evidence {
  format: typeof EVIDENCE_FORMAT;
  accused: string;
  witness: string;
  finding: Finding;
  topology: Topology;
  /** base64 of the witness's attested audit requests to the accused, counters 0, 1, 2 ... */
  requests: string[];
  /** base64 of the accused's attested audit responses, one per request. */
  responses: string[];
}

export interface EvidenceVerdict {
  confirmed: boolean;
  /** The confirmed finding, or why the evidence does not prove it. */
  detail: string;
}

/** Build the evidence of the finding that `auditor` ended with. */
export function buildEvidence(topology: Topology, auditor: LogAuditor): Evidence {
  const finding = auditor.finding;
  if (finding === undefined) throw new InputError(`the audit of ${auditor.node} has no finding to prove`);
  return {
    format: EVIDENCE_FORMAT,
    accused: auditor.node,
    witness: topology.witness,
    finding,
    topology,
    requests: auditor.requests.map(toBase64),
    responses: auditor.responses.map(toBase64),
  };
}

/**
 * Check evidence offline. `document` is the parsed JSON, and `checker`
 * checks tags with the session keys or on a device provisioned with them.
 * `topology` is the deployment as the checker has it from its own source;
 * evidence that names another topology is rejected.
 */
export async function checkEvidence(
  document: unknown,
  checker: TagChecker,
  topology: Topology = PEERREVIEW_TOPOLOGY,
): Promise<EvidenceVerdict> {
  try {
    return await check(document, checker, topology);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return reject(error.message);
  }
}

function reject(detail: string): EvidenceVerdict {
  return { confirmed: false, detail };
}

async function check(document: unknown, checker: TagChecker, topology: Topology): Promise<EvidenceVerdict> {
  if (!isRecord(document) || document.format !== EVIDENCE_FORMAT) {
    return reject(`the document is not evidence in format ${EVIDENCE_FORMAT}`);
  }
  if (JSON.stringify(document.topology) !== JSON.stringify(topology)) {
    return reject('the evidence names a topology that differs from the expected one');
  }
  const { accused, witness } = document;
  if (typeof accused !== 'string' || witness !== topology.witness) {
    return reject(`the evidence must name an accused node and the witness '${topology.witness}'`);
  }
  const requests = wireList(document.requests, 'requests');
  const responses = wireList(document.responses, 'responses');
  if (requests.length === 0 || requests.length !== responses.length) {
    return reject(`the evidence holds ${requests.length} requests and ${responses.length} responses; it needs one response per request`);
  }

  const session = auditSession(topology, accused);
  const accusedDevice = nodeOf(topology, accused).device;
  const witnessDevice = nodeOf(topology, topology.witness).device;
  for (let j = 0; j < requests.length; j++) {
    const problem =
      (await checkExchangeMessage(requests[j]!, `request ${j}`, session, witnessDevice, j, checker)) ??
      (await checkExchangeMessage(responses[j]!, `response ${j}`, session, accusedDevice, j, checker));
    if (problem !== undefined) return reject(problem);
  }

  const auditor = new LogAuditor(topology, accused, checker);
  for (let j = 0; j < requests.length; j++) {
    const { finding } = await auditor.apply(requests[j]!, responses[j]!);
    if (finding === undefined) continue;
    if (j !== requests.length - 1) return reject(`the audit ends with a finding at response ${j}, before the last response`);
    if (!sameFinding(finding, document.finding)) {
      return reject(`the audit finds '${finding.kind}' at entry ${finding.index}, not the finding the evidence states`);
    }
    return { confirmed: true, detail: finding.detail };
  }
  return reject(`every exchange passes the audit: the evidence shows no misbehaviour of ${accused}`);
}

/** Compare field by field, so a re-serialized document with its keys in another order still matches. */
function sameFinding(found: Finding, stated: unknown): boolean {
  if (!isRecord(stated) || stated.kind !== found.kind || stated.index !== found.index) return false;
  const entries: unknown = stated.entries;
  if (stated.detail !== found.detail || !Array.isArray(entries) || entries.length !== found.entries.length) return false;
  return found.entries.every((entry, i) => {
    const other: unknown = entries[i];
    if (!isRecord(other)) return false;
    return (Object.keys(entry) as (keyof EntrySummary)[]).every((key) => other[key] === entry[key]);
  });
}

function wireList(value: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(value)) throw new InputError(`evidence field '${field}' must be a list of base64 strings`);
  return value.map((item, i) => {
    const bytes = typeof item === 'string' ? fromBase64(item) : undefined;
    if (bytes === undefined) throw new InputError(`evidence ${field}[${i}] is not base64`);
    return bytes;
  });
}

/** Returns why an exchange message is not authentic, or undefined when it is. */
async function checkExchangeMessage(
  wire: Uint8Array,
  name: string,
  session: number,
  device: number,
  counter: number,
  checker: TagChecker,
): Promise<string | undefined> {
  let m: AttestedMessage;
  try {
    m = decodeAttested(wire);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return `${name} is not an attested message: ${error.message}`;
  }
  if (m.session !== session || m.device !== device || m.counter !== BigInt(counter)) {
    return (
      `${name} has session ${m.session}, device ${m.device}, counter ${m.counter}; ` +
      `expected session ${session}, device ${device}, counter ${counter}`
    );
  }
  const tag = await checker.check(wire);
  return tag === 'ok' ? undefined : `${name} fails the tag check: ${tag}`;
}

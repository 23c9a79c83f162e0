/**
 * Proofs of execution: a chain message embeds the attested message its
 * sender received, which embeds the one before, back to the head. These
 * functions check such a proof and take it apart into the attested claims
 * of each node, which is what evidence against a node is made of.
 */

import { InputError } from '../../api/errors.ts';
import { decodeAttested, type Tnic } from '../../api/tnic_api.ts';
import type { DetectionKind } from '../replication/detection.ts';
import { requestKey, type ClientRequest } from '../replication/request.ts';
import { decodeJson } from '../replication/wire.ts';
import { fromHex, parseChainMessage, type ChainMessage } from './messages.ts';
import type { ChainSessions } from './sessions.ts';

/** A node of the chain of one epoch, at its position in that chain. */
export interface ChainLevel {
  name: string;
  device: number;
  /** Position in the original chain, which selects the link sessions. */
  index: number;
}

export interface ProofProblem {
  suspect: string;
  kind: DetectionKind;
  detail: string;
}

/** One node's attested statement: its chain message and the wire bytes that carry it. */
export interface AttestedClaim {
  device: number;
  session: number;
  counter: bigint;
  bytes: Uint8Array;
  message: ChainMessage;
}

/**
 * Check that `message`, attested by `levels[sender]`, carries one output
 * per node up to the sender. Its embedded predecessor message must be
 * genuine (checkForwarded) and come from the previous level over their
 * link, with the same epoch and request and a prefix of the same outputs.
 * The check recurses back to the head and returns the first problem found.
 */
export async function checkProof(
  tnic: Tnic,
  sessions: ChainSessions,
  levels: readonly ChainLevel[],
  message: ChainMessage,
  sender: number,
): Promise<ProofProblem | undefined> {
  const name = levels[sender]!.name;
  const malformed = (detail: string): ProofProblem => ({ suspect: name, kind: 'malformed', detail });
  if (message.outputs.length !== sender + 1) {
    return malformed(`seq ${message.seq} carries ${message.outputs.length} outputs, not ${sender + 1}`);
  }
  if (sender === 0) {
    return message.previous === '' ? undefined : malformed(`seq ${message.seq} from the head carries a proof`);
  }

  const bytes = fromHex(message.previous);
  const expected = levels[sender - 1]!;
  const session = sessions.link(expected.index, levels[sender]!.index);
  let header;
  try {
    header = decodeAttested(bytes);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return malformed(`the proof of seq ${message.seq} is not an attested message`);
  }
  const verdict = await tnic.checkForwarded(bytes);
  if (!verdict.accepted || header.device !== expected.device || header.session !== session) {
    return malformed(`the proof of seq ${message.seq} is not genuine from ${expected.name}: ${verdict.detail}`);
  }
  const inner = parseChainMessage(decodeJson(header.msg));
  const consistent =
    inner !== undefined &&
    inner.epoch === message.epoch &&
    inner.seq === message.seq &&
    sameRequest(inner.request, message.request) &&
    JSON.stringify(inner.outputs) === JSON.stringify(message.outputs.slice(0, sender));
  if (!consistent) return malformed(`seq ${message.seq} does not extend the proof it embeds`);
  return checkProof(tnic, sessions, levels, inner, sender - 1);
}

export function sameRequest(a: ClientRequest, b: ClientRequest): boolean {
  return requestKey(a) === requestKey(b) && JSON.stringify(a.op) === JSON.stringify(b.op);
}

/**
 * Decode attested chain message `bytes` and every proof nested in it,
 * outermost first. Tags are not checked here; the reader of a claim checks
 * it with checkForwarded. Stops at the first level that does not decode.
 */
export function nestedClaims(bytes: Uint8Array): AttestedClaim[] {
  const claims: AttestedClaim[] = [];
  for (let current: Uint8Array | undefined = bytes; current !== undefined; ) {
    let header;
    try {
      header = decodeAttested(current);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      break;
    }
    const message = parseChainMessage(decodeJson(header.msg));
    if (message === undefined) break;
    claims.push({ device: header.device, session: header.session, counter: header.counter, bytes: current, message });
    current = message.previous === '' ? undefined : fromHex(message.previous);
  }
  return claims;
}

/** Find the attested message of `device` in `bytes` or any proof nested in it. */
export function claimOf(bytes: Uint8Array, device: number): AttestedClaim | undefined {
  return nestedClaims(bytes).find((c) => c.device === device);
}

/**
 * Find two attested messages of one device for one seq that name
 * different requests or give different own outputs, one inside `a` and
 * one inside `b`. A correct node states the same request and output for a
 * seq in every epoch, so such a pair proves the device's node faulty.
 */
export function findEquivocation(a: Uint8Array, b: Uint8Array): [AttestedClaim, AttestedClaim] | undefined {
  const claimsOfB = nestedClaims(b);
  for (const x of nestedClaims(a)) {
    const y = claimsOfB.find((c) => c.device === x.device && c.message.seq === x.message.seq);
    if (y !== undefined && contradicts(x.message, y.message)) return [x, y];
  }
  return undefined;
}

/** True when two messages of one sender for one seq disagree on the request or the sender's own output. */
export function contradicts(x: ChainMessage, y: ChainMessage): boolean {
  return !sameRequest(x.request, y.request) || JSON.stringify(x.outputs.at(-1)) !== JSON.stringify(y.outputs.at(-1));
}

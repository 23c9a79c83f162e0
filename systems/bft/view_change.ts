/**
 * The checks and the log choice of the BFT view change, as pure functions
 * over attested bytes and a TNIC device that has the key of every replica's session.
 *
 * Every proposal in a view-change log is attested by the leader of its own
 * view, so a replica cannot invent one. When the logs of f+1 view changes
 * name different proposals for one seq, the choice is the one from the
 * highest view, and within a view the one with the lowest counter. A
 * follower's device delivers a leader's messages in counter order, so every
 * correct follower applied that one too, even from an equivocating leader.
 *
 * NOTE: a Byzantine replica can leave entries out of its own log. MinBFT
 * closes that by requiring gap-free counters in view-change messages; here
 * a committed batch survives only if a correct replica that applied it is
 * among the f+1 view changes, which holds whenever the faulty replica is the
 * old leader.
 */

import type { AttestedMessage, Tnic } from '../../api/tnic_api.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { decodeJson } from '../replication/wire.ts';
import { parseBftMessage, parseViewMessage, type Propose, type ViewChange } from './messages.ts';

/** Proposals carried in one view-change message, at most; older applied batches are not transferred. */
export const MAX_LOG_ENTRIES = 256;

/** A proposal whose tag the device checked, with its attested header. */
export interface CheckedProposal {
  propose: Propose;
  bytes: Uint8Array;
  counter: bigint;
}

/** A view-change message whose tag the device checked, from replica `replica`. */
export interface CheckedViewChange {
  viewChange: ViewChange;
  bytes: Uint8Array;
}

export function leaderOf(view: number, replicas: readonly ReplicaIdentity[]): number {
  return view % replicas.length;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Index of the replica that attested `message`: its session and device must both match. */
export function senderOf(message: AttestedMessage, replicas: readonly ReplicaIdentity[]): number | undefined {
  const index = replicas.findIndex((r) => r.session === message.session && r.device === message.device);
  return index < 0 ? undefined : index;
}

/**
 * Check an attested view-change message for `view` on `tnic`: a valid tag,
 * from a replica's own session, naming that replica. Returns a reason on failure.
 */
export async function checkViewChange(
  tnic: Tnic,
  replicas: readonly ReplicaIdentity[],
  bytes: Uint8Array,
  view: number,
): Promise<CheckedViewChange | string> {
  const result = await tnic.checkForwarded(bytes);
  if (!result.accepted || result.message === undefined) return `tag check failed: ${result.reason}`;
  const sender = senderOf(result.message, replicas);
  if (sender === undefined) return `session ${result.message.session} is no replica's`;
  const parsed = parseViewMessage(decodeJson(result.message.msg));
  if (parsed?.t !== 'view-change') return 'not a view-change message';
  if (parsed.replica !== sender) return `names replica ${parsed.replica} but was attested by replica ${sender}`;
  if (parsed.view !== view) return `asks for view ${parsed.view}, not ${view}`;
  return { viewChange: parsed, bytes };
}

/**
 * Return the proposals of `log` that pass the tag check and were attested by the
 * leader of their own view, which is below `view`. Invalid entries are skipped.
 */
export async function checkedProposals(
  tnic: Tnic,
  replicas: readonly ReplicaIdentity[],
  log: readonly string[],
  view: number,
): Promise<CheckedProposal[]> {
  const out: CheckedProposal[] = [];
  for (const entry of log.slice(-MAX_LOG_ENTRIES)) {
    const bytes = fromBase64(entry);
    const result = await tnic.checkForwarded(bytes);
    if (!result.accepted || result.message === undefined) continue;
    const propose = parseBftMessage(decodeJson(result.message.msg));
    if (propose?.t !== 'propose' || propose.view >= view) continue;
    if (senderOf(result.message, replicas) !== leaderOf(propose.view, replicas)) continue;
    out.push({ propose, bytes, counter: result.message.counter });
  }
  return out;
}

/**
 * Choose the log a new view starts from. Per seq it takes the proposal of
 * the highest view, then of the lowest counter, in increasing seq up to the
 * first missing seq.
 */
export function chooseLog(candidates: readonly CheckedProposal[]): CheckedProposal[] {
  const bySeq = new Map<number, CheckedProposal>();
  for (const candidate of candidates) {
    const current = bySeq.get(candidate.propose.seq);
    if (current === undefined || ranksBefore(candidate, current)) bySeq.set(candidate.propose.seq, candidate);
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const chosen: CheckedProposal[] = [];
  for (const seq of seqs) {
    if (chosen.length > 0 && seq !== chosen.at(-1)!.propose.seq + 1) break;
    chosen.push(bySeq.get(seq)!);
  }
  return chosen;
}

function ranksBefore(a: CheckedProposal, b: CheckedProposal): boolean {
  if (a.propose.view !== b.propose.view) return a.propose.view > b.propose.view;
  return a.counter < b.counter;
}

/**
 * The configuration service's check of an accusation. Evidence is made of
 * attested messages of the accused node, which the service checks itself
 * with checkForwarded (transferable authentication), so an accusation
 * never needs the accuser's word:
 *
 *   output        the accused's chain messages for seq 1..s. The service
 *                 re-executes the requests they name, in their order, and
 *                 compares each result with the accused's own output. A
 *                 correct node's outputs are a function of the requests it
 *                 applied, so a difference proves the node faulty.
 *   equivocation  two chain messages of the accused for one seq with
 *                 different requests or different own outputs.
 *   counter-gap   an attested message of the accused on the link to the
 *                 accuser with a counter above the missing one, which
 *                 proves that the missing counter was attested. Whether it
 *                 was withheld is settled by a challenge: the accused must
 *                 produce it.
 *   unreachable   no evidence is possible; the service probes the accused.
 *
 * NOTE: with no checkpoints, wrong-output evidence grows with the history
 * (one message per seq), up to MAX_EVIDENCE_PARTS.
 */

import { InputError } from '../../api/errors.ts';
import { decodeAttested, type AttestedMessage, type Tnic } from '../../api/tnic_api.ts';
import { Executor } from '../replication/executor.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { requestKey } from '../replication/request.ts';
import { createMachine, type MachineKind } from '../replication/state_machine.ts';
import { decodeJson } from '../replication/wire.ts';
import { MAX_EVIDENCE_PARTS, type AccusationKind } from './config_messages.ts';
import { parseChainMessage } from './messages.ts';
import { contradicts, type AttestedClaim } from './proof.ts';
import type { ChainSessions } from './sessions.ts';

export interface Accusation {
  accuser: string;
  suspect: string;
  kind: AccusationKind;
  /** output: the seq of the wrong output; equivocation: the seq both messages claim. */
  seq?: number;
  /** counter-gap: the link session and the counter that never arrived. */
  session?: number;
  counter?: bigint;
  /** Attested messages, as the kind requires (see the file header). */
  messages: Uint8Array[];
}

export type EvidenceVerdict =
  | { outcome: 'proven'; detail: string }
  | { outcome: 'rejected'; detail: string }
  /** Unproven until the accused fails to reply to a probe. */
  | { outcome: 'probe'; detail: string }
  /** Unproven until the accused fails to produce its message with `counter` on `session`. */
  | { outcome: 'challenge'; session: number; counter: bigint; detail: string };

export interface EvidenceContext {
  /** A device with every link session's key, to check tags with checkForwarded. */
  tnic: Tnic;
  /** Every node of the original chain, in order. */
  members: readonly ReplicaIdentity[];
  sessions: ChainSessions;
  machine: MachineKind;
}

const rejected = (detail: string): EvidenceVerdict => ({ outcome: 'rejected', detail });

/** Decide what `accusation` proves; see the file header for each kind. */
export async function checkEvidence(accusation: Accusation, context: EvidenceContext): Promise<EvidenceVerdict> {
  const suspect = context.members.findIndex((m) => m.name === accusation.suspect);
  const accuser = context.members.findIndex((m) => m.name === accusation.accuser);
  if (suspect < 0) return rejected(`the suspect '${accusation.suspect}' is not a chain node`);
  if (accuser < 0) return rejected(`the accuser '${accusation.accuser}' is not a chain node`);
  if (suspect === accuser) return rejected(`${accusation.accuser} accuses itself`);
  if (accusation.messages.length > MAX_EVIDENCE_PARTS) {
    return rejected(`the evidence has ${accusation.messages.length} messages, more than ${MAX_EVIDENCE_PARTS}`);
  }

  switch (accusation.kind) {
    case 'output':
      return checkOutputs(accusation, suspect, context);
    case 'equivocation':
      return checkEquivocation(accusation, suspect, context);
    case 'counter-gap':
      return checkGap(accusation, suspect, accuser, context);
    case 'unreachable':
      return { outcome: 'probe', detail: `${accusation.accuser} cannot reach ${accusation.suspect}` };
  }
}

async function checkOutputs(accusation: Accusation, suspect: number, context: EvidenceContext): Promise<EvidenceVerdict> {
  const name = accusation.suspect;
  const claims: AttestedClaim[] = [];
  for (const [i, bytes] of accusation.messages.entries()) {
    const claim = await genuineClaim(bytes, suspect, context);
    if (typeof claim === 'string') return rejected(`evidence message ${i}: ${claim}`);
    if (claim.message.seq !== i + 1) {
      return rejected(
        `evidence message ${i} is seq ${claim.message.seq}, not ${i + 1}; ` +
          `re-execution needs ${name}'s message for every seq from 1 in order`,
      );
    }
    claims.push(claim);
  }
  if (claims.length === 0 || accusation.seq !== claims.length) {
    return rejected(`the evidence covers seq 1..${claims.length}, not 1..${accusation.seq ?? '?'}`);
  }

  const executor = new Executor(createMachine(context.machine));
  for (const { message } of claims) {
    const trial = executor.trial([message.request]);
    const expected = trial.outputs[0]!;
    const stated = message.outputs.at(-1)!;
    if (JSON.stringify(stated) !== JSON.stringify(expected)) {
      return {
        outcome: 'proven',
        detail:
          `${name} attested output ${JSON.stringify(stated)} for seq ${message.seq} ` +
          `(request ${requestKey(message.request)}), but re-executing its own requests from seq 1 ` +
          `gives ${JSON.stringify(expected)}`,
      };
    }
    trial.commit();
  }
  return rejected(`every output ${name} attested for seq 1..${claims.length} matches re-execution`);
}

async function checkEquivocation(
  accusation: Accusation,
  suspect: number,
  context: EvidenceContext,
): Promise<EvidenceVerdict> {
  if (accusation.messages.length !== 2) {
    return rejected(`equivocation needs 2 messages of ${accusation.suspect}, not ${accusation.messages.length}`);
  }
  const [a, b] = accusation.messages as [Uint8Array, Uint8Array];
  const first = await genuineClaim(a, suspect, context);
  const second = await genuineClaim(b, suspect, context);
  if (typeof first === 'string') return rejected(`evidence message 0: ${first}`);
  if (typeof second === 'string') return rejected(`evidence message 1: ${second}`);
  if (first.message.seq !== second.message.seq) {
    return rejected(`the messages claim seq ${first.message.seq} and ${second.message.seq}, not one seq`);
  }
  if (!contradicts(first.message, second.message)) {
    return rejected(`the two messages of ${accusation.suspect} for seq ${first.message.seq} agree`);
  }
  return {
    outcome: 'proven',
    detail:
      `${accusation.suspect} attested two different requests or outputs for seq ${first.message.seq} ` +
      `(epochs ${first.message.epoch} and ${second.message.epoch})`,
  };
}

async function checkGap(
  accusation: Accusation,
  suspect: number,
  accuser: number,
  context: EvidenceContext,
): Promise<EvidenceVerdict> {
  const { session, counter } = accusation;
  if (!context.sessions.hasLink(suspect, accuser)) {
    return rejected(`${accusation.suspect} and ${accusation.accuser} share no link`);
  }
  const link = context.sessions.link(suspect, accuser);
  if (session !== link || counter === undefined) {
    return rejected(`a counter gap must name the link session ${link} and the missing counter`);
  }
  if (accusation.messages.length !== 1) {
    return rejected(`a counter gap needs 1 later message of ${accusation.suspect}, not ${accusation.messages.length}`);
  }
  const later = await genuineHeader(accusation.messages[0]!, suspect, context);
  if (typeof later === 'string') return rejected(`evidence message 0: ${later}`);
  if (later.session !== link || later.counter <= counter) {
    return rejected(
      `the later message has counter ${later.counter} on session ${later.session}, ` +
        `which does not show counter ${counter} on session ${link} was attested`,
    );
  }
  return {
    outcome: 'challenge',
    session: link,
    counter,
    detail: `${accusation.suspect} attested counter ${later.counter} on session ${link}, but ${accusation.accuser} never got ${counter}`,
  };
}

/** Decode `bytes` and return its header if the suspect's device attested it on one of its sessions with a genuine tag, else the reason it fails. */
async function genuineHeader(bytes: Uint8Array, suspect: number, context: EvidenceContext): Promise<AttestedMessage | string> {
  const member = context.members[suspect]!;
  let header: AttestedMessage;
  try {
    header = decodeAttested(bytes);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return 'not an attested message';
  }
  if (header.device !== member.device) return `attested by device ${header.device}, not ${member.name}'s device ${member.device}`;
  if (!context.sessions.attestedBy(suspect).includes(header.session)) {
    return `session ${header.session} is not one that ${member.name} attests chain messages on`;
  }
  const verdict = await context.tnic.checkForwarded(bytes);
  if (!verdict.accepted) return `the tag is not genuine: ${verdict.detail}`;
  return header;
}

async function genuineClaim(bytes: Uint8Array, suspect: number, context: EvidenceContext): Promise<AttestedClaim | string> {
  const header = await genuineHeader(bytes, suspect, context);
  if (typeof header === 'string') return header;
  const message = parseChainMessage(decodeJson(header.msg));
  if (message === undefined) return `counter ${header.counter} on session ${header.session} is not a chain message`;
  return { device: header.device, session: header.session, counter: header.counter, bytes, message };
}

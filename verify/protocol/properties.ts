/**
 * The safety properties of the protocol checker, after the lemmas the TNIC
 * paper proves in Tamarin (Giantsidi et al., ASPLOS 2025), stated on what
 * the real kernels return. Each check runs when a device accepts a message
 * (B's VERIFY or C's CHECK returns ok) and reads the trace up to that step.
 *
 * - verified_msg_is_auth: every message B accepts was sent by A (the same
 *   bytes: tag, header and payload), or the adversary held the session key
 *   before the acceptance.
 * - no_lost_messages: B accepts counter c on a session only after accepting
 *   every counter below c. While the key is secret, every message A sent
 *   before an accepted message of A was also accepted before it.
 * - no_message_reordering: B never accepts counter c after a counter above c.
 * - no_double_messages: B never accepts the same message, or the same
 *   counter, twice on a session.
 * - transferable_auth: every message C accepts with CHECK was sent by A, or
 *   the adversary held the session key before the acceptance.
 */

import type { SentMessage, WireMessage } from './adversary.ts';
import { DEVICE_IDS, type AuthRule } from './config.ts';

export const PROPERTY_NAMES = [
  'verified_msg_is_auth',
  'no_lost_messages',
  'no_message_reordering',
  'no_double_messages',
  'transferable_auth',
] as const;
export type PropertyName = (typeof PROPERTY_NAMES)[number];

/**
 * Existence checks: some reached state has B accepting, and C checking, a
 * message A sent. They fail on a kernel that rejects every genuine message,
 * which satisfies every safety property above.
 */
export const SANITY_NAMES = ['send_sanity', 'check_sanity'] as const;
export type SanityName = (typeof SANITY_NAMES)[number];

/** A message B accepted with VERIFY on one session. */
export interface AcceptedMessage {
  device: number;
  counter: bigint;
  payload: string;
  step: number;
}

export interface Violation {
  property: PropertyName;
  detail: string;
}

/** Part of the trace before the acceptance at `step` that the checks read. */
export interface AcceptanceContext {
  step: number;
  session: number;
  message: WireMessage;
  /** Every message A sent so far, on every session. */
  sent: readonly SentMessage[];
  /**
   * Reason that a message A never sent may be accepted, e.g. "B was
   * compromised at step 2". Undefined while the authentication rule excuses nothing.
   */
  excuse: string | undefined;
  authRule: AuthRule;
}

function describe(m: WireMessage): string {
  const f = m.fields;
  return `session ${f.session} counter ${f.counter} payload "${m.payload}" header device ${f.device}`;
}

/** Find the message A sent with exactly the bytes of `m`, tag included. */
export function findSent(sent: readonly SentMessage[], m: WireMessage): SentMessage | undefined {
  return sent.find((s) => s.wire.hex === m.hex);
}

/** Find the message A sent with the header and payload of `m`, whatever the tag. */
function findSentContent(sent: readonly SentMessage[], m: WireMessage): SentMessage | undefined {
  const f = m.fields;
  if (f.device !== DEVICE_IDS.A) return undefined;
  return sent.find((s) => s.session === f.session && s.counter === f.counter && s.payload === m.payload);
}

/** End of a violation message: the excuse that each authentication rule found missing. */
const UNEXCUSED: Record<AuthRule, string> = {
  'key-revealed': 'no device with the session key was compromised before',
  'sender-compromised': 'A was not compromised before',
};

/**
 * Report an acceptance of bytes A never sent. A message counts as sent by A
 * only with A's own tag: HMAC gives each header and payload one valid tag, so
 * a kernel that accepts another tag accepts bytes A never produced.
 */
function checkAuthentic(ctx: AcceptanceContext, property: PropertyName, who: string): Violation[] {
  if (findSent(ctx.sent, ctx.message) || ctx.excuse !== undefined) return [];
  const content = findSentContent(ctx.sent, ctx.message);
  const what = content
    ? `A sent this header and payload at step ${content.step}, but with another tag`
    : 'A never sent it';
  return [
    {
      property,
      detail: `${who} accepted ${describe(ctx.message)} at step ${ctx.step}; ${what}, and ${UNEXCUSED[ctx.authRule]}`,
    },
  ];
}

/** Check B's VERIFY acceptance against `accepted`, B's earlier acceptances on the same session. */
export function checkVerifyAcceptance(ctx: AcceptanceContext, accepted: readonly AcceptedMessage[]): Violation[] {
  const f = ctx.message.fields;
  const violations = checkAuthentic(ctx, 'verified_msg_is_auth', 'B');

  const same = accepted.find((a) => a.counter === f.counter);
  if (same) {
    const what =
      same.payload === ctx.message.payload && same.device === f.device
        ? `the same message (${describe(ctx.message)}) twice`
        : `counter ${f.counter} on session ${f.session} twice: payload "${same.payload}" and "${ctx.message.payload}"`;
    violations.push({ property: 'no_double_messages', detail: `B accepted ${what}, at steps ${same.step} and ${ctx.step}` });
  }

  const later = accepted.find((a) => a.counter > f.counter);
  if (later) {
    violations.push({
      property: 'no_message_reordering',
      detail:
        `B accepted counter ${f.counter} on session ${f.session} at step ${ctx.step} after ` +
        `counter ${later.counter} at step ${later.step}`,
    });
  }

  violations.push(...checkNothingLost(ctx, accepted));
  return violations;
}

function checkNothingLost(ctx: AcceptanceContext, accepted: readonly AcceptedMessage[]): Violation[] {
  const f = ctx.message.fields;
  for (let c = 0n; c < f.counter; c++) {
    if (!accepted.some((a) => a.counter === c)) {
      return [
        {
          property: 'no_lost_messages',
          detail:
            `B accepted counter ${f.counter} on session ${f.session} at step ${ctx.step} ` +
            `without accepting counter ${c} before`,
        },
      ];
    }
  }

  // While the key is secret, the messages accepted below the counter must be A's own.
  if (ctx.excuse !== undefined || !findSent(ctx.sent, ctx.message)) return [];
  const earlier = ctx.sent.filter((s) => s.session === f.session && s.counter < f.counter);
  for (const s of earlier) {
    if (!accepted.some((a) => a.counter === s.counter && a.payload === s.payload && a.device === DEVICE_IDS.A)) {
      return [
        {
          property: 'no_lost_messages',
          detail:
            `B accepted counter ${f.counter} on session ${f.session} at step ${ctx.step}, but not ` +
            `A's earlier message with counter ${s.counter} sent at step ${s.step}`,
        },
      ];
    }
  }
  return [];
}

/** Check C's CHECK acceptance. */
export function checkCheckAcceptance(ctx: AcceptanceContext): Violation[] {
  return checkAuthentic(ctx, 'transferable_auth', 'C');
}

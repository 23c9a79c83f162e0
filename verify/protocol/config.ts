/**
 * Bounds and provisioning of the protocol checker's configuration: device A
 * sends, device B receives with VERIFY, and the optional device C checks
 * forwarded messages with CHECK. Every device has the key of every session,
 * so compromising any of them reveals every session key to the adversary.
 */

import { createHash } from 'node:crypto';

import { InputError } from '../../sim/errors.ts';

export const DEVICE_NAMES = ['A', 'B', 'C'] as const;
export type DeviceName = (typeof DEVICE_NAMES)[number];

/** Device ids written into the header by ATTEST. */
export const DEVICE_IDS: Record<DeviceName, number> = { A: 1, B: 2, C: 3 };

/** Largest configuration the checker accepts: the state space grows quickly past it. */
export const MAX_SESSIONS = 2;
export const MAX_MESSAGES = 8;

/**
 * Condition under which an accepted message that A never sent is excused.
 * - key-revealed: a device holding the session key was compromised before the
 *   acceptance. This is the strongest property a shared per-session key allows.
 * - sender-compromised: A itself was compromised before. Fails by design once
 *   B or C is compromised, because they hold the same key.
 */
export const AUTH_RULES = ['key-revealed', 'sender-compromised'] as const;
export type AuthRule = (typeof AUTH_RULES)[number];

export interface ProtocolBounds {
  /** Sessions from A to B, numbered from 0. */
  sessions: number;
  /** Maximum messages A sends per session. */
  messages: number;
  /** Whether device C, provisioned to CHECK every session, takes part. */
  checker: boolean;
  /** Whether the adversary may compromise a device. */
  compromise: boolean;
  /** Maximum actions per trace. */
  maxDepth: number;
  authRule: AuthRule;
}

/**
 * Depth that reaches every state of the unmodified kernel: A's sends, one
 * acceptance per counter B can reach (forged counters go up to `messages`),
 * and one compromise. Rejected deliveries and CHECKs leave the state unchanged.
 */
export function exhaustiveDepth(sessions: number, messages: number): number {
  return sessions * (2 * messages + 1) + 1;
}

export function defaultBounds(overrides: Partial<ProtocolBounds> = {}): ProtocolBounds {
  const sessions = overrides.sessions ?? 2;
  const messages = overrides.messages ?? 2;
  const bounds: ProtocolBounds = {
    sessions,
    messages,
    checker: true,
    compromise: false,
    maxDepth: exhaustiveDepth(sessions, messages),
    authRule: 'key-revealed',
    ...overrides,
  };
  checkBounds(bounds);
  return bounds;
}

export function checkBounds(b: ProtocolBounds): void {
  const inRange = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new InputError(`${name} ${v} is not an integer in ${min}..${max}`);
    }
  };
  inRange('sessions', b.sessions, 1, MAX_SESSIONS);
  inRange('messages', b.messages, 1, MAX_MESSAGES);
  inRange('maxDepth', b.maxDepth, 1, 64);
}

export function devicesOf(b: ProtocolBounds): DeviceName[] {
  return b.checker ? ['A', 'B', 'C'] : ['A', 'B'];
}

/** Derive the key of `session` from its number, so that the checker can compute it. Never logged. */
export function sessionKey(session: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`tnic protocol checker session ${session}`).digest());
}

/** Payload of A's message `index` on `session`: all payloads differ, so every copy is traceable. */
export function senderPayload(session: number, index: number): string {
  return `s${session}m${index}`;
}

/** Payload of every message the adversary forges with a revealed key. */
export const FORGED_PAYLOAD = 'x';

export function describeBounds(b: ProtocolBounds): string {
  return (
    `devices ${devicesOf(b).join(', ')}, ${b.sessions} session(s), ${b.messages} message(s) per session, ` +
    `compromise ${b.compromise ? 'on' : 'off'}, at most ${b.maxDepth} actions per trace, ` +
    `authentication rule ${b.authRule}`
  );
}

/**
 * The Dolev-Yao network adversary of the protocol checker. It reads every
 * wire message A sends. At any time it can deliver a copy of a sent message
 * (replay, reorder) or a copy with bytes changed. For every session whose key
 * it has learned, it can also deliver a message with a header of its choice
 * and a MAC computed with that key. A message it never delivers is dropped.
 * It computes no MAC with a key it has not learned.
 *
 * Payload symmetry: the properties compare payloads only for equality, so any
 * payload A never sent behaves like any other. One forged payload per header
 * therefore stands for all of them.
 */

import { encodeHeader } from '../../sim/tnic_kernel.ts';
import { decodeAttested, encodeAttested, type AttestedMessage } from '../../stack/attested_message.ts';
import { PrecomputedHmacSha256 } from '../../stack/software_hmac.ts';
import { DEVICE_IDS, FORGED_PAYLOAD, sessionKey } from './config.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A wire message the adversary can deliver, with how it obtained it. */
export interface WireMessage {
  bytes: Uint8Array;
  /** Hex of `bytes`: identifies the message in caches and deduplication. */
  hex: string;
  fields: AttestedMessage;
  /** Payload decoded as text, which works because every payload of the checker is ASCII. */
  payload: string;
  /** How the adversary made it, e.g. "copy of step 3" or "forged with the key of session 1, ...". */
  origin: string;
}

/** A message A attested, as the adversary saw it on the wire. */
export interface SentMessage {
  session: number;
  counter: bigint;
  payload: string;
  /** Trace step that sent it, numbered from 1. */
  step: number;
  wire: WireMessage;
}

export function wireMessage(bytes: Uint8Array, origin: string): WireMessage {
  const fields = decodeAttested(bytes);
  return { bytes, hex: Buffer.from(bytes).toString('hex'), fields, payload: decoder.decode(fields.msg), origin };
}

export function encodePayload(payload: string): Uint8Array {
  return encoder.encode(payload);
}

/** Re-encode `m` with one field changed. The tag is kept, so it no longer matches unless the tag is the changed field. */
function variant(m: AttestedMessage, change: Partial<AttestedMessage>, origin: string): WireMessage {
  return wireMessage(encodeAttested({ ...m, ...change }), origin);
}

/** Make the tampered copies of one sent message. */
function tamperings(sent: SentMessage, sessions: number): WireMessage[] {
  const m = sent.wire.fields;
  const from = `step ${sent.step}`;
  const alpha = m.alpha.slice();
  // The last tag byte: a kernel that compares only a prefix of the tag accepts this copy.
  alpha[alpha.length - 1]! ^= 0x01;
  const msg = m.msg.slice();
  msg[0]! ^= 0x01;

  const out = [
    variant(m, { alpha }, `copy of ${from} with the last tag byte flipped`),
    variant(m, { msg }, `copy of ${from} with the first payload byte flipped`),
    variant(m, { counter: m.counter + 1n }, `copy of ${from} with header counter ${m.counter + 1n}`),
    variant(m, { device: DEVICE_IDS.B }, `copy of ${from} with header device ${DEVICE_IDS.B} (B)`),
  ];
  if (sessions > 1) {
    const other = (m.session + 1) % sessions;
    out.push(variant(m, { session: other }, `copy of ${from} with header session ${other}`));
  }
  return out;
}

/** Forge a message with header (session, A's id, counter) and payload FORGED_PAYLOAD, MACed with the session key. */
function forgery(session: number, counter: bigint): WireMessage {
  const msg = encodePayload(FORGED_PAYLOAD);
  const header = encodeHeader(session, DEVICE_IDS.A, counter);
  const alpha = new PrecomputedHmacSha256(sessionKey(session)).mac(header, msg);
  return wireMessage(
    encodeAttested({ alpha, session, device: DEVICE_IDS.A, counter, msg }),
    `forged with the key of session ${session}, header counter ${counter}`,
  );
}

const forgeryCache = new Map<string, WireMessage>();

/**
 * List every message the adversary can deliver, without duplicates: copies of the
 * sent messages, their tampered copies, and forgeries with each header
 * counter 0..maxCounter on every session whose key is revealed.
 */
export function deliverableMessages(
  sent: readonly SentMessage[],
  revealed: readonly boolean[],
  maxCounter: number,
): WireMessage[] {
  const byHex = new Map<string, WireMessage>();
  const add = (w: WireMessage): void => {
    if (!byHex.has(w.hex)) byHex.set(w.hex, w);
  };

  for (const s of sent) add(s.wire);
  for (const s of sent) for (const w of tamperings(s, revealed.length)) add(w);
  for (const [session, isRevealed] of revealed.entries()) {
    if (!isRevealed) continue;
    for (let c = 0; c <= maxCounter; c++) {
      const key = `${session}/${c}`;
      let w = forgeryCache.get(key);
      if (!w) {
        w = forgery(session, BigInt(c));
        forgeryCache.set(key, w);
      }
      add(w);
    }
  }
  return [...byHex.values()];
}

/**
 * A signed reply: attested message bytes that a device signed with its
 * client key C_priv (Ed25519), so a client without session keys can check
 * them against the device's certified C_pub (bootstrap/client_certificate.ts).
 *
 * Signing rule, enforced by TnicDevice: C_priv signs only attested bytes
 * whose tag the same device's kernel produced or accepted, and only while
 * the device is locked. Kind 'attested' runs ATTEST and signs its output in
 * one operation, so the host never chooses the signed bytes. Kind 'checked'
 * runs CHECK on bytes from any sender and signs them only if it passes. A
 * signature therefore vouches for no more than a valid tag under a key in
 * the device's keystore, and C_priv is no oracle for bytes the host made up.
 *
 * Binary form, all integers big-endian:
 *   version u8 = 1 | kind u8 (1 attested, 2 checked) | signer device id u32
 *   | attested length u32 | attested bytes | signature (64 bytes)
 * The signature covers the label "tnic signed reply v1", kind, signer and
 * the attested bytes, so a signature of another statement never verifies.
 */

import { InputError, TnicError } from '../sim/errors.ts';
import { ATTESTED_OVERHEAD, decodeAttested, type AttestedMessage } from './attested_message.ts';
import { concatBytes, verifySignature, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './bootstrap/certificates.ts';

export const SIGNED_REPLY_VERSION = 1;
/** Bytes around the attested message: the 10-byte prefix and the signature. */
export const SIGNED_REPLY_OVERHEAD = 10 + SIGNATURE_BYTES;

export type SignedReplyKind = 'attested' | 'checked';

const KIND_CODES: Record<SignedReplyKind, number> = { attested: 1, checked: 2 };

export interface SignedReply {
  kind: SignedReplyKind;
  /** Device id of the signing device, whose certified C_pub checks the signature. */
  signer: number;
  /** Wire bytes alpha || header || msg of the attested message. */
  attested: Uint8Array;
  signature: Uint8Array;
}

export type SignedReplyFault =
  | 'too-short' // fewer bytes than the prefix, an attested header and a signature
  | 'unknown-version'
  | 'unknown-kind'
  | 'length-mismatch' // the declared attested length does not fit the bytes
  | 'signer-mismatch'; // kind 'attested' from a signer other than the attesting device

/** Bytes that are not a well-formed signed reply; `fault` names the rule they break. */
export class SignedReplyFormatError extends InputError {
  constructor(
    readonly fault: SignedReplyFault,
    message: string,
  ) {
    super(message);
    this.name = 'SignedReplyFormatError';
  }
}

export type SignRejectReason =
  | 'not-locked' // the device is still in bootstrap, so its keystore may hold keys the host chose
  | 'malformed' // the bytes are not an attested message
  | 'bad-tag'
  | 'unknown-session'
  | 'overflow';

/** A signing request that the device rejected under the signing rule. */
export class SignRejectedError extends TnicError {
  constructor(
    readonly reason: SignRejectReason,
    message: string,
  ) {
    super(`sign-${reason}`, message);
    this.name = 'SignRejectedError';
  }
}

const LABEL = new TextEncoder().encode('tnic signed reply v1');

/** Build the bytes that C_priv signs. */
export function signedReplyBody(kind: SignedReplyKind, signer: number, attested: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(5);
  const view = new DataView(prefix.buffer);
  view.setUint8(0, KIND_CODES[kind]);
  view.setUint32(1, signer);
  return concatBytes(LABEL, prefix, attested);
}

export function encodeSignedReply(reply: SignedReply): Uint8Array {
  if (reply.signature.length !== SIGNATURE_BYTES) {
    throw new InputError(`signature of ${reply.signature.length} bytes must have ${SIGNATURE_BYTES} bytes`);
  }
  if (reply.attested.length < ATTESTED_OVERHEAD) {
    throw new InputError(
      `attested message of ${reply.attested.length} bytes is shorter than its ${ATTESTED_OVERHEAD}-byte tag and header`,
    );
  }
  const out = new Uint8Array(SIGNED_REPLY_OVERHEAD + reply.attested.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, SIGNED_REPLY_VERSION);
  view.setUint8(1, KIND_CODES[reply.kind]);
  view.setUint32(2, reply.signer);
  view.setUint32(6, reply.attested.length);
  out.set(reply.attested, 10);
  out.set(reply.signature, 10 + reply.attested.length);
  return out;
}

/**
 * Parse the binary form; throws SignedReplyFormatError naming the fault.
 * Parsing checks structure only: checkSignedReply checks the signature.
 */
export function decodeSignedReply(bytes: Uint8Array): { reply: SignedReply; message: AttestedMessage } {
  const minimum = SIGNED_REPLY_OVERHEAD + ATTESTED_OVERHEAD;

  if (bytes.length < minimum) {
    throw new SignedReplyFormatError(
      'too-short',
      `signed reply of ${bytes.length} bytes is shorter than the ${minimum} bytes of prefix, attested header and signature`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = view.getUint8(0);
  if (version !== SIGNED_REPLY_VERSION) {
    throw new SignedReplyFormatError('unknown-version', `signed reply version ${version} is not the supported ${SIGNED_REPLY_VERSION}`);
  }
  const code = view.getUint8(1);
  const kind = (Object.keys(KIND_CODES) as SignedReplyKind[]).find((k) => KIND_CODES[k] === code);
  if (kind === undefined) {
    throw new SignedReplyFormatError('unknown-kind', `signed reply kind ${code} is neither 1 (attested) nor 2 (checked)`);
  }

  const signer = view.getUint32(2);
  const length = view.getUint32(6);
  if (length !== bytes.length - SIGNED_REPLY_OVERHEAD) {
    throw new SignedReplyFormatError(
      'length-mismatch',
      `signed reply declares ${length} attested bytes, but ${bytes.length - SIGNED_REPLY_OVERHEAD} follow its prefix`,
    );
  }

  const attested = bytes.slice(10, 10 + length);
  const message = decodeAttested(attested);
  if (kind === 'attested' && message.device !== signer) {
    throw new SignedReplyFormatError(
      'signer-mismatch',
      `signed reply of kind 'attested' names signer ${signer}, but device ${message.device} attested it`,
    );
  }
  const reply = { kind, signer, attested, signature: bytes.slice(10 + length) };
  return { reply, message };
}

/** Check `reply`'s signature with C_pub `clientKey`; false for a wrong key size or a bad signature. */
export async function checkSignedReply(reply: SignedReply, clientKey: Uint8Array): Promise<boolean> {
  if (clientKey.length !== PUBLIC_KEY_BYTES) return false;
  return verifySignature(reply.signature, signedReplyBody(reply.kind, reply.signer, reply.attested), clientKey);
}

/**
 * The signed statements of bootstrapping, with Ed25519 (@noble/ed25519).
 *
 * Controller certificate: the hardware key signs the measurement of the
 * controller binary, H(Ctrl_bin) with SHA-256, together with the key pair
 * that the firmware made for this device and binary.
 * Quote: the controller key signs the vendor's nonce together with the
 * controller certificate, which proves freshness and possession of Ctrl_priv.
 *
 * Every signed byte string starts with a label of its own, so a signature
 * made for one statement never verifies as another.
 */

import { signAsync, verifyAsync } from '@noble/ed25519';

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MEASUREMENT_BYTES = 32;
export const NONCE_BYTES = 32;

export interface ControllerCertificate {
  hardwareKey: Uint8Array;
  measurement: Uint8Array;
  controllerKey: Uint8Array;
  /** Signature by the hardware key over certificateBody(). */
  signature: Uint8Array;
}

export interface Quote {
  nonce: Uint8Array;
  certificate: ControllerCertificate;
  /** Signature by the controller key over quoteBody(). */
  signature: Uint8Array;
}

const encoder = new TextEncoder();
const CERTIFICATE_LABEL = encoder.encode('tnic controller certificate v1');
const QUOTE_LABEL = encoder.encode('tnic attestation quote v1');

export function certificateBody(c: Omit<ControllerCertificate, 'signature'>): Uint8Array {
  return concatBytes(CERTIFICATE_LABEL, c.hardwareKey, c.measurement, c.controllerKey);
}

export function quoteBody(nonce: Uint8Array, certificate: ControllerCertificate): Uint8Array {
  return concatBytes(QUOTE_LABEL, nonce, certificateBody(certificate), certificate.signature);
}

export async function signCertificate(
  body: Omit<ControllerCertificate, 'signature'>,
  hardwareSecret: Uint8Array,
): Promise<ControllerCertificate> {
  return { ...body, signature: await signAsync(certificateBody(body), hardwareSecret) };
}

export async function signQuote(
  nonce: Uint8Array,
  certificate: ControllerCertificate,
  controllerSecret: Uint8Array,
): Promise<Quote> {
  return { nonce, certificate, signature: await signAsync(quoteBody(nonce, certificate), controllerSecret) };
}

/** Ed25519 verification that returns false, instead of throwing, on keys or signatures of the wrong size. */
export async function verifySignature(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): Promise<boolean> {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  try {
    return await verifyAsync(signature, message, publicKey);
  } catch {
    // A public key that is not a curve point.
    return false;
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

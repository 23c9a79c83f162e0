/**
 * The secrets the vendor sends over the secure channel, and the device's
 * acknowledgement. All integers big-endian:
 *
 *   provisioning  device id u32 | session count u8 | per session: session u8 | key length u16 | key
 *   ack           device id u32 | sessions loaded u8 | client key certificate (260 bytes)
 */

import { InputError } from '../../sim/errors.ts';
import { N_SESSIONS } from '../../sim/kernel_port.ts';
import { AttestationError } from './attestation_error.ts';
import {
  CLIENT_KEY_CERTIFICATE_BYTES,
  decodeClientKeyCertificate,
  encodeClientKeyCertificate,
  type ClientKeyCertificate,
} from './client_certificate.ts';

export interface SessionSecret {
  session: number;
  key: Uint8Array;
}

export interface ProvisioningPlan {
  deviceId: number;
  sessions: SessionSecret[];
}

/** Largest key the plan carries; the kernel takes up to 65,535 bytes, a session key needs far fewer. */
export const MAX_SESSION_KEY_BYTES = 1024;

export function encodeProvisioning(plan: ProvisioningPlan): Uint8Array {
  const size = 5 + plan.sessions.reduce((n, s) => n + 3 + s.key.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, plan.deviceId);
  view.setUint8(4, plan.sessions.length);
  let offset = 5;
  for (const { session, key } of plan.sessions) {
    view.setUint8(offset, session);
    view.setUint16(offset + 1, key.length);
    out.set(key, offset + 3);
    offset += 3 + key.length;
  }
  return out;
}

export function decodeProvisioning(bytes: Uint8Array): ProvisioningPlan {
  const fail = (what: string): never => {
    throw new AttestationError('channel-failed', `provisioning record is invalid: ${what}`);
  };
  if (bytes.length < 5) fail(`${bytes.length} bytes is shorter than its 5-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const count = view.getUint8(4);
  const sessions: SessionSecret[] = [];
  let offset = 5;
  for (let i = 0; i < count; i++) {
    if (offset + 3 > bytes.length) fail(`session ${i} of ${count} is truncated`);
    const session = view.getUint8(offset);
    const length = view.getUint16(offset + 1);
    if (offset + 3 + length > bytes.length) fail(`the key of session ${session} is truncated`);
    sessions.push({ session, key: bytes.slice(offset + 3, offset + 3 + length) });
    offset += 3 + length;
  }
  if (offset !== bytes.length) fail(`${bytes.length - offset} bytes follow the last session`);
  return { deviceId: view.getUint32(0), sessions };
}

/** Reject a plan the kernel could not load, before anything is sent; throws InputError. */
export function checkPlan(plan: ProvisioningPlan): void {
  if (!Number.isInteger(plan.deviceId) || plan.deviceId < 0 || plan.deviceId > 0xffff_ffff) {
    throw new InputError(`device id ${plan.deviceId} must be an integer in 0..2^32-1`);
  }
  if (plan.sessions.length > N_SESSIONS) {
    throw new InputError(`${plan.sessions.length} sessions exceed the ${N_SESSIONS} of the keystore`);
  }
  const seen = new Set<number>();
  for (const { session, key } of plan.sessions) {
    if (!Number.isInteger(session) || session < 0 || session >= N_SESSIONS || seen.has(session)) {
      throw new InputError(`session ${session} must be unique and in 0..${N_SESSIONS - 1}`);
    }
    if (key.length < 1 || key.length > MAX_SESSION_KEY_BYTES) {
      throw new InputError(`the key of session ${session} must have 1..${MAX_SESSION_KEY_BYTES} bytes`);
    }
    seen.add(session);
  }
}

export interface ProvisioningAck {
  deviceId: number;
  sessions: number;
  /** The controller's certificate of the device's client key, made after lock. */
  clientCertificate: ClientKeyCertificate;
}

export function encodeProvisioningAck(ack: ProvisioningAck): Uint8Array {
  const certificate = encodeClientKeyCertificate(ack.clientCertificate);
  const out = new Uint8Array(5 + certificate.length);
  new DataView(out.buffer).setUint32(0, ack.deviceId);
  out[4] = ack.sessions;
  out.set(certificate, 5);
  return out;
}

export function decodeProvisioningAck(bytes: Uint8Array): ProvisioningAck {
  const size = 5 + CLIENT_KEY_CERTIFICATE_BYTES;
  if (bytes.length !== size) {
    throw new AttestationError('channel-failed', `acknowledgement of ${bytes.length} bytes must be ${size} bytes`);
  }
  return {
    deviceId: new DataView(bytes.buffer, bytes.byteOffset).getUint32(0),
    sessions: bytes[4]!,
    clientCertificate: decodeClientKeyCertificate(bytes.subarray(5)),
  };
}

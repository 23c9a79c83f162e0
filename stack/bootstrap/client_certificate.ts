/**
 * The certificate of a device's client key C_pub, and the check a client
 * runs on it. Clients are Byzantine and never hold session keys, so they
 * check replies by an Ed25519 signature with the device's C_priv instead.
 *
 * Chain of trust, from the client's side:
 *   trust roots (published by the IP vendor): the hardware public keys of
 *     genuine devices with the device id registered for each, and the
 *     measurement of the controller image the vendor ships;
 *   controller certificate: the hardware key signs that measurement and
 *     the controller key Ctrl_pub (certificates.ts);
 *   client key certificate: Ctrl_priv signs the device id and C_pub.
 * The controller signs only after the vendor provisioned and locked the
 * device and the keystore holds exactly the vendor's sessions
 * (device_controller.ts), so C_pub stands for a keystore the vendor filled.
 *
 * Binary form, 260 bytes: hardware key (32) | measurement (32) |
 * controller key (32) | controller certificate signature (64) |
 * device id u32 big-endian | client key (32) | signature (64).
 */

import { signAsync } from '@noble/ed25519';

import { InputError } from '../../sim/errors.ts';
import {
  certificateBody,
  concatBytes,
  toHex,
  verifySignature,
  MEASUREMENT_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  type ControllerCertificate,
} from './certificates.ts';

export interface ClientKeyCertificate {
  /** The certificate of the controller key that signed this one. */
  controller: ControllerCertificate;
  deviceId: number;
  /** C_pub: the Ed25519 public key whose private half signs the device's replies. */
  clientKey: Uint8Array;
  /** Signature by controller.controllerKey over clientKeyBody(). */
  signature: Uint8Array;
}

/** Anchors that a client trusts without checking: the vendor's registry and its controller image. */
export interface TrustRoots {
  /** Measurement of the only controller image whose certificates count. */
  measurement: Uint8Array;
  /** Genuine devices: hardware public key (hex) to the device id the vendor assigned. */
  devices: ReadonlyMap<string, number>;
}

export type ClientKeyChainFailure =
  | 'unknown-device-key' // the hardware key is not among the trust roots
  | 'wrong-device-id' // the certificate names another id than the roots register for that hardware key
  | 'bad-certificate-signature' // the controller certificate is not signed by the hardware key
  | 'wrong-measurement' // the controller image is not the one the vendor ships
  | 'bad-client-key-signature'; // the client key is not signed by the certified controller key

export interface ClientKeyChainProblem {
  reason: ClientKeyChainFailure;
  /** One sentence naming the device and the failed link. */
  detail: string;
}

/** Hardware key, measurement, controller key, its signature, device id, client key, signature: 260 bytes. */
export const CLIENT_KEY_CERTIFICATE_BYTES =
  PUBLIC_KEY_BYTES + MEASUREMENT_BYTES + PUBLIC_KEY_BYTES + SIGNATURE_BYTES + 4 + PUBLIC_KEY_BYTES + SIGNATURE_BYTES;

const CLIENT_KEY_LABEL = new TextEncoder().encode('tnic client key certificate v1');

/** Build the bytes the controller key signs: the label, the whole controller certificate, the id and C_pub. */
export function clientKeyBody(c: Omit<ClientKeyCertificate, 'signature'>): Uint8Array {
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, c.deviceId);
  return concatBytes(CLIENT_KEY_LABEL, certificateBody(c.controller), c.controller.signature, id, c.clientKey);
}

export async function signClientKey(
  body: Omit<ClientKeyCertificate, 'signature'>,
  controllerSecret: Uint8Array,
): Promise<ClientKeyCertificate> {
  return { ...body, signature: await signAsync(clientKeyBody(body), controllerSecret) };
}

/**
 * Check every link from `certificate` back to `roots`. Returns undefined
 * when the chain is intact, else the first failed link. Keys and signatures
 * of a wrong size fail their link instead of throwing.
 */
export async function checkClientKeyChain(
  certificate: ClientKeyCertificate,
  roots: TrustRoots,
): Promise<ClientKeyChainProblem | undefined> {
  const controller = certificate.controller;
  const claimed = certificate.deviceId;
  const registered = roots.devices.get(toHex(controller.hardwareKey));
  if (registered === undefined) {
    return {
      reason: 'unknown-device-key',
      detail: `device ${claimed}: hardware key ${toHex(controller.hardwareKey).slice(0, 16)}... is not a trust root`,
    };
  }
  if (registered !== claimed) {
    return {
      reason: 'wrong-device-id',
      detail: `the certificate names device ${claimed}, but its hardware key is registered as device ${registered}`,
    };
  }
  if (!(await verifySignature(controller.signature, certificateBody(controller), controller.hardwareKey))) {
    return {
      reason: 'bad-certificate-signature',
      detail: `the controller certificate of device ${claimed} is not signed by its hardware key`,
    };
  }
  if (toHex(controller.measurement) !== toHex(roots.measurement)) {
    return {
      reason: 'wrong-measurement',
      detail: `device ${claimed} runs controller ${toHex(controller.measurement).slice(0, 16)}..., not the trusted one`,
    };
  }
  if (!(await verifySignature(certificate.signature, clientKeyBody(certificate), controller.controllerKey))) {
    return {
      reason: 'bad-client-key-signature',
      detail: `the client key of device ${claimed} is not signed by its certified controller key`,
    };
  }
  return undefined;
}

export function encodeClientKeyCertificate(c: ClientKeyCertificate): Uint8Array {
  const fields: [string, Uint8Array, number][] = [
    ['hardware key', c.controller.hardwareKey, PUBLIC_KEY_BYTES],
    ['measurement', c.controller.measurement, MEASUREMENT_BYTES],
    ['controller key', c.controller.controllerKey, PUBLIC_KEY_BYTES],
    ['controller certificate signature', c.controller.signature, SIGNATURE_BYTES],
    ['client key', c.clientKey, PUBLIC_KEY_BYTES],
    ['signature', c.signature, SIGNATURE_BYTES],
  ];
  for (const [name, bytes, size] of fields) {
    if (bytes.length !== size) throw new InputError(`the ${name} has ${bytes.length} bytes; it must have ${size}`);
  }
  if (!Number.isInteger(c.deviceId) || c.deviceId < 0 || c.deviceId > 0xffff_ffff) {
    throw new InputError(`device id ${c.deviceId} must be an integer in 0..2^32-1`);
  }
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, c.deviceId);
  const ctrl = c.controller;
  return concatBytes(ctrl.hardwareKey, ctrl.measurement, ctrl.controllerKey, ctrl.signature, id, c.clientKey, c.signature);
}

/** Parse the 260-byte binary form; throws InputError naming the length when it differs. */
export function decodeClientKeyCertificate(bytes: Uint8Array): ClientKeyCertificate {
  if (bytes.length !== CLIENT_KEY_CERTIFICATE_BYTES) {
    throw new InputError(
      `client key certificate of ${bytes.length} bytes is invalid; it must have ${CLIENT_KEY_CERTIFICATE_BYTES}`,
    );
  }
  let offset = 0;
  const take = (n: number): Uint8Array => bytes.slice(offset, (offset += n));
  const controller: ControllerCertificate = {
    hardwareKey: take(PUBLIC_KEY_BYTES),
    measurement: take(MEASUREMENT_BYTES),
    controllerKey: take(PUBLIC_KEY_BYTES),
    signature: take(SIGNATURE_BYTES),
  };
  const deviceId = new DataView(take(4).buffer).getUint32(0);
  return { controller, deviceId, clientKey: take(PUBLIC_KEY_BYTES), signature: take(SIGNATURE_BYTES) };
}

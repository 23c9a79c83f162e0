/**
 * Reasons for rejecting remote attestation or provisioning of a device.
 * The vendor raises the first six and bad-client-key-certificate, and the
 * controller raises the other four.
 */

import { TnicError } from '../../sim/errors.ts';

export type AttestationFailure =
  | 'unknown-device-key' // the hardware key is not one the manufacturer registered
  | 'bad-certificate-signature' // the controller certificate is not signed by that hardware key
  | 'wrong-measurement' // the controller binary is not the expected one
  | 'replayed-nonce' // the quote responds to an earlier challenge
  | 'wrong-nonce' // the quote responds to a nonce this vendor never issued
  | 'bad-quote-signature' // the quote is not signed by the certified controller key
  | 'vendor-not-authenticated' // the handshake is not signed by the embedded vendor key
  | 'channel-failed' // a handshake signature, or the AEAD tag of a record, did not verify
  | 'wrong-device-id' // the provisioned device id is not this device's id
  | 'unexpected-keys' // after lock, the keystore has keys for sessions the vendor did not send
  | 'bad-client-key-certificate'; // the acknowledged client key certificate does not check

export class AttestationError extends TnicError {
  constructor(
    readonly reason: AttestationFailure,
    message: string,
  ) {
    super(`attestation-${reason}`, message);
    this.name = 'AttestationError';
  }
}

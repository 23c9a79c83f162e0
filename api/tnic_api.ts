/**
 * The TNIC programming API for one device: localSend produces an attested
 * message, localVerify checks one on its session (tag and counter), and
 * checkForwarded checks only the tag of a message that a third party
 * forwarded. Connections with authSend and poll are in api/connection.ts.
 *
 * Verification of bad input bytes returns a result with the reason instead
 * of throwing. Sending throws typed errors (api/errors.ts).
 *
 * Replies to clients, who hold no session keys: attestAndSign attests a
 * message and signs the attested bytes with the device's client key
 * C_priv, and checkAndSign signs attested bytes from any sender once the
 * kernel accepted their tag. The device rejects everything else, so C_priv
 * never signs bytes without a tag from its own keystore. Clients check the
 * signature with the device's C_pub, certified at bootstrap back to the IP
 * vendor's trust roots (checkClientKeyChain).
 */

import { N_SESSIONS } from '../sim/kernel_port.ts';
import {
  ATTESTED_OVERHEAD,
  decodeAttested,
  encodeAttested,
  type AttestedMessage,
} from '../stack/attested_message.ts';
import {
  checkClientKeyChain,
  decodeClientKeyCertificate,
  encodeClientKeyCertificate,
  type ClientKeyCertificate,
  type ClientKeyChainFailure,
  type ClientKeyChainProblem,
  type TrustRoots,
} from '../stack/bootstrap/client_certificate.ts';
import {
  checkSignedReply,
  decodeSignedReply,
  encodeSignedReply,
  SIGNED_REPLY_OVERHEAD,
  SignedReplyFormatError,
  SignRejectedError,
  type SignedReply,
  type SignedReplyFault,
  type SignedReplyKind,
  type SignRejectReason,
} from '../stack/signed_reply.ts';
import { BACKENDS, TnicDevice, type Backend, type Verdict } from '../stack/tnic_device.ts';
import { DeviceFaultError, InputError, TnicError, UnknownSessionError } from './errors.ts';

export { ATTESTED_OVERHEAD, BACKENDS, decodeAttested, encodeAttested };
export type { AttestedMessage, Backend };
export {
  checkClientKeyChain,
  checkSignedReply,
  decodeClientKeyCertificate,
  decodeSignedReply,
  encodeClientKeyCertificate,
  encodeSignedReply,
  SIGNED_REPLY_OVERHEAD,
  SignedReplyFormatError,
  SignRejectedError,
};
export type {
  ClientKeyCertificate,
  ClientKeyChainFailure,
  ClientKeyChainProblem,
  SignedReply,
  SignedReplyFault,
  SignedReplyKind,
  SignRejectReason,
  TrustRoots,
};

/** Sessions in a device's keystore, numbered 0..MAX_SESSIONS-1. */
export const MAX_SESSIONS = N_SESSIONS;

export type VerifyReason =
  | 'ok'
  | 'bad-tag'
  | 'replayed' // counter below the expected one
  | 'gap' // counter above the expected one: an earlier message is missing
  | 'unknown-session'
  | 'overflow' // the counter is 2^64 - 1, after which the session would wrap
  | 'malformed'; // the bytes are not an attested message the kernel can take

export interface VerifyResult {
  accepted: boolean;
  reason: VerifyReason;
  /** The parsed message; undefined when the bytes are malformed. */
  message: AttestedMessage | undefined;
  /** localVerify only: the counter the device expected on the session. */
  expected: bigint | undefined;
  /** Kernel cycles; 0 when the bytes never reached the kernel. */
  cycles: number;
  /** One sentence naming what failed, with the session and counter. */
  detail: string;
}

/** A TNIC device behind the programming API. */
export class Tnic {
  private constructor(readonly device: TnicDevice) {}

  /** Start a device; provision its session keys, then lock it before use. */
  static async open(backend: Backend, deviceId: number): Promise<Tnic> {
    if (!BACKENDS.includes(backend)) {
      throw new InputError(`unknown backend '${String(backend)}'; use one of: ${BACKENDS.join(', ')}`);
    }
    return new Tnic(await TnicDevice.open(backend, deviceId));
  }

  get deviceId(): number {
    return this.device.deviceId;
  }

  get backend(): Backend {
    return this.device.backend;
  }

  /** C_pub: the public key that checks this device's signed replies; a copy. */
  get clientKey(): Uint8Array {
    return this.device.clientKey;
  }

  /** Load the shared key of `session` (bootstrap only, once per session). */
  async provision(session: number, key: Uint8Array): Promise<void> {
    await this.device.provision(session, key);
  }

  /** End bootstrap: the device takes no more keys. */
  async lock(): Promise<void> {
    await this.device.lock();
  }

  /**
   * Attest `msg` on `session` with the next send counter, without sending
   * it. Returns the wire bytes alpha || header || msg.
   */
  async localSend(session: number, msg: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.device.localSend(session, msg);
    } catch (err) {
      if (err instanceof TnicError && err.code === 'kernel-unknown-session') {
        throw new UnknownSessionError(session, this.deviceId);
      }
      throw err;
    }
  }

  /**
   * Verify wire bytes on their session: the tag, and the counter against
   * the one expected. The expected counter advances only when accepted.
   */
  async localVerify(bytes: Uint8Array): Promise<VerifyResult> {
    return this.#verify('verify', bytes);
  }

  /** Check only the tag of forwarded wire bytes; no counter is read or changed. */
  async checkForwarded(bytes: Uint8Array): Promise<VerifyResult> {
    return this.#verify('check', bytes);
  }

  /**
   * Attest `msg` on `session` like localSend and sign the attested bytes
   * with C_priv in the same operation. Send `attested` to peers and
   * encodeSignedReply() of the result to clients. Throws SignRejectedError
   * before lock().
   */
  async attestAndSign(session: number, msg: Uint8Array): Promise<SignedReply> {
    try {
      return await this.device.attestAndSign(session, msg);
    } catch (err) {
      if (err instanceof TnicError && err.code === 'kernel-unknown-session') {
        throw new UnknownSessionError(session, this.deviceId);
      }
      throw err;
    }
  }

  /**
   * Sign attested `bytes` from any sender with C_priv, once the kernel
   * accepted their tag with CHECK (no counter is read or changed). Throws
   * SignRejectedError naming the reason for bytes that are malformed or
   * carry no valid tag of this device's keystore, and before lock().
   */
  async checkAndSign(bytes: Uint8Array): Promise<SignedReply> {
    return this.device.checkAndSign(bytes);
  }

  async close(): Promise<void> {
    await this.device.close();
  }

  async #verify(op: 'verify' | 'check', bytes: Uint8Array): Promise<VerifyResult> {
    let verdict: Verdict;
    try {
      verdict =
        op === 'verify' ? await this.device.localVerify(bytes) : await this.device.checkForwarded(bytes);
    } catch (err) {
      // Short buffers and oversized messages fail before the kernel runs.
      if (!(err instanceof InputError)) throw err;
      return {
        accepted: false,
        reason: 'malformed',
        message: undefined,
        expected: undefined,
        cycles: 0,
        detail: err.message,
      };
    }

    const reason = verdict.reason;
    if (reason === 'rejected' || reason === 'bad-op') {
      throw new DeviceFaultError(`device ${this.deviceId} returned '${reason}' for a verification`);
    }
    // CHECK reports the counter it checked, which is not an expected counter.
    const expected = op === 'verify' ? verdict.expected : undefined;
    return {
      accepted: verdict.accepted,
      reason,
      message: verdict.message,
      expected,
      cycles: verdict.cycles,
      detail: describeVerdict(reason, verdict.message, expected, this.deviceId),
    };
  }
}

/** Describe a verification outcome in one sentence, naming session, counter and device. */
function describeVerdict(
  reason: Exclude<VerifyReason, 'malformed'>,
  m: AttestedMessage,
  expected: bigint | undefined,
  deviceId: number,
): string {
  const subject = `counter ${m.counter} on session ${m.session} from device ${m.device}`;
  switch (reason) {
    case 'ok':
      return `accepted ${subject}`;
    case 'bad-tag':
      return `tag of ${subject} does not match: the message, header or tag was changed, or the keys differ`;
    case 'replayed':
      return `${subject} is below the expected ${expected} (replay or duplicate)`;
    case 'gap':
      return `${subject} is above the expected ${expected} (an earlier message is missing)`;
    case 'unknown-session':
      return `session ${m.session} has no key on device ${deviceId}`;
    case 'overflow':
      return `${subject} is the last 64-bit counter; the session cannot accept more`;
  }
}

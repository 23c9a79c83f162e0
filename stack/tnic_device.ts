/**
 * A TNIC device as the stack sees it: an attestation kernel backend (the
 * TypeScript model or the Verilator RTL) behind the wire format. Session
 * keys go in once, at provisioning, and never come back out: the device
 * holds no copy and the kernel keeps only derived HMAC states.
 *
 * The device also has a client key pair C_pub/C_priv (Ed25519), made
 * when it opens and again at every reset. C_priv stays in a private field
 * and is never returned, serialized or logged. It signs replies to clients
 * under the rule in signed_reply.ts: only bytes this device's kernel just
 * attested or checked, and only while the device is locked.
 */

import { keygenAsync, signAsync } from '@noble/ed25519';

import { InputError, TnicError } from '../sim/errors.ts';
import { N_SESSIONS, TAG_BYTES, type AttestationKernel, type KernelResult, type KernelStatus } from '../sim/kernel_port.ts';
import { openKernel, type Backend } from './kernel_backend.ts';
import { decodeAttested, encodeAttested, type AttestedMessage } from './attested_message.ts';
import { signedReplyBody, SignRejectedError, type SignedReply, type SignedReplyKind } from './signed_reply.ts';

export { BACKENDS, type Backend } from './kernel_backend.ts';

/** Outcome of a verification; `reason` is the kernel status ("ok" when accepted). */
export interface Verdict {
  accepted: boolean;
  reason: KernelStatus;
  message: AttestedMessage;
  /** VERIFY: the counter the kernel expected on this session. */
  expected: bigint;
  cycles: number;
}

export class TnicDevice {
  #clientSecret: Uint8Array;
  #clientKey: Uint8Array;
  /** Set by a successful LOCK through this object and cleared by reset(). */
  #locked = false;

  private constructor(
    readonly deviceId: number,
    readonly backend: Backend,
    // NOTE: the raw kernel stays public because benchmarks read its costs. A host that resets
    // or reloads the kernel through this field, bypassing reset(), keeps the old client key
    // pair. A real device gives the host no such path.
    readonly kernel: AttestationKernel,
    clientKeys: { publicKey: Uint8Array; secretKey: Uint8Array },
  ) {
    this.#clientKey = clientKeys.publicKey;
    this.#clientSecret = clientKeys.secretKey;
  }

  /** Start a backend and set its device id; load keys with provision() before locking. */
  static async open(backend: Backend, deviceId: number): Promise<TnicDevice> {
    const kernel = await openKernel(backend);
    const device = new TnicDevice(deviceId, backend, kernel, await keygenAsync());
    expectOk(await device.#one({ op: 'set-id', device: deviceId }), `set device id ${deviceId}`);
    return device;
  }

  /** C_pub, the public half of the client key pair; a copy. */
  get clientKey(): Uint8Array {
    return this.#clientKey.slice();
  }

  async #one(req: Parameters<AttestationKernel['run']>[0][number]): Promise<KernelResult> {
    const [result] = await this.kernel.run([req]);
    return result!;
  }

  /**
   * Power-cycle the kernel, which clears keys and counters, and set the
   * device id again. A new client key pair replaces the old one, so a host
   * that reloads the keystore cannot sign under a certified C_pub.
   */
  async reset(): Promise<void> {
    this.#locked = false;
    this.#clientSecret.fill(0);
    const fresh = await keygenAsync();
    this.#clientKey = fresh.publicKey;
    this.#clientSecret = fresh.secretKey;
    await this.kernel.reset();
    expectOk(await this.#one({ op: 'set-id', device: this.deviceId }), `set device id ${this.deviceId}`);
  }

  /** Load the key of `session` (bootstrap only; each session once). */
  async provision(session: number, key: Uint8Array): Promise<void> {
    expectOk(await this.#one({ op: 'load-key', session, key }), `load the key of session ${session}`);
  }

  /** End bootstrap: no more keys or device id changes. */
  async lock(): Promise<void> {
    expectOk(await this.#one({ op: 'lock' }), 'lock the device');
    this.#locked = true;
  }

  /**
   * List the sessions that have a key in the keystore. Each session gets a
   * CHECK of an empty message with a zero tag, which returns unknown-session
   * only when no key is loaded and changes no counter.
   */
  async keyedSessions(): Promise<number[]> {
    const requests = Array.from({ length: N_SESSIONS }, (_, session) => ({
      op: 'check' as const,
      session,
      device: this.deviceId,
      counter: 0n,
      tag: new Uint8Array(TAG_BYTES),
      msg: new Uint8Array(0),
    }));
    const results = await this.kernel.run(requests);
    return results.flatMap((r, session) => (r.status === 'unknown-session' ? [] : [session]));
  }

  /** Attest `msg` on `session` with the next send counter; returns the wire bytes. */
  async localSend(session: number, msg: Uint8Array): Promise<Uint8Array> {
    const r = await this.#one({ op: 'attest', session, msg });
    expectOk(r, `attest on session ${session}`);
    return encodeAttested({ alpha: r.tag, session, device: this.deviceId, counter: r.counter, msg });
  }

  /** Verify wire bytes on their session: tag and counter == recv_cnt; advances recv_cnt if accepted. */
  async localVerify(bytes: Uint8Array): Promise<Verdict> {
    return this.#verify('verify', bytes);
  }

  /**
   * Check only the tag of a message forwarded by a third party, on a
   * session this device is provisioned for; no counter state is read or changed.
   */
  async checkForwarded(bytes: Uint8Array): Promise<Verdict> {
    return this.#verify('check', bytes);
  }

  /** Attest `msg` on `session` and sign the wire bytes with C_priv, in one operation. */
  async attestAndSign(session: number, msg: Uint8Array): Promise<SignedReply> {
    this.#expectLocked();
    const attested = await this.localSend(session, msg);
    return this.#sign('attested', attested);
  }

  /**
   * Check the tag of attested `bytes` from any sender (CHECK: no counter is
   * read or changed) and sign them with C_priv if the kernel accepts them.
   * Throws SignRejectedError with the kernel's reason otherwise.
   */
  async checkAndSign(bytes: Uint8Array): Promise<SignedReply> {
    this.#expectLocked();
    let verdict: Verdict;
    try {
      verdict = await this.#verify('check', bytes);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      throw new SignRejectedError('malformed', `device ${this.deviceId} rejected signing invalid bytes: ${err.message}`);
    }
    const m = verdict.message;
    const reason = verdict.reason;
    if (reason === 'bad-tag' || reason === 'unknown-session' || reason === 'overflow') {
      throw new SignRejectedError(
        reason,
        `device ${this.deviceId} rejected signing counter ${m.counter} on session ${m.session} from device ` +
          `${m.device}: its kernel's CHECK returned ${reason}`,
      );
    }
    // CHECK returns nothing else for a decoded message on a correct kernel.
    expectOk({ status: reason }, 'check the bytes to sign');
    return this.#sign('checked', bytes.slice());
  }

  async #sign(kind: SignedReplyKind, attested: Uint8Array): Promise<SignedReply> {
    const signature = await signAsync(signedReplyBody(kind, this.deviceId, attested), this.#clientSecret);
    return { kind, signer: this.deviceId, attested, signature };
  }

  #expectLocked(): void {
    if (!this.#locked) {
      throw new SignRejectedError(
        'not-locked',
        `device ${this.deviceId} signs replies only after lock(), when its keystore can no longer change`,
      );
    }
  }

  async #verify(op: 'verify' | 'check', bytes: Uint8Array): Promise<Verdict> {
    const m = decodeAttested(bytes);
    const r = await this.#one({
      op,
      session: m.session,
      device: m.device,
      counter: m.counter,
      tag: m.alpha,
      msg: m.msg,
    });
    return { accepted: r.status === 'ok', reason: r.status, message: m, expected: r.counter, cycles: r.cycles };
  }

  async close(): Promise<void> {
    this.#locked = false;
    this.#clientSecret.fill(0);
    await this.kernel.close();
  }
}

function expectOk(r: Pick<KernelResult, 'status'>, what: string): void {
  if (r.status !== 'ok') {
    const hint =
      r.status === 'rejected'
        ? ' (the device is locked, or the session already has a key)'
        : r.status === 'unknown-session'
          ? ' (no key is loaded for that session)'
          : '';
    throw new TnicError(`kernel-${r.status}`, `could not ${what}: kernel returned ${r.status}${hint}`);
  }
}

/**
 * A TNIC device as the stack sees it: an attestation kernel backend (the
 * TypeScript model or the Verilator RTL) behind the wire format. Session
 * keys go in once, at provisioning, and never come back out: the device
 * holds no copy and the kernel keeps only derived HMAC states.
 */

import { TnicError } from '../sim/errors.ts';
import type { AttestationKernel, KernelResult, KernelStatus } from '../sim/kernel_port.ts';
import { openKernel, type Backend } from './kernel_backend.ts';
import { decodeAttested, encodeAttested, type AttestedMessage } from './attested_message.ts';

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
  private constructor(
    readonly deviceId: number,
    readonly backend: Backend,
    readonly kernel: AttestationKernel,
  ) {}

  /** Start a backend and set its device id; load keys with provision() before locking. */
  static async open(backend: Backend, deviceId: number): Promise<TnicDevice> {
    const kernel = await openKernel(backend);
    const device = new TnicDevice(deviceId, backend, kernel);
    expectOk(await device.#one({ op: 'set-id', device: deviceId }), `set device id ${deviceId}`);
    return device;
  }

  async #one(req: Parameters<AttestationKernel['run']>[0][number]): Promise<KernelResult> {
    const [result] = await this.kernel.run([req]);
    return result!;
  }

  /** Power-cycle the kernel: keys and counters are gone; the device id is set again. */
  async reset(): Promise<void> {
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
    await this.kernel.close();
  }
}

function expectOk(r: KernelResult, what: string): void {
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

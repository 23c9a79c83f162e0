/**
 * The attestation kernel's commands in software, for the CPU baselines.
 * Statuses, counters, write-once keys and the lock are those of the
 * reference model (sim/tnic_kernel.ts). The HMAC-SHA256 comes from the
 * precomputed-state implementation, which is faster than the model's.
 *
 * Keys stay inside: a key becomes its HMAC inner and outer states at
 * LOAD_KEY, in private fields, and no method returns or logs them.
 */

import {
  COUNTER_MAX,
  N_SESSIONS,
  TAG_BYTES,
  type KernelRequest,
  type KernelResult,
  type KernelStatus,
} from '../../sim/kernel_port.ts';
import { checkRequest, encodeHeader } from '../../sim/tnic_kernel.ts';
import { PrecomputedHmacSha256 } from '../software_hmac.ts';

export class SoftwareAttestationCore {
  // Keystore: one HMAC with precomputed states per session, undefined until LOAD_KEY.
  #hmacs = new Array<PrecomputedHmacSha256 | undefined>(N_SESSIONS).fill(undefined);
  // Counters store: next counter to send and next counter expected.
  #sendCnt = new Array<bigint>(N_SESSIONS).fill(0n);
  #recvCnt = new Array<bigint>(N_SESSIONS).fill(0n);
  #deviceId = 0;
  #locked = false;

  /** Clear keys, counters, the device id and the lock, as the kernel's reset does. */
  reset(): void {
    this.#hmacs.fill(undefined);
    this.#sendCnt.fill(0n);
    this.#recvCnt.fill(0n);
    this.#deviceId = 0;
    this.#locked = false;
  }

  /**
   * Execute one command. Throws InputError for a request that the kernel's
   * command port cannot carry (the same check as the model). The result's
   * `cycles` is 0, because a CPU has no kernel clock.
   */
  step(req: KernelRequest): KernelResult {
    checkRequest(req);
    switch (req.op) {
      case 'load-key':
        if (this.#locked || req.session >= N_SESSIONS || this.#hmacs[req.session] !== undefined) {
          return result('rejected', 0n);
        }
        this.#hmacs[req.session] = new PrecomputedHmacSha256(req.key);
        return result('ok', 0n);
      case 'set-id':
        if (this.#locked) return result('rejected', 0n);
        this.#deviceId = req.device;
        return result('ok', 0n);
      case 'lock':
        this.#locked = true;
        return result('ok', 0n);
      case 'attest':
        return this.#attest(req.session, req.msg);
      case 'verify':
      case 'check':
        return this.#verify(req.op, req.session, req.device, req.counter, req.tag, req.msg);
    }
  }

  #hmacOf(session: number): PrecomputedHmacSha256 | undefined {
    return session < N_SESSIONS ? this.#hmacs[session] : undefined;
  }

  #attest(session: number, msg: Uint8Array): KernelResult {
    const hmac = this.#hmacOf(session);
    if (hmac === undefined) return result('unknown-session', 0n);

    const sendCnt = this.#sendCnt[session]!;
    if (sendCnt === COUNTER_MAX) return result('overflow', sendCnt);
    const tag = hmac.mac(encodeHeader(session, this.#deviceId, sendCnt), msg);
    this.#sendCnt[session] = sendCnt + 1n;
    return { status: 'ok', tag, counter: sendCnt, cycles: 0 };
  }

  #verify(
    op: 'verify' | 'check',
    session: number,
    device: number,
    counter: bigint,
    tag: Uint8Array,
    msg: Uint8Array,
  ): KernelResult {
    const hmac = this.#hmacOf(session);
    if (hmac === undefined) return result('unknown-session', 0n);

    const tagOk = equalBytes(hmac.mac(encodeHeader(session, device, counter), msg), tag);
    if (op === 'check') return result(tagOk ? 'ok' : 'bad-tag', counter);

    // The order of the checks decides the status when several fail, as in the kernel.
    const recvCnt = this.#recvCnt[session]!;
    let status: KernelStatus = 'ok';
    if (!tagOk) status = 'bad-tag';
    else if (counter < recvCnt) status = 'replayed';
    else if (counter > recvCnt) status = 'gap';
    else if (counter === COUNTER_MAX) status = 'overflow';

    if (status === 'ok') this.#recvCnt[session] = recvCnt + 1n;
    return result(status, recvCnt);
  }
}

function result(status: KernelStatus, counter: bigint): KernelResult {
  return { status, tag: new Uint8Array(TAG_BYTES), counter, cycles: 0 };
}

/** Compare in time independent of where the first difference is. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

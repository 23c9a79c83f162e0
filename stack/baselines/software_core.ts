/**
 * The attestation kernel's commands in software, for the CPU baselines.
 * Statuses, counters, write-once keys and the lock are those of the
 * reference model (sim/tnic_kernel.ts). The HMAC-SHA256 comes from the
 * WebAssembly kernel of hmac_multi_buffer.ts, with the key states computed
 * at LOAD_KEY: stepAll() hashes each run of consecutive ATTEST, VERIFY and
 * CHECK commands four at a time, and a lone command on its scalar path.
 *
 * Keys stay inside: a key becomes its HMAC inner and outer states at
 * LOAD_KEY, in the private memory of the kernel, and no method returns or
 * logs them.
 */

import {
  COUNTER_MAX,
  MAX_INPUT_BYTES,
  N_SESSIONS,
  TAG_BYTES,
  type KernelRequest,
  type KernelResult,
  type KernelStatus,
} from '../../sim/kernel_port.ts';
import { checkRequest } from '../../sim/tnic_kernel.ts';
import { MultiBufferHmacSha256 } from '../hmac_multi_buffer.ts';

/** Commands per multi-buffer batch; a longer run of hashing commands is split. */
const BATCH_CAPACITY = 256;

type HashingRequest = Extract<KernelRequest, { op: 'attest' | 'verify' | 'check' }>;

export class SoftwareAttestationCore {
  // Keystore: the HMAC states of session s in key slot s, empty until LOAD_KEY.
  readonly #multi = new MultiBufferHmacSha256(N_SESSIONS, BATCH_CAPACITY);
  readonly #batchTags = new Uint8Array(BATCH_CAPACITY * TAG_BYTES);
  // Counters store: next counter to send and next counter expected.
  #sendCnt = new Array<bigint>(N_SESSIONS).fill(0n);
  #recvCnt = new Array<bigint>(N_SESSIONS).fill(0n);
  #deviceId = 0;
  #locked = false;

  /** Clear keys, counters, the device id and the lock, as the kernel's reset does. */
  reset(): void {
    this.#multi.clearKeys();
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
        if (this.#locked || req.session >= N_SESSIONS || this.#multi.hasKey(req.session)) {
          return result('rejected', 0n);
        }
        this.#multi.setKey(req.session, req.key);
        return result('ok', 0n);
      case 'set-id':
        if (this.#locked) return result('rejected', 0n);
        this.#deviceId = req.device;
        return result('ok', 0n);
      case 'lock':
        this.#locked = true;
        return result('ok', 0n);
      case 'attest':
      case 'verify':
      case 'check': {
        const results: KernelResult[] = [];
        this.#stepHashing([req], 0, 1, results);
        return results[0]!;
      }
    }
  }

  /**
   * Execute `requests` in order with the same results and state changes
   * as step() on each, calling `onResult` after each command. Throws
   * InputError at the first request that the command port cannot carry,
   * after executing (and reporting) the requests before it, as step() would.
   */
  stepAll(
    requests: readonly KernelRequest[],
    onResult?: (req: KernelRequest, res: KernelResult) => void,
  ): KernelResult[] {
    const results: KernelResult[] = [];
    let i = 0;
    while (i < requests.length) {
      // The run of hashing commands from i, each checked before any of them runs.
      let end = i;
      let invalid: unknown;
      while (end < requests.length && end - i < BATCH_CAPACITY && isHashing(requests[end]!)) {
        try {
          if (!plainlyValid(requests[end] as HashingRequest)) checkRequest(requests[end]!);
        } catch (err) {
          invalid = err;
          break;
        }
        end++;
      }

      if (end > i) {
        this.#stepHashing(requests as readonly HashingRequest[], i, end, results, onResult);
        if (invalid !== undefined) throw invalid;
        i = end;
      } else {
        // Not a hashing command, or an invalid one, which throws in step().
        const res = this.step(requests[i]!);
        results.push(res);
        onResult?.(requests[i]!, res);
        i += 1;
      }
    }
    return results;
  }

  /**
   * Execute the checked hashing commands requests[from..end): first walk
   * them in order to take the send counters and queue one HMAC per command
   * that needs one, then hash the queue, then build the results in order.
   * Nothing in the run but ATTEST changes the send counters and only the
   * results change the receive counters, so the split keeps step()'s order.
   */
  #stepHashing(
    requests: readonly HashingRequest[],
    from: number,
    end: number,
    results: KernelResult[],
    onResult?: (req: KernelRequest, res: KernelResult) => void,
  ): void {
    // Per command: its result when it needs no HMAC (unknown session, counter overflow), else undefined.
    const early: (KernelResult | undefined)[] = [];
    const counters: bigint[] = [];
    const jobs: number[] = [];
    for (let i = from; i < end; i++) {
      const req = requests[i]!;
      if (!this.#hasKey(req.session)) {
        early.push(result('unknown-session', 0n));
        continue;
      }
      let counter: bigint;
      let device: number;
      if (req.op === 'attest') {
        counter = this.#sendCnt[req.session]!;
        if (counter === COUNTER_MAX) {
          early.push(result('overflow', counter));
          continue;
        }
        this.#sendCnt[req.session] = counter + 1n;
        device = this.#deviceId;
      } else {
        counter = req.counter;
        device = req.device;
      }
      early.push(undefined);
      counters.push(counter);
      jobs.push(i);
      this.#multi.add(req.session, req.session, device, Number(counter >> 32n), Number(counter & 0xffffffffn), req.msg);
    }
    const tags = this.#batchTags;
    this.#multi.finish(tags);

    let job = 0;
    for (let i = from; i < end; i++) {
      const req = requests[i]!;
      let res = early[i - from];
      if (res === undefined) {
        const at = job * TAG_BYTES;
        const counter = counters[job]!;
        job++;
        if (req.op === 'attest') {
          res = { status: 'ok', tag: tags.slice(at, at + TAG_BYTES), counter, cycles: 0 };
        } else {
          res = this.#verdict(req.op, req.session, counter, equalTag(tags, at, req.tag));
        }
      }
      results.push(res);
      onResult?.(req, res);
    }
  }

  #hasKey(session: number): boolean {
    return session < N_SESSIONS && this.#multi.hasKey(session);
  }

  /** The result of a VERIFY or CHECK of a session with a key, given whether the tag matched. */
  #verdict(op: 'verify' | 'check', session: number, counter: bigint, tagOk: boolean): KernelResult {
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

/**
 * Check a hashing command faster than checkRequest, whose per-call closures dominated a
 * batch of 64-byte attests: true only for commands that checkRequest accepts, so a false
 * one goes through checkRequest for its error (or is accepted there).
 */
function plainlyValid(req: HashingRequest): boolean {
  if (req.session >>> 0 !== req.session || req.msg.length > MAX_INPUT_BYTES) return false;
  if (req.op === 'attest') return true;
  return (
    req.device >>> 0 === req.device && req.counter >= 0n && req.counter <= COUNTER_MAX && req.tag.length === TAG_BYTES
  );
}

function isHashing(req: KernelRequest): req is HashingRequest {
  return req.op === 'attest' || req.op === 'verify' || req.op === 'check';
}

/** Compare expected[offset..offset+32) with `tag` in time independent of where the first difference is. */
function equalTag(expected: Uint8Array, offset: number, tag: Uint8Array): boolean {
  if (tag.length !== TAG_BYTES) return false;
  let diff = 0;
  for (let i = 0; i < TAG_BYTES; i++) diff |= expected[offset + i]! ^ tag[i]!;
  return diff === 0;
}

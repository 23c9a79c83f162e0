/**
 * Transaction-level reference model of hw/tnic_kernel.v: the same
 * operations and results, and the latency of isolated commands from the
 * formulas in sim/kernel_latency.ts. The cycle model in sim/cycle/ is the
 * signal-for-signal mirror; this one is short enough to check by reading.
 * State fields carry the RTL register names.
 *
 * The model keeps only the HMAC inner and outer states of each key, never
 * the key itself, and exposes neither: the fields are private.
 */

import { InputError } from './errors.ts';
import {
  COUNTER_MAX,
  MAX_INPUT_BYTES,
  N_SESSIONS,
  TAG_BYTES,
  type AttestationKernel,
  type KernelRequest,
  type KernelResult,
  type KernelStatus,
} from './kernel_port.ts';
import { bypassCycles, loadKeyCycles, macCycles, serialCycles } from './kernel_latency.ts';
import { SHA256_IV, bytesToWords, sha256Compress, sha256From, wordsToBytes } from './sha256_compress.ts';

const HEADER_BYTES = 16;

/** Header of an attested message: session u32 || device u32 || counter u64, big-endian. */
export function encodeHeader(session: number, device: number, counter: bigint): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, session);
  view.setUint32(4, device);
  view.setBigUint64(8, counter);
  return header;
}

export class TnicKernelModel implements AttestationKernel {
  readonly backend = 'reference';

  // Keystore: HMAC states per session, derived once at LOAD_KEY.
  #key_valid_reg = new Array<boolean>(N_SESSIONS).fill(false);
  #istate_mem = new Array<Uint32Array>(N_SESSIONS).fill(new Uint32Array(8));
  #ostate_mem = new Array<Uint32Array>(N_SESSIONS).fill(new Uint32Array(8));
  // Counters store: next counter to send and next counter expected.
  #send_cnt_mem = new Array<bigint>(N_SESSIONS).fill(0n);
  #recv_cnt_mem = new Array<bigint>(N_SESSIONS).fill(0n);
  #device_id_reg = 0;
  #locked_reg = false;

  get device_id(): number {
    return this.#device_id_reg;
  }

  get locked(): boolean {
    return this.#locked_reg;
  }

  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    return requests.map((r) => this.step(r));
  }

  async reset(): Promise<void> {
    this.#key_valid_reg.fill(false);
    this.#istate_mem.fill(new Uint32Array(8));
    this.#ostate_mem.fill(new Uint32Array(8));
    this.#send_cnt_mem.fill(0n);
    this.#recv_cnt_mem.fill(0n);
    this.#device_id_reg = 0;
    this.#locked_reg = false;
  }

  async close(): Promise<void> {}

  /** Execute one command, synchronously. */
  step(req: KernelRequest): KernelResult {
    checkRequest(req);
    switch (req.op) {
      case 'load-key':
        return this.#loadKey(req.session, req.key);
      case 'set-id':
        if (this.#locked_reg) return serial('rejected', 0);
        this.#device_id_reg = req.device;
        return serial('ok', 0);
      case 'lock':
        this.#locked_reg = true;
        return serial('ok', 0);
      case 'attest':
        return this.#attest(req.session, req.msg);
      case 'verify':
      case 'check':
        return this.#verify(req.op, req.session, req.device, req.counter, req.tag, req.msg);
    }
  }

  #hasKey(session: number): boolean {
    return session < N_SESSIONS && this.#key_valid_reg[session] === true;
  }

  #loadKey(session: number, key: Uint8Array): KernelResult {
    if (this.#locked_reg || session >= N_SESSIONS || this.#key_valid_reg[session]) {
      return serial('rejected', key.length);
    }

    // K0: the key, or SHA-256(key) when longer than the 64-byte block, zero-padded.
    const k0 = new Uint8Array(64);
    k0.set(key.length > 64 ? wordsToBytes(sha256From(SHA256_IV, key, 0)) : key);
    const ipad = bytesToWords(k0.map((b) => b ^ 0x36));
    const opad = bytesToWords(k0.map((b) => b ^ 0x5c));

    this.#istate_mem[session] = sha256Compress(SHA256_IV, ipad);
    this.#ostate_mem[session] = sha256Compress(SHA256_IV, opad);
    this.#key_valid_reg[session] = true;
    return { status: 'ok', tag: zeroTag(), counter: 0n, cycles: loadKeyCycles(key.length) };
  }

  #mac(session: number, device: number, counter: bigint, msg: Uint8Array): Uint8Array {
    const data = new Uint8Array(HEADER_BYTES + msg.length);
    data.set(encodeHeader(session, device, counter));
    data.set(msg, HEADER_BYTES);
    const inner = sha256From(this.#istate_mem[session]!, data, 64);
    return wordsToBytes(sha256From(this.#ostate_mem[session]!, wordsToBytes(inner), 64));
  }

  #attest(session: number, msg: Uint8Array): KernelResult {
    if (!this.#hasKey(session)) return bypassed('unknown-session', msg.length, 0n);

    const cycles = macCycles(msg.length);
    const send_cnt = this.#send_cnt_mem[session]!;
    if (send_cnt === COUNTER_MAX) return bypassed('overflow', msg.length, send_cnt);
    const tag = this.#mac(session, this.#device_id_reg, send_cnt, msg);
    this.#send_cnt_mem[session] = send_cnt + 1n;
    return { status: 'ok', tag, counter: send_cnt, cycles };
  }

  #verify(
    op: 'verify' | 'check',
    session: number,
    device: number,
    counter: bigint,
    tag: Uint8Array,
    msg: Uint8Array,
  ): KernelResult {
    if (!this.#hasKey(session)) return bypassed('unknown-session', msg.length, 0n);

    const cycles = macCycles(msg.length);
    const tagOk = equalBytes(this.#mac(session, device, counter, msg), tag);
    if (op === 'check') {
      return { status: tagOk ? 'ok' : 'bad-tag', tag: zeroTag(), counter, cycles };
    }

    const recv_cnt = this.#recv_cnt_mem[session]!;
    let status: KernelStatus = 'ok';
    if (!tagOk) status = 'bad-tag';
    else if (counter < recv_cnt) status = 'replayed';
    else if (counter > recv_cnt) status = 'gap';
    else if (counter === COUNTER_MAX) status = 'overflow';

    if (status === 'ok') this.#recv_cnt_mem[session] = recv_cnt + 1n;
    return { status, tag: zeroTag(), counter: recv_cnt, cycles };
  }
}

/** Result of SET_ID, LOCK or a rejected LOAD_KEY. */
function serial(status: KernelStatus, bytes: number): KernelResult {
  return { status, tag: zeroTag(), counter: 0n, cycles: serialCycles(bytes) };
}

/** Result of a MAC command rejected at dispatch. */
function bypassed(status: KernelStatus, bytes: number, counter: bigint): KernelResult {
  return { status, tag: zeroTag(), counter, cycles: bypassCycles(bytes) };
}

function zeroTag(): Uint8Array {
  return new Uint8Array(TAG_BYTES);
}

/** Compare in time independent of where the first difference is. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const U32_MAX = 0xffffffff;

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
    throw new InputError(`${name} ${v} is not an unsigned 32-bit integer (0..${U32_MAX})`);
  }
}

function checkInputBytes(name: string, v: Uint8Array): void {
  if (v.length > MAX_INPUT_BYTES) {
    throw new InputError(`${name} of ${v.length} bytes exceeds the kernel's ${MAX_INPUT_BYTES}-byte limit; split it`);
  }
}

/** Reject what the kernel's command port cannot carry, naming the field and the limit. */
export function checkRequest(req: KernelRequest): void {
  switch (req.op) {
    case 'load-key':
      checkU32('session', req.session);
      checkInputBytes('key', req.key);
      return;
    case 'set-id':
      checkU32('device', req.device);
      return;
    case 'lock':
      return;
    case 'attest':
      checkU32('session', req.session);
      checkInputBytes('message', req.msg);
      return;
    case 'verify':
    case 'check':
      checkU32('session', req.session);
      checkU32('device', req.device);
      checkInputBytes('message', req.msg);
      if (req.counter < 0n || req.counter > COUNTER_MAX) {
        throw new InputError(`counter ${req.counter} is not an unsigned 64-bit integer`);
      }
      if (req.tag.length !== TAG_BYTES) {
        throw new InputError(`tag of ${req.tag.length} bytes must be ${TAG_BYTES} bytes (HMAC-SHA256)`);
      }
      return;
  }
}

/**
 * Cycle model of hw/tnic_kernel.v: front end, keystore, counters store,
 * MAC engines, order queue and result register. Every register carries the
 * RTL name. All outputs are functions of the registers, so a driver reads
 * them, chooses the inputs of the cycle, and calls tick().
 */

import { InputError } from '../errors.ts';
import { OP_CODES } from '../kernel_port.ts';
import { TnicEngine, type EngineInputs } from './tnic_engine.ts';
import { TnicKeyUnit } from './tnic_key_unit.ts';

export const FE_IDLE = 0;
export const FE_DATA = 1;
export const FE_SERIAL = 2;
export const FE_KEY = 3;
export const FE_DRAIN = 4;

export const ST_OK = 0;
const ST_BAD_TAG = 1;
const ST_REPLAYED = 2;
const ST_GAP = 3;
export const ST_UNKNOWN_SESSION = 4;
export const ST_OVERFLOW = 5;
const ST_REJECTED = 6;
const ST_BAD_OP = 7;

export const CNT_MAX = (1n << 64n) - 1n;

export interface KernelParams {
  nSessions: number;
  nEngines: number;
  lenWidth: number;
  bufAddrBits: number;
  /** DATA_W: input stream width in bits, 32, 64 or 128. */
  dataWidth: number;
}

export const DEFAULT_PARAMS: KernelParams = { nSessions: 16, nEngines: 12, lenWidth: 16, bufAddrBits: 11, dataWidth: 32 };

/** Input stream widths that the RTL elaborates; others stop elaboration. */
export const DATA_WIDTHS: readonly number[] = [32, 64, 128];

/** Inputs of one clock cycle. */
export interface KernelInputs {
  cmd_valid: boolean;
  cmd_op: number;
  cmd_session: number;
  cmd_len: number;
  cmd_device: number;
  cmd_counter: bigint;
  cmd_tag: Uint32Array;
  in_valid: boolean;
  /** One beat: dataWidth / 32 big-endian words, the first bytes in word 0. */
  in_data: Uint32Array;
  res_ready: boolean;
}

/** Inputs of a cycle in which nothing is offered: no command, no beat (zeros on in_data), no result taken. */
export function idleInputs(dataWidth: number): KernelInputs {
  return {
    cmd_valid: false,
    cmd_op: 0,
    cmd_session: 0,
    cmd_len: 0,
    cmd_device: 0,
    cmd_counter: 0n,
    cmd_tag: new Uint32Array(8),
    in_valid: false,
    in_data: new Uint32Array(dataWidth / 32),
    res_ready: false,
  };
}

export interface Slot {
  op: number;
  sess: number;
  status: number;
  counter: bigint;
  tag: Uint32Array;
}

function equalWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Status of a retiring command, from its slot, the session's receive counter and the engine's tag. */
export function retireStatus(slot: Slot, recv: bigint, tag: Uint32Array): number {
  if (slot.status === ST_UNKNOWN_SESSION) return slot.status;
  if (slot.op === OP_CODES.verify) {
    if (!equalWords(tag, slot.tag)) return ST_BAD_TAG;
    if (slot.counter < recv) return ST_REPLAYED;
    if (slot.counter > recv) return ST_GAP;
    if (slot.counter === CNT_MAX) return ST_OVERFLOW;
    return ST_OK;
  }
  if (slot.op === OP_CODES.check) return equalWords(tag, slot.tag) ? ST_OK : ST_BAD_TAG;
  return slot.status;
}

/** res_counter of a retiring command: 0 for an unknown session, the receive counter for VERIFY, else the slot's. */
export function retireCounter(slot: Slot, recv: bigint): bigint {
  if (slot.status === ST_UNKNOWN_SESSION) return 0n;
  return slot.op === OP_CODES.verify ? recv : slot.counter;
}

export class TnicKernelCycle {
  readonly params: KernelParams;
  readonly g_engine: TnicEngine[];
  readonly u_key_unit: TnicKeyUnit;

  // Keystore and counters store.
  key_valid_reg: boolean[] = [];
  istate_mem: Uint32Array[] = [];
  ostate_mem: Uint32Array[] = [];
  send_cnt_mem: bigint[] = [];
  recv_cnt_mem: bigint[] = [];
  device_id_reg = 0;
  locked_reg = false;

  // Front end.
  fe_state_reg = FE_IDLE;
  fe_engine_reg = 0;
  fe_words_left_reg = 0;
  ser_op_reg = 0;
  ser_session_reg = 0;
  ser_len_reg = 0;
  ser_device_reg = 0;
  ser_status_reg = ST_OK;

  // Per-engine slots (slot_*_mem in the RTL) and the order queue.
  slot_mem: Slot[] = [];
  ord_mem: number[] = [];
  ord_head_reg = 0;
  ord_tail_reg = 0;
  ord_count_reg = 0;

  res_valid_reg = false;
  res_status_reg = ST_OK;
  res_tag_reg: Uint32Array = new Uint32Array(8);
  res_counter_reg = 0n;

  readonly #sessMask: number;
  /** Inputs of all engines, reused each cycle. */
  readonly #engineInputs: EngineInputs = {
    start: false,
    start_bypass: false,
    start_len: 0,
    start_header: new Uint32Array(4),
    start_istate: new Uint32Array(8),
    start_ostate: new Uint32Array(8),
    wr_valid: false,
    wr_data: new Uint32Array(1),
    release_engine: false,
  };

  constructor(params: KernelParams = DEFAULT_PARAMS) {
    if (!DATA_WIDTHS.includes(params.dataWidth)) {
      throw new InputError(`data width ${params.dataWidth} is not supported; use 32, 64 or 128 bits`);
    }
    this.params = params;
    // cmd_session[SESS_W-1:0] with SESS_W = max(1, clog2(N_SESSIONS)).
    this.#sessMask = (1 << Math.max(1, Math.ceil(Math.log2(params.nSessions)))) - 1;
    this.u_key_unit = new TnicKeyUnit(params.dataWidth);
    this.g_engine = Array.from({ length: params.nEngines }, () => new TnicEngine(params.bufAddrBits, params.dataWidth));
    this.reset();
  }

  reset(): void {
    const { nSessions, nEngines } = this.params;
    this.key_valid_reg = new Array<boolean>(nSessions).fill(false);
    this.istate_mem = Array.from({ length: nSessions }, () => new Uint32Array(8));
    this.ostate_mem = Array.from({ length: nSessions }, () => new Uint32Array(8));
    this.send_cnt_mem = new Array<bigint>(nSessions).fill(0n);
    this.recv_cnt_mem = new Array<bigint>(nSessions).fill(0n);
    this.device_id_reg = 0;
    this.locked_reg = false;
    this.fe_state_reg = FE_IDLE;
    this.fe_engine_reg = 0;
    this.fe_words_left_reg = 0;
    this.ser_op_reg = OP_CODES['load-key'];
    this.ser_session_reg = 0;
    this.ser_len_reg = 0;
    this.ser_device_reg = 0;
    this.ser_status_reg = ST_OK;
    this.slot_mem = Array.from({ length: nEngines }, () => ({
      op: OP_CODES.attest,
      sess: 0,
      status: ST_OK,
      counter: 0n,
      tag: new Uint32Array(8),
    }));
    this.ord_mem = new Array<number>(nEngines).fill(0);
    this.ord_head_reg = 0;
    this.ord_tail_reg = 0;
    this.ord_count_reg = 0;
    this.res_valid_reg = false;
    this.res_status_reg = ST_OK;
    this.res_tag_reg = new Uint32Array(8);
    this.res_counter_reg = 0n;
    for (const e of this.g_engine) e.reset();
    this.u_key_unit.reset();
  }

  // Outputs.
  get free_idx(): number {
    return this.g_engine.findIndex((e) => e.idle);
  }
  get cmd_ready(): boolean {
    return this.fe_state_reg === FE_IDLE && this.free_idx >= 0;
  }
  get in_ready(): boolean {
    switch (this.fe_state_reg) {
      case FE_DATA:
        return this.g_engine[this.fe_engine_reg]!.wr_ready;
      case FE_KEY:
        return this.u_key_unit.in_ready;
      case FE_DRAIN:
        return this.fe_words_left_reg !== 0;
      default:
        return false;
    }
  }
  get res_valid(): boolean {
    return this.res_valid_reg;
  }

  /**
   * Nothing in flight: the front end idle, no command in an engine, no
   * result waiting, the key unit at rest. Batch runners may hand over
   * here (see kernel_events.ts).
   */
  get quiescent(): boolean {
    const ku = this.u_key_unit;
    return (
      this.fe_state_reg === FE_IDLE &&
      this.ord_count_reg === 0 &&
      !this.res_valid_reg &&
      this.g_engine.every((e) => e.idle) &&
      (ku.ku_state_reg === 0 || ku.ku_state_reg === 3) &&
      ku.u_core.idle
    );
  }

  /**
   * Skip up to `max` edges during which only engine rounds happen while the
   * inputs are quiet (no command, no input word). That needs an idle front
   * end, a key unit that is not hashing, no pending result, and every busy
   * engine in rounds that take no input. Returns the edges skipped, possibly
   * 0. The state afterwards equals the state after as many tick() calls.
   */
  fastForward(max: number): number {
    if (this.fe_state_reg !== FE_IDLE || this.res_valid_reg) return 0;
    const kuState = this.u_key_unit.ku_state_reg;
    if (kuState === 1 || kuState === 2) return 0; // KU_FILL, KU_HASH
    let n = max;
    for (const e of this.g_engine) n = Math.min(n, e.skippableEdges());
    if (!Number.isFinite(n) || n <= 0) return 0;
    for (const e of this.g_engine) if (!e.idle) e.u_core.advance(n);
    return n;
  }

  /** Clock edge with the inputs of this cycle. */
  tick(i: KernelInputs): void {
    const { nSessions, nEngines } = this.params;
    const engines = this.g_engine;

    // Dispatch.
    const freeIdx = this.free_idx;
    const cmdFire = i.cmd_valid && this.cmd_ready;
    const op = i.cmd_op;
    const cmdIsMac = op === OP_CODES.attest || op === OP_CODES.verify || op === OP_CODES.check;
    const cmdSessOk = i.cmd_session < nSessions;
    const cmdSess = i.cmd_session & this.#sessMask;
    const cmdHasKey = cmdSessOk && this.key_valid_reg[cmdSess] === true;
    const sendCntCmd = this.send_cnt_mem[cmdSess] ?? 0n;
    const cmdAttest = op === OP_CODES.attest;
    const cmdOverflow = cmdAttest && sendCntCmd === CNT_MAX;
    const cmdBeats = Math.ceil(i.cmd_len / (this.params.dataWidth / 8));
    let cmdStatus = ST_OK;
    if (!cmdHasKey) cmdStatus = ST_UNKNOWN_SESSION;
    else if (cmdOverflow) cmdStatus = ST_OVERFLOW;
    const hdrCounter = cmdAttest ? sendCntCmd : i.cmd_counter;
    const dispatch = cmdFire && cmdIsMac;

    // Retire.
    const head = this.ord_mem[this.ord_head_reg]!;
    const headEngine = engines[head]!;
    const headDone = this.ord_count_reg !== 0 && headEngine.done;
    const resFree = !this.res_valid_reg || i.res_ready;
    const retire = headDone && resFree;
    const slot = this.slot_mem[head]!;
    const rRecv = this.recv_cnt_mem[slot.sess]!;
    const rStatus = retireStatus(slot, rRecv, headEngine.tag);
    const rResCounter = retireCounter(slot, rRecv);
    const headTag = headEngine.tag;

    // Key unit.
    const serSessOk = this.ser_session_reg < nSessions;
    const serSess = this.ser_session_reg;
    const pipeEmpty = this.ord_count_reg === 0 && !this.res_valid_reg;
    const serGo = this.fe_state_reg === FE_SERIAL && pipeEmpty;
    const keyOk = !this.locked_reg && serSessOk && !this.key_valid_reg[serSess];
    const kuStart = serGo && this.ser_op_reg === OP_CODES['load-key'] && keyOk;
    const ku = this.u_key_unit;
    const kuDone = ku.done;
    const kuIstate = ku.istate;
    const kuOstate = ku.ostate;

    const inFire = i.in_valid && this.in_ready;

    // Submodules: every input above was computed from the registers before this edge.
    const inputs = this.#engineInputs;
    if (dispatch) {
      inputs.start_bypass = cmdStatus !== ST_OK;
      inputs.start_len = i.cmd_len;
      inputs.start_header = new Uint32Array([
        i.cmd_session,
        cmdAttest ? this.device_id_reg : i.cmd_device,
        Number(hdrCounter >> 32n),
        Number(hdrCounter & 0xffffffffn),
      ]);
      inputs.start_istate = this.istate_mem[cmdSess] ?? new Uint32Array(8);
      inputs.start_ostate = this.ostate_mem[cmdSess] ?? new Uint32Array(8);
    }
    inputs.wr_data = i.in_data;
    for (let g = 0; g < nEngines; g++) {
      const start = dispatch && freeIdx === g;
      const release = retire && head === g;
      const engine = engines[g]!;
      if (engine.quiet(start, release)) continue;
      inputs.start = start;
      inputs.wr_valid = i.in_valid && this.fe_state_reg === FE_DATA && this.fe_engine_reg === g;
      inputs.release_engine = release;
      engine.tick(inputs);
    }
    ku.tick(kuStart, this.ser_len_reg, i.in_valid && this.fe_state_reg === FE_KEY, i.in_data);

    // Order queue.
    if (dispatch) {
      this.ord_mem[this.ord_tail_reg] = freeIdx;
      this.ord_tail_reg = this.ord_tail_reg === nEngines - 1 ? 0 : this.ord_tail_reg + 1;
    }
    if (retire) this.ord_head_reg = this.ord_head_reg === nEngines - 1 ? 0 : this.ord_head_reg + 1;
    if (dispatch && !retire) this.ord_count_reg++;
    else if (retire && !dispatch) this.ord_count_reg--;

    // Result register.
    if (retire) {
      this.res_valid_reg = true;
      this.res_status_reg = rStatus;
      this.res_tag_reg = slot.op === OP_CODES.attest && rStatus === ST_OK ? headTag : new Uint32Array(8);
      this.res_counter_reg = rResCounter;
      if (slot.op === OP_CODES.verify && rStatus === ST_OK) this.recv_cnt_mem[slot.sess] = rRecv + 1n;
    } else if (this.res_valid_reg && i.res_ready) {
      this.res_valid_reg = false;
    }

    this.#frontEnd(i, { cmdFire, cmdIsMac, cmdSess, cmdBeats, cmdStatus, cmdAttest, sendCntCmd, hdrCounter, freeIdx, inFire, serGo, kuStart, kuDone, kuIstate, kuOstate });
  }

  #frontEnd(
    i: KernelInputs,
    c: {
      cmdFire: boolean;
      cmdIsMac: boolean;
      cmdSess: number;
      cmdBeats: number;
      cmdStatus: number;
      cmdAttest: boolean;
      sendCntCmd: bigint;
      hdrCounter: bigint;
      freeIdx: number;
      inFire: boolean;
      serGo: boolean;
      kuStart: boolean;
      kuDone: boolean;
      kuIstate: Uint32Array;
      kuOstate: Uint32Array;
    },
  ): void {
    switch (this.fe_state_reg) {
      case FE_IDLE:
        if (!c.cmdFire) break;
        this.fe_words_left_reg = c.cmdBeats;
        if (c.cmdIsMac) {
          this.slot_mem[c.freeIdx] = {
            op: i.cmd_op,
            sess: c.cmdSess,
            status: c.cmdStatus,
            counter: c.hdrCounter,
            tag: i.cmd_tag.slice(),
          };
          if (c.cmdAttest && c.cmdStatus === ST_OK) this.send_cnt_mem[c.cmdSess] = c.sendCntCmd + 1n;
          this.fe_engine_reg = c.freeIdx;
          this.fe_state_reg = c.cmdBeats !== 0 ? FE_DATA : FE_IDLE;
        } else {
          this.ser_op_reg = i.cmd_op;
          this.ser_session_reg = i.cmd_session;
          this.ser_len_reg = i.cmd_len;
          this.ser_device_reg = i.cmd_device;
          this.fe_state_reg = FE_SERIAL;
        }
        break;

      case FE_DATA:
        if (c.inFire) {
          if (this.fe_words_left_reg === 1) this.fe_state_reg = FE_IDLE;
          this.fe_words_left_reg--;
        }
        break;

      case FE_SERIAL:
        if (!c.serGo) break;
        if (c.kuStart) {
          this.fe_state_reg = FE_KEY;
          break;
        }
        this.fe_state_reg = FE_DRAIN;
        if (this.ser_op_reg === OP_CODES['load-key']) {
          this.ser_status_reg = ST_REJECTED;
        } else if (this.ser_op_reg === OP_CODES['set-id']) {
          if (this.locked_reg) {
            this.ser_status_reg = ST_REJECTED;
          } else {
            this.device_id_reg = this.ser_device_reg;
            this.ser_status_reg = ST_OK;
          }
        } else if (this.ser_op_reg === OP_CODES.lock) {
          this.locked_reg = true;
          this.ser_status_reg = ST_OK;
        } else {
          this.ser_status_reg = ST_BAD_OP;
        }
        break;

      case FE_KEY:
        if (c.kuDone) {
          const s = this.ser_session_reg;
          this.istate_mem[s] = c.kuIstate;
          this.ostate_mem[s] = c.kuOstate;
          this.send_cnt_mem[s] = 0n;
          this.recv_cnt_mem[s] = 0n;
          this.key_valid_reg[s] = true;
          this.#setResult(ST_OK);
          this.fe_state_reg = FE_IDLE;
        }
        break;

      default: // FE_DRAIN
        if (this.fe_words_left_reg === 0) {
          this.#setResult(this.ser_status_reg);
          this.fe_state_reg = FE_IDLE;
        } else if (i.in_valid) {
          this.fe_words_left_reg--;
        }
    }
  }

  #setResult(status: number): void {
    this.res_valid_reg = true;
    this.res_status_reg = status;
    this.res_tag_reg = new Uint32Array(8);
    this.res_counter_reg = 0n;
  }
}

/**
 * Event-driven batch runner: runs a pipelined batch on the cycle model's
 * state with the same stimulus, stalls, results and cycle counts as
 * CycleKernel.runPipelined, but without clocking the engines. Each edge
 * costs a few comparisons; an engine does work only when it starts, takes
 * a beat, or finishes (tnic_engine_timeline.ts). It is the model's fast mode
 * for batches, and what `tnic bench kernel` times against Verilator.
 *
 * It mirrors TnicKernelCycle.tick for the MAC path: dispatch, input beats,
 * retire, the order queue and the result register, all kept in the cycle
 * model's own registers. Serial commands (LOAD_KEY, SET_ID, LOCK, unknown
 * opcodes) wait for an empty pipeline, so no engine is busy while one runs.
 * The runner then hands those edges to TnicKernelCycle.tick itself.
 *
 * What it does not produce: the per-cycle observation of lockstep runs
 * (trace), and the engines' working registers between a batch's first and
 * last edge. After the batch the cycle model is quiescent and contains what it
 * would contain after the same edges, except the registers that
 * TnicEngineTimeline.storeInto lists as stale.
 */

import { TnicError } from '../errors.ts';
import { OP_CODES, STATUS_NAMES, type KernelRequest } from '../kernel_port.ts';
import { checkRequest } from '../tnic_kernel.ts';
import type { PipeOptions, PipeRun } from './kernel_driver.ts';
import { XorShift64, beatWords, requestData, wordsToBytes } from './stimulus.ts';
import { TnicEngineTimeline } from './tnic_engine_timeline.ts';
import {
  CNT_MAX,
  FE_DATA,
  FE_IDLE,
  FE_SERIAL,
  ST_OK,
  ST_OVERFLOW,
  ST_UNKNOWN_SESSION,
  retireCounter,
  idleInputs,
  retireStatus,
  type TnicKernelCycle,
} from './tnic_kernel.ts';

/** Edges after which a batch counts as hung, in both modes of the model and in the Verilator harness. */
export const MAX_BATCH_EDGES = 50_000_000;

/** Build the error of a batch that ran MAX_BATCH_EDGES edges without taking every result. */
export function batchHangError(edges: number): TnicError {
  return new TnicError(
    'model-hang',
    `pipelined batch did not finish in ${edges} cycles. Either the batch needs more than ${MAX_BATCH_EDGES} ` +
      'cycles (split it), or the model is stuck (a bug: report it with the batch). Call reset() before the next command.',
  );
}
/** Key state of a session index past the keystore; only bypassed commands see it. */
const NO_KEY = new Uint32Array(8);

/** Field of a request on the command port, 0 when the request has none (as the drivers drive it). */
const sessionOf = (req: KernelRequest): number => ('session' in req ? req.session : 0);

/** Number of input beats of `data` at `lanes` words per beat. */
const beatsOf = (data: Uint8Array, lanes: number): number => Math.ceil(data.length / (4 * lanes));

export class KernelEventRunner {
  readonly #k: TnicKernelCycle;
  readonly #engines: TnicEngineTimeline[];
  readonly #lanes: number;
  readonly #sessMask: number;
  /** Engines started since their state was last stored into the cycle model. */
  readonly #dirty: boolean[];
  #anyDirty = false;
  /** Engines not busy (eng_state IDLE). */
  #idle: number;
  /** Edges run by the last call to run(), also when it threw. */
  lastEdges = 0;

  constructor(kernel: TnicKernelCycle) {
    const p = kernel.params;
    this.#k = kernel;
    this.#lanes = p.dataWidth / 32;
    this.#sessMask = (1 << Math.max(1, Math.ceil(Math.log2(p.nSessions)))) - 1;
    this.#engines = Array.from({ length: p.nEngines }, () => new TnicEngineTimeline(p.bufAddrBits, p.dataWidth));
    this.#dirty = new Array<boolean>(p.nEngines).fill(false);
    this.#idle = p.nEngines;
  }

  /** Forget every engine's work, as the kernel's reset does; the cycle model resets itself. */
  reset(): void {
    for (const e of this.#engines) e.release();
    this.#dirty.fill(false);
    this.#anyDirty = false;
    this.#idle = this.#engines.length;
  }

  /** Run a batch as CycleKernel.runPipelined would; the kernel must be quiescent and the run untraced. */
  run(requests: readonly KernelRequest[], opt: PipeOptions): PipeRun {
    const k = this.#k;
    if (!k.quiescent) throw new TnicError('model-state', 'the event runner needs a quiescent kernel; run the batch cycle by cycle');
    if (opt.trace !== 0 || opt.maxEdges !== undefined) {
      throw new TnicError('bad-config', 'the event runner neither traces nor stops early; run the batch cycle by cycle');
    }
    requests.forEach(checkRequest);
    k.res_tag_reg = k.res_tag_reg.slice();

    const lanes = this.#lanes;
    const engines = this.#engines;
    const rng = new XorShift64();
    rng.seed(opt.seed);
    const { cmdStall, inStall, resStall } = opt;

    const results: PipeRun['results'] = [];
    const acceptEdge: number[] = [];
    let firstSeen = -1;
    // Input bytes of accepted commands whose beats are still to stream, and the next beat of the first.
    const queue: Uint8Array[] = [];
    let queueHead = 0;
    let beat = 0;
    let nextCmd = 0;
    let next: KernelRequest | undefined = requests[0];
    // Inputs of TnicKernelCycle.tick while a serial command runs.
    const inputs = idleInputs(k.params.dataWidth);
    const idleBeat = new Uint32Array(lanes);
    const serialBeat = new Uint32Array(lanes);
    const header = new Uint32Array(4);
    let c = 0;

    // Without stalls no edge draws from the generator, so runs of edges in
    // which only beats move, or nothing moves, can be taken at once.
    const noStalls = cmdStall === 0 && inStall === 0 && resStall === 0;

    while (results.length < requests.length) {
      if (c >= MAX_BATCH_EDGES) {
        this.lastEdges = c;
        throw batchHangError(c);
      }
      if (noStalls && !k.res_valid_reg) {
        const skip = this.#quietEdges(c, next !== undefined && this.#idle !== 0);
        if (skip > 1) {
          if (k.fe_state_reg === FE_DATA) {
            const data = queue[queueHead]!;
            const engine = engines[k.fe_engine_reg]!;
            for (let e = 0; e < skip; e++) engine.write(c + e, data);
            k.fe_words_left_reg -= skip;
            if (k.fe_words_left_reg === 0) k.fe_state_reg = FE_IDLE;
            beat += skip;
            if (beat === beatsOf(data, lanes)) {
              queueHead++;
              beat = 0;
            }
          }
          c += skip;
          continue;
        }
      }
      const cmdIdle = rng.draw(cmdStall);
      const inIdle = rng.draw(inStall);
      const resIdle = rng.draw(resStall);
      const cmdValid = next !== undefined && !cmdIdle;
      const haveBeat = queueHead < queue.length;
      const inValid = haveBeat && !inIdle;
      const resReady = !resIdle;

      const fe = k.fe_state_reg;
      const serial = fe !== FE_IDLE && fe !== FE_DATA && k.ord_count_reg === 0 && !k.res_valid_reg;
      let cmdReady: boolean;
      let inReady: boolean;
      if (serial) {
        // The pipeline is empty: TnicKernelCycle.tick clocks the serial command.
        this.#store();
        cmdReady = k.cmd_ready;
        inReady = k.in_ready;
      } else {
        cmdReady = fe === FE_IDLE && this.#idle !== 0;
        inReady = fe === FE_DATA && engines[k.fe_engine_reg]!.wrReady(c);
      }
      const resValid = k.res_valid_reg;

      // The driver's side, as in CycleKernel.runPipelined.
      const cmdFire = cmdValid && cmdReady;
      const inFire = inValid && inReady;
      const resFire = resValid && resReady;
      if (resValid && firstSeen < 0) firstSeen = c;
      if (resFire) {
        const n = results.length;
        results.push({
          status: STATUS_NAMES[k.res_status_reg]!,
          tag: wordsToBytes(k.res_tag_reg),
          counter: k.res_counter_reg,
          cycles: firstSeen - acceptEdge[n]!,
          acceptEdge: acceptEdge[n]!,
        });
        firstSeen = -1;
      }
      const cmd = next!;
      const cmdData = cmdFire ? requestData(cmd) : undefined;
      if (cmdFire) {
        acceptEdge[nextCmd] = c + 1;
        if (cmdData!.length > 0) queue.push(cmdData!);
        nextCmd++;
        next = requests[nextCmd];
      }
      const beatData = queue[queueHead];

      if (serial) {
        // The command fields stay zero. TnicKernelCycle.tick uses them only when a command fires, and none can fire now.
        inputs.cmd_valid = cmdValid;
        inputs.in_valid = inValid;
        if (haveBeat) beatWords(beatData!, beat, lanes, serialBeat, 0);
        inputs.in_data = haveBeat ? serialBeat : idleBeat;
        inputs.res_ready = resReady;
        k.tick(inputs);
      } else {
        this.#edge(c, cmdFire ? cmd : undefined, cmdData, inFire ? beatData : undefined, resReady, header);
      }

      if (inFire) {
        beat++;
        if (beat === beatsOf(beatData!, lanes)) {
          queueHead++;
          beat = 0;
        }
      }
      c++;
    }
    this.#store();
    this.lastEdges = c;
    return { results, edges: c, hash: 0, cycles: [], finished: true };
  }

  /**
   * One clock edge outside serial commands, as TnicKernelCycle.tick: `cmd`
   * with its input bytes `cmdData` when a command fires, `beatData` when the
   * next beat of those bytes goes into the engine being fed.
   */
  #edge(
    c: number,
    cmd: KernelRequest | undefined,
    cmdData: Uint8Array | undefined,
    beatData: Uint8Array | undefined,
    resReady: boolean,
    header: Uint32Array,
  ): void {
    const k = this.#k;
    const engines = this.#engines;
    const nEngines = engines.length;

    // Retire, from the registers before the edge.
    const head = k.ord_mem[k.ord_head_reg]!;
    const retire = k.ord_count_reg !== 0 && engines[head]!.doneBefore(c) && (!k.res_valid_reg || resReady);

    // Input beat into the engine the front end feeds.
    if (beatData !== undefined) {
      engines[k.fe_engine_reg]!.write(c, beatData);
      if (k.fe_words_left_reg === 1) k.fe_state_reg = FE_IDLE;
      k.fe_words_left_reg--;
    }

    if (retire) {
      const engine = engines[head]!;
      const slot = k.slot_mem[head]!;
      const recv = k.recv_cnt_mem[slot.sess]!;
      const status = retireStatus(slot, recv, engine.tag);
      k.res_valid_reg = true;
      k.res_status_reg = status;
      // res_tag_reg is this runner's own register during the batch, so it is written in place.
      const resTag = k.res_tag_reg;
      const tag = engine.tag;
      const keep = slot.op === OP_CODES.attest && status === ST_OK;
      for (let w = 0; w < 8; w++) resTag[w] = keep ? tag[w]! : 0;
      k.res_counter_reg = retireCounter(slot, recv);
      if (slot.op === OP_CODES.verify && status === ST_OK) k.recv_cnt_mem[slot.sess] = recv + 1n;
      k.ord_head_reg = k.ord_head_reg === nEngines - 1 ? 0 : k.ord_head_reg + 1;
      k.ord_count_reg--;
    } else if (k.res_valid_reg && resReady) {
      k.res_valid_reg = false;
    }

    if (cmd !== undefined) {
      const op = OP_CODES[cmd.op];
      const len = cmdData!.length;
      const cmdBeats = beatsOf(cmdData!, this.#lanes);
      k.fe_words_left_reg = cmdBeats;
      if (cmd.op === 'attest' || cmd.op === 'verify' || cmd.op === 'check') {
        // Dispatch to the lowest idle engine, with the status and header of TnicKernelCycle.tick.
        let g = 0;
        while (engines[g]!.busy) g++;
        const sess = cmd.session & this.#sessMask;
        const hasKey = cmd.session < k.params.nSessions && k.key_valid_reg[sess] === true;
        const attest = cmd.op === 'attest';
        const sendCnt = k.send_cnt_mem[sess] ?? 0n;
        let status = ST_OK;
        if (!hasKey) status = ST_UNKNOWN_SESSION;
        else if (attest && sendCnt === CNT_MAX) status = ST_OVERFLOW;
        const counter = attest ? sendCnt : cmd.counter;
        header[0] = cmd.session;
        header[1] = attest ? k.device_id_reg : cmd.device;
        header[2] = Number(counter >> 32n);
        header[3] = Number(counter & 0xffffffffn);
        engines[g]!.start(c, status !== ST_OK, len, header, k.istate_mem[sess] ?? NO_KEY, k.ostate_mem[sess] ?? NO_KEY);
        this.#idle--;
        this.#dirty[g] = true;
        this.#anyDirty = true;
        // The slot is rewritten in place, because nothing else refers to it.
        const slot = k.slot_mem[g]!;
        slot.op = op;
        slot.sess = sess;
        slot.status = status;
        slot.counter = counter;
        if (attest) slot.tag.fill(0);
        else beatWords(cmd.tag, 0, 8, slot.tag, 0);
        if (attest && status === ST_OK) k.send_cnt_mem[sess] = sendCnt + 1n;
        k.ord_mem[k.ord_tail_reg] = g;
        k.ord_tail_reg = k.ord_tail_reg === nEngines - 1 ? 0 : k.ord_tail_reg + 1;
        k.ord_count_reg++;
        k.fe_engine_reg = g;
        k.fe_state_reg = cmdBeats !== 0 ? FE_DATA : FE_IDLE;
      } else {
        k.ser_op_reg = op;
        k.ser_session_reg = sessionOf(cmd);
        k.ser_len_reg = len;
        k.ser_device_reg = 'device' in cmd ? cmd.device : 0;
        k.fe_state_reg = FE_SERIAL;
      }
    }
    // The released engine is idle from the next edge on, so this edge's dispatch could not pick it.
    if (retire) {
      engines[head]!.release();
      this.#idle++;
    }
  }

  /**
   * Count the edges from `c` on in which only beats move into the engine
   * being fed (one per edge), or nothing moves. It assumes no stalls and no
   * result waiting. In those edges no command can fire, no engine retires,
   * and the front end keeps its state until its last beat. Returns 0 when the
   * next edge may do more. `cmdCanFire`: a command is waiting and an engine is idle.
   */
  #quietEdges(c: number, cmdCanFire: boolean): number {
    const k = this.#k;
    const fe = k.fe_state_reg;
    let n: number;
    if (fe === FE_DATA) {
      const engine = this.#engines[k.fe_engine_reg]!;
      // A message longer than the buffer waits on the engine's reads: edge by edge.
      if (engine.msgBeats > engine.bufBeats) return 0;
      n = k.fe_words_left_reg;
    } else if (fe === FE_IDLE && !cmdCanFire) {
      n = Infinity;
    } else {
      return 0;
    }
    if (k.ord_count_reg !== 0) {
      // The head retires at the first edge after the one that made it DONE. Every
      // busy engine but the one being fed has all its beats, so its doneEdge is known.
      const head = this.#engines[k.ord_mem[k.ord_head_reg]!]!;
      if (head.doneEdge >= 0) n = Math.min(n, head.doneEdge + 1 - c);
    }
    return Number.isFinite(n) ? Math.max(0, n) : 0;
  }

  /** Write the engines started since the last store back into the cycle model. */
  #store(): void {
    if (!this.#anyDirty) return;
    for (let g = 0; g < this.#engines.length; g++) {
      if (!this.#dirty[g]) continue;
      this.#engines[g]!.storeInto(this.#k.g_engine[g]!);
      this.#dirty[g] = false;
    }
    this.#anyDirty = false;
  }
}

/**
 * The RTL backend: a long-running Verilator harness process
 * (verify/harness/tnic_harness.cpp) driven one request line per
 * transaction over a pipe. A batch is written at once and its results read
 * at once, which costs one pipe round trip per batch rather than per
 * transaction.
 */

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

import { TnicError } from '../sim/errors.ts';
import {
  OP_CODES,
  STATUS_NAMES,
  type AttestationKernel,
  type KernelRequest,
  type KernelResult,
} from '../sim/kernel_port.ts';
import { checkRequest } from '../sim/tnic_kernel.ts';
import type { PipeOptions, PipeRun } from '../sim/cycle/kernel_driver.ts';
import { checkStallPercent } from '../sim/cycle/stimulus.ts';
import { ensureRtlBuilt, type BuildOptions } from './build_rtl.ts';

/** A reader of harness output lines; `take` returns true when it has read its last line. */
interface Pending {
  take: (line: string) => boolean;
  reject: (err: Error) => void;
}

const hex = (b: Uint8Array): string => (b.length === 0 ? '-' : Buffer.from(b).toString('hex'));

/** Encode one request as a harness line. */
export function requestLine(req: KernelRequest): string {
  switch (req.op) {
    case 'load-key':
      return `K ${req.session} ${hex(req.key)}`;
    case 'set-id':
      return `I ${req.device}`;
    case 'lock':
      return 'L';
    case 'attest':
      return `A ${req.session} ${hex(req.msg)}`;
    case 'verify':
    case 'check':
      return `${req.op === 'verify' ? 'V' : 'C'} ${req.session} ${req.device} ${req.counter} ${hex(req.tag)} ${hex(req.msg)}`;
  }
}

function parseResult(line: string): KernelResult {
  const [kind, status, tag, counter, cycles] = line.split(' ');
  const name = STATUS_NAMES[Number(status)];
  if (kind !== 'R' || name === undefined || tag === undefined || counter === undefined) {
    throw new TnicError('rtl-harness', `unexpected line from the RTL harness: '${line}'`);
  }
  return {
    status: name,
    tag: new Uint8Array(Buffer.from(tag, 'hex')),
    counter: BigInt(counter),
    cycles: Number(cycles),
  };
}

export class RtlKernel implements AttestationKernel {
  readonly backend = 'rtl';
  #child: ChildProcessWithoutNullStreams;
  #pending: Pending[] = [];
  #exitError: Error | undefined;

  private constructor(binary: string) {
    this.#child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines = createInterface({ input: this.#child.stdout });
    lines.on('line', (line) => {
      const reader = this.#pending[0];
      if (reader?.take(line)) this.#pending.shift();
    });

    let stderr = '';
    this.#child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    this.#child.on('error', (err) => this.#fail(new TnicError('rtl-harness', err.message)));
    this.#child.on('exit', (code, signal) => {
      const why = signal ? `signal ${signal}` : `exit code ${code}`;
      this.#fail(new TnicError('rtl-harness', `RTL harness ended (${why}) ${stderr.trim()}`.trim()));
    });
    // A closed stdin while requests are queued is reported by the exit handler.
    this.#child.stdin.on('error', () => {});
  }

  /** Start a harness binary built elsewhere (a mutated copy of hw/, for example). */
  static fromBinary(binary: string): RtlKernel {
    return new RtlKernel(binary);
  }

  /** Build the harness if hw/ changed, then start it. */
  static async start(options: BuildOptions = {}): Promise<RtlKernel> {
    return new RtlKernel(ensureRtlBuilt(options));
  }

  #fail(err: Error): void {
    this.#exitError ??= err;
    for (const p of this.#pending.splice(0)) p.reject(err);
  }

  #send(lines: string[]): Promise<string>[] {
    if (this.#exitError) throw this.#exitError;
    const answers = lines.map(
      () =>
        new Promise<string>((resolve, reject) =>
          this.#pending.push({
            take: (line) => {
              resolve(line);
              return true;
            },
            reject,
          }),
        ),
    );
    this.#child.stdin.write(lines.join('\n') + '\n');
    return answers;
  }

  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    requests.forEach(checkRequest);
    // An empty batch would send a blank line, whose error reply the next call would take as its own.
    if (requests.length === 0) return [];
    const answers = await Promise.all(this.#send(requests.map(requestLine)));
    return answers.map((line, i) => {
      if (line.startsWith('E ')) {
        throw new TnicError('rtl-harness', `RTL harness rejected request ${i}: ${line.slice(2)}`);
      }
      return parseResult(line);
    });
  }

  /**
   * Run a pipelined batch (see Harness::run_pipelined); mirrors
   * CycleKernel.runPipelined in the cycle model.
   */
  async runPipelined(requests: readonly KernelRequest[], opt: PipeOptions): Promise<PipeRun> {
    requests.forEach(checkRequest);
    checkStallPercent('command', opt.cmdStall);
    checkStallPercent('input', opt.inStall);
    checkStallPercent('result', opt.resStall);
    if (this.#exitError) throw this.#exitError;
    const lines: string[] = [];
    const done = new Promise<string[]>((resolve, reject) => {
      this.#pending.push({
        take: (line) => {
          lines.push(line);
          const last = line.startsWith('D ') || line.startsWith('E ');
          if (last) resolve(lines);
          return last;
        },
        reject,
      });
    });
    const head = `P ${opt.seed} ${opt.cmdStall} ${opt.inStall} ${opt.resStall} ${opt.trace}`;
    this.#child.stdin.write([head, ...requests.map(requestLine), 'G'].join('\n') + '\n');

    const out = await done;
    const last = out[out.length - 1]!;
    if (last.startsWith('E ')) {
      // The harness gives up after 50,000,000 edges, as the model does.
      const advice = last.includes('did not finish') ? '; split the batch, or report a stuck RTL with the batch' : '';
      throw new TnicError('rtl-harness', `pipelined batch rejected: ${last.slice(2)}${advice}`);
    }
    const run: PipeRun = { results: [], edges: 0, hash: 0, cycles: [], finished: true };
    for (const line of out) {
      if (line.startsWith('C ')) {
        run.cycles.push(line.split(' ').slice(2).map((w) => parseInt(w, 16)));
      } else if (line.startsWith('R ')) {
        const acceptEdge = Number(line.split(' ')[5]);
        run.results.push({ ...parseResult(line), acceptEdge });
      } else if (line.startsWith('D ')) {
        const [, edges, hash] = line.split(' ');
        run.edges = Number(edges);
        run.hash = parseInt(hash!, 16);
      }
    }
    return run;
  }

  /**
   * Hold the input stream's valid low in about `percent` of cycles, from a
   * seeded generator. Results stay equal; cycles grow by the stalls.
   */
  async setStalls(seed: number, percent: number): Promise<void> {
    checkStallPercent('input', percent);
    await this.#control(`S ${seed} ${percent}`);
  }

  async reset(): Promise<void> {
    await this.#control('Z');
  }

  /** Write a VCD of the following cycles to `path` ("-" stops); needs start({ trace: true }). */
  async trace(path: string): Promise<void> {
    await this.#control(`T ${path}`);
  }

  /** Send a harness control line; the harness replies "R ..." on success. */
  async #control(line: string): Promise<void> {
    const [answer] = this.#send([line]);
    const reply = await answer!;
    if (!reply.startsWith('R ')) throw new TnicError('rtl-harness', `'${line}': ${reply.slice(2)}`);
  }

  async close(): Promise<void> {
    if (this.#exitError) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.end();
    await exited;
  }
}

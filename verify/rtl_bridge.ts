/**
 * The RTL backend: a long-running Verilator harness process
 * (verify/harness/tnic_harness.cpp) driven one request line per
 * transaction over a pipe. A batch is written at once and answered at once,
 * which costs one pipe round trip per batch rather than per transaction.
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
import { ensureRtlBuilt, type BuildOptions } from './build_rtl.ts';

interface Pending {
  resolve: (line: string) => void;
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
    lines.on('line', (line) => this.#pending.shift()?.resolve(line));

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
      () => new Promise<string>((resolve, reject) => this.#pending.push({ resolve, reject })),
    );
    this.#child.stdin.write(lines.join('\n') + '\n');
    return answers;
  }

  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    requests.forEach(checkRequest);
    const answers = await Promise.all(this.#send(requests.map(requestLine)));
    return answers.map((line, i) => {
      if (line.startsWith('E ')) {
        throw new TnicError('rtl-harness', `RTL harness rejected request ${i}: ${line.slice(2)}`);
      }
      return parseResult(line);
    });
  }

  /**
   * Hold the input stream's valid low in about `percent` of cycles, from a
   * seeded generator. Results stay equal; cycles grow by the stalls.
   */
  async setStalls(seed: number, percent: number): Promise<void> {
    await this.#control(`S ${seed} ${percent}`);
  }

  async reset(): Promise<void> {
    await this.#control('Z');
  }

  /** Send a harness control line that answers "R ..." on success. */
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

/**
 * The Icarus backend: the RTL under Icarus Verilog, driven by a cocotb test
 * (verify/cocotb/test_tnic_bridge.py) that reads one JSON request per line
 * from a Unix socket and writes one JSON result per line back. The same
 * requests that drive the model and the Verilator harness thus drive a
 * second simulator, through a testbench that applies random backpressure on
 * the input stream and the result channel.
 *
 * A batch is written at once; the testbench runs it as back-to-back
 * commands, so a kernel that overlaps commands is exercised too. Cycle
 * counts include the backpressure stalls, so compare them only with
 * stallPercent 0.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { TnicError } from '../sim/errors.ts';
import {
  STATUS_NAMES,
  type AttestationKernel,
  type KernelRequest,
  type KernelResult,
} from '../sim/kernel_port.ts';
import { checkRequest } from '../sim/tnic_kernel.ts';
import { REPO_ROOT } from './build_rtl.ts';

export const COCOTB_RUNNER = join(REPO_ROOT, 'verify', 'cocotb', 'run.py');

/** Time for python3 to start, compile the RTL on first use and connect (ms). */
const CONNECT_TIMEOUT_MS = 120_000;
/** Characters of the simulator's output kept for error messages. */
const OUTPUT_TAIL = 4000;

export interface IcarusOptions {
  /** Seed of the backpressure and padding bytes (TNIC_SEED of the testbench). */
  seed?: number;
  /** Share of cycles, 0..90, with in_valid and res_ready held low. */
  stallPercent?: number;
  /** Called with each line the runner and simulator print. */
  log?: (line: string) => void;
}

interface Pending {
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Encode one request as a JSON line of the testbench protocol. */
export function requestJson(req: KernelRequest): string {
  switch (req.op) {
    case 'load-key':
      return JSON.stringify({ op: req.op, session: req.session, key: hex(req.key) });
    case 'set-id':
      return JSON.stringify({ op: req.op, device: req.device });
    case 'lock':
      return JSON.stringify({ op: req.op });
    case 'attest':
      return JSON.stringify({ op: req.op, session: req.session, msg: hex(req.msg) });
    case 'verify':
    case 'check':
      return JSON.stringify({
        op: req.op,
        session: req.session,
        device: req.device,
        counter: String(req.counter),
        tag: hex(req.tag),
        msg: hex(req.msg),
      });
  }
}

function parseResult(line: string, index: number): KernelResult {
  const answer = JSON.parse(line) as { status?: number; tag?: string; counter?: string; cycles?: number; error?: string };
  if (answer.error !== undefined) {
    throw new TnicError('icarus-bridge', `cocotb testbench rejected request ${index}: ${answer.error}`);
  }
  const status = STATUS_NAMES[answer.status ?? -1];
  if (status === undefined || answer.tag === undefined || answer.counter === undefined || answer.cycles === undefined) {
    throw new TnicError('icarus-bridge', `unexpected line from the cocotb testbench: '${line}'`);
  }
  return {
    status,
    tag: new Uint8Array(Buffer.from(answer.tag, 'hex')),
    counter: BigInt(answer.counter),
    cycles: answer.cycles,
  };
}

export class IcarusKernel implements AttestationKernel {
  readonly backend = 'icarus';
  #child: ChildProcess;
  #server: Server;
  #socket: Socket;
  #dir: string;
  #pending: Pending[] = [];
  #output: { tail: string };
  #exited: Promise<number | null>;
  #failure: Error | undefined;

  private constructor(child: ChildProcess, server: Server, socket: Socket, dir: string, output: { tail: string }, exited: Promise<number | null>) {
    this.#child = child;
    this.#server = server;
    this.#socket = socket;
    this.#dir = dir;
    this.#output = output;
    this.#exited = exited;

    const lines = createInterface({ input: socket });
    lines.on('line', (line) => this.#pending.shift()?.resolve(line));
    socket.on('close', () => this.#fail('the cocotb testbench closed its socket'));
    socket.on('error', (err) => this.#fail(`socket error: ${err.message}`));
    void exited.then((code) => this.#fail(`the cocotb simulation ended (exit code ${code})`));
  }

  /** Start a simulation (compiling the RTL if hw/ changed) and wait until its testbench connects. */
  static async start(options: IcarusOptions = {}): Promise<IcarusKernel> {
    const dir = mkdtempSync(join(tmpdir(), 'tnic-cocotb-'));
    const socketPath = join(dir, 'kernel.sock');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });

    const env: NodeJS.ProcessEnv = { ...process.env, TNIC_COCOTB_SOCKET: socketPath };
    if (options.seed !== undefined) env.TNIC_SEED = String(options.seed >>> 0);
    env.TNIC_STALL_PERCENT = String(options.stallPercent ?? 0);
    const child = spawn('python3', [COCOTB_RUNNER, 'bridge', '--test-dir', dir], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { tail: '' };
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.tail = `${output.tail}${line}\n`.slice(-OUTPUT_TAIL);
        options.log?.(line);
      });
    }
    const exited = new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(null));
      child.once('exit', (code) => resolve(code));
    });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

    try {
      const socket = await connection(server, exited, spawnError, output);
      return new IcarusKernel(child, server, socket, dir, output, exited);
    } catch (err) {
      child.kill();
      server.close();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  #fail(why: string): void {
    const err = new TnicError('icarus-bridge', `${why}; last output:\n${this.#output.tail.trim()}`);
    this.#failure ??= err;
    for (const p of this.#pending.splice(0)) p.reject(err);
  }

  #send(lines: string[]): Promise<string>[] {
    if (this.#failure) throw this.#failure;
    const answers = lines.map((_line) => new Promise<string>((resolve, reject) => this.#pending.push({ resolve, reject })));
    this.#socket.write(lines.join('\n') + '\n');
    return answers;
  }

  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    requests.forEach(checkRequest);
    if (requests.length === 0) return [];
    const answers = await Promise.all(this.#send(requests.map(requestJson)));
    return answers.map(parseResult);
  }

  async reset(): Promise<void> {
    const [answer] = this.#send([JSON.stringify({ op: 'reset' })]);
    parseResult(await answer!, 0);
  }

  /** Close the socket, wait for the simulation to end and remove its folder. */
  async close(): Promise<void> {
    this.#socket.end();
    const code = await this.#exited;
    this.#server.close();
    rmSync(this.#dir, { recursive: true, force: true });
    if (code !== 0 && this.#child.signalCode === null) {
      throw new TnicError('icarus-bridge', `the cocotb simulation failed (exit code ${code}):\n${this.#output.tail.trim()}`);
    }
  }
}

/** Wait for the testbench to connect; fail early if the simulation ends or never starts. */
function connection(
  server: Server,
  exited: Promise<number | null>,
  spawnError: Promise<Error>,
  output: { tail: string },
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new TnicError('icarus-bridge', `the cocotb testbench did not connect within ${CONNECT_TIMEOUT_MS / 1000} s:\n${output.tail.trim()}`));
    }, CONNECT_TIMEOUT_MS);
    server.once('connection', (socket) => {
      clearTimeout(timer);
      resolve(socket);
    });
    void spawnError.then((err) => {
      clearTimeout(timer);
      reject(new TnicError('icarus-bridge', `python3 could not start (${err.message}); install Python 3 and cocotb 2.1`));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new TnicError('icarus-bridge', `the cocotb simulation ended before connecting (exit code ${code}):\n${output.tail.trim()}`));
    });
  });
}

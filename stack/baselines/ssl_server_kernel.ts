/**
 * The ssl-server baseline device. The HMAC runs in a separate local server
 * process (hmac_server.ts), reached over a Unix socket in a fresh temporary
 * directory that only this user can enter. Keys travel to the server in
 * load-key requests and stay there, and this object keeps no copy.
 *
 * Requests are checked here before they are sent, so a request the command
 * port cannot carry throws the same InputError as on the model. close()
 * ends the connection, waits for the server to exit (killing it after
 * EXIT_TIMEOUT_MS) and removes the socket directory.
 *
 * Without close(), the directory is still removed. On process.exit(), as
 * on a closed stdout, an exit handler of this process kills the servers it
 * started and removes their directories. The server removes its own on
 * SIGINT, SIGTERM and SIGHUP, and when its stdin closes because this
 * process died. Only SIGKILL of both processes leaves it behind.
 */

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { TnicError } from '../../sim/errors.ts';
import type { KernelRequest, KernelResult } from '../../sim/kernel_port.ts';
import { checkRequest } from '../../sim/tnic_kernel.ts';
import type { BaselineKernel } from './baseline_kernel.ts';
import { CostMeter, type BaselineCosts } from './cost_model.ts';
import { decodeReply, encodeFrame, type DeviceFrame } from './server_protocol.ts';

const SERVER_FILE = fileURLToPath(new URL('./hmac_server.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const STARTUP_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 5_000;
/** Characters of the server's stderr kept for error messages. */
const STDERR_TAIL = 2000;

/** Socket directories and servers of devices not yet closed, for the exit handler. */
const openServers = new Map<string, ChildProcessWithoutNullStreams>();
let exitHandlerInstalled = false;

function trackServer(socketDir: string, child: ChildProcessWithoutNullStreams): void {
  if (!exitHandlerInstalled) {
    process.on('exit', removeOpenServers);
    exitHandlerInstalled = true;
  }
  openServers.set(socketDir, child);
}

/** Exit handler: runs synchronously, so it can only signal the servers, not wait for them. */
function removeOpenServers(): void {
  for (const [socketDir, child] of openServers) {
    child.kill('SIGKILL');
    rmSync(socketDir, { recursive: true, force: true });
  }
  openServers.clear();
}

function releaseServer(socketDir: string): void {
  openServers.delete(socketDir);
  rmSync(socketDir, { recursive: true, force: true });
}

interface Pending {
  resolve(results: KernelResult[]): void;
  reject(err: Error): void;
}

export class SslServerKernel implements BaselineKernel {
  readonly backend = 'ssl-server';
  readonly #meter = new CostMeter('ssl-server');
  readonly #latencies = new WeakMap<KernelResult, number>();
  readonly #pending = new Map<number, Pending>();
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #socket: Socket;
  readonly #socketDir: string;
  readonly #stderr: () => string;
  #nextId = 1;
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;

  private constructor(child: ChildProcessWithoutNullStreams, socket: Socket, socketDir: string, stderr: () => string) {
    this.#child = child;
    this.#socket = socket;
    this.#socketDir = socketDir;
    this.#stderr = stderr;
    const replies = createInterface({ input: socket, crlfDelay: Infinity });
    replies.on('line', (line) => this.#onReply(line));
    socket.on('error', (err) => this.#fail(new TnicError('ssl-server', `socket to the HMAC server failed: ${err.message}`)));
    socket.on('close', () => this.#fail(new TnicError('ssl-server', `the HMAC server closed the connection ${this.#stderr()}`.trim())));
    child.on('exit', (code, signal) => {
      const reason = signal ? `signal ${signal}` : `exit code ${code}`;
      this.#fail(new TnicError('ssl-server', `the HMAC server process ended (${reason}) ${this.#stderr()}`.trim()));
    });
  }

  /** Start a server process, wait until it listens and connect to it. */
  static async start(): Promise<SslServerKernel> {
    const socketDir = mkdtempSync(join(tmpdir(), 'tnic-ssl-server-'));
    const socketPath = join(socketDir, 'hmac.sock');
    const child = spawn(process.execPath, ['--import', TSX_LOADER, SERVER_FILE, socketPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    trackServer(socketDir, child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    child.stdin.on('error', () => {});

    try {
      await waitUntilListening(child, () => stderr);
      const socket = await connectTo(socketPath);
      return new SslServerKernel(child, socket, socketDir, () => stderr);
    } catch (err) {
      child.kill('SIGKILL');
      releaseServer(socketDir);
      throw err;
    }
  }

  /** Process id of the server, for checks that it is gone after close(). */
  get serverPid(): number | undefined {
    return this.#child.pid;
  }

  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    requests.forEach(checkRequest);
    const results = await this.#send({ id: this.#nextId++, kind: 'run', requests: [...requests] });
    if (results.length !== requests.length) {
      throw new TnicError('ssl-server', `the HMAC server returned ${results.length} results for ${requests.length} requests`);
    }
    results.forEach((res, i) => this.#latencies.set(res, this.#meter.charge(requests[i]!, res)));
    return results;
  }

  latencyNs(result: KernelResult): number | undefined {
    return this.#latencies.get(result);
  }

  get costs(): BaselineCosts {
    return this.#meter.costs;
  }

  async reset(): Promise<void> {
    await this.#send({ id: this.#nextId++, kind: 'reset' });
  }

  async close(): Promise<void> {
    this.#closing ??= this.#stop();
    return this.#closing;
  }

  async #stop(): Promise<void> {
    this.#fail(new TnicError('ssl-server', 'the ssl-server device is closed'));
    const exited = new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) resolve();
      else this.#child.once('exit', () => resolve());
    });
    this.#socket.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    releaseServer(this.#socketDir);
  }

  #send(frame: DeviceFrame): Promise<KernelResult[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.set(frame.id, { resolve, reject });
      this.#socket.write(encodeFrame(frame) + '\n');
    });
  }

  #onReply(line: string): void {
    let reply;
    try {
      reply = decodeReply(line);
    } catch (err) {
      this.#fail(new TnicError('ssl-server', `invalid reply from the HMAC server: ${(err as Error).message}`));
      return;
    }
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) {
      this.#fail(new TnicError('ssl-server', `the HMAC server replied to frame ${reply.id}, which is not pending`));
      return;
    }
    this.#pending.delete(reply.id);
    if ('error' in reply) pending.reject(new TnicError('ssl-server', `the HMAC server rejected frame ${reply.id}: ${reply.error}`));
    else pending.resolve(reply.results);
  }

  /** Fail every pending and later request with the first error recorded. */
  #fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(this.#failure);
    this.#pending.clear();
  }
}

/** Wait until the server writes "listening"; reject if it exits first or stays silent too long. */
function waitUntilListening(child: ChildProcessWithoutNullStreams, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const fail = (reason: string): void => {
      clearTimeout(timer);
      lines.close();
      reject(new TnicError('ssl-server', `the HMAC server did not start: ${reason} ${stderr()}`.trim()));
    };
    const timer = setTimeout(() => fail(`no "listening" line within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    lines.on('line', (line) => {
      if (line !== 'listening') return;
      clearTimeout(timer);
      lines.close();
      // Drain stdout, where nothing else is expected, so a full pipe cannot block the server.
      child.stdout.resume();
      resolve();
    });
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(signal ? `signal ${signal}` : `exit code ${code}`));
  });
}

function connectTo(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

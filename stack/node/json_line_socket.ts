/**
 * Newline-delimited JSON messages over a TCP socket, for the bootstrap
 * exchange between the IP vendor and a node. Every message is an object
 * with a string `type`; `{"type": "error", "message": ...}` reports that
 * the other side gave up. Lines are bounded and every wait has a timeout.
 */

import { Socket } from 'node:net';

import { TnicError } from '../../sim/errors.ts';
import { AttestationError } from '../bootstrap/attestation_error.ts';

export type JsonMessage = Record<string, unknown> & { type: string };

/**
 * Maximum line length in bytes. The largest bootstrap message is a provisioning
 * record of 16 sessions with 1,024-byte keys, about 33 KiB in hex.
 */
const MAX_LINE_BYTES = 64 * 1024;

export class JsonLineSocket {
  #buffer = '';
  #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #ended: Error | undefined;

  constructor(
    readonly socket: Socket,
    /** Names the other side in errors, e.g. "vendor 127.0.0.1:4000". */
    readonly peer: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (err) => this.#end(new TnicError('bootstrap-failed', `${peer}: ${err.message}`)));
    socket.on('close', () => this.#end(new TnicError('bootstrap-failed', `${peer} closed the connection`)));
  }

  /** Connect to `address:port`; rejects after `timeoutMs`. */
  static connect(address: string, port: number, peer: string, timeoutMs: number): Promise<JsonLineSocket> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TnicError('bootstrap-failed', `connecting to ${peer} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new TnicError('bootstrap-failed', `cannot connect to ${peer}: ${err.message}; check that it runs`));
      });
      socket.connect(port, address, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new JsonLineSocket(socket, peer));
      });
    });
  }

  send(message: JsonMessage): void {
    if (!this.socket.destroyed) this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Wait for the next message, which must have one of `types`; an error message from the peer throws. */
  async next(types: readonly string[], timeoutMs: number): Promise<JsonMessage> {
    const line = await this.#nextLine(timeoutMs, types);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new AttestationError('channel-failed', `${this.peer} sent a line that is not JSON`);
    }
    const message = value as JsonMessage;
    if (typeof value !== 'object' || value === null || typeof message.type !== 'string') {
      throw new AttestationError('channel-failed', `${this.peer} sent a message without a string 'type'`);
    }
    if (message.type === 'error') {
      throw new TnicError('bootstrap-failed', `${this.peer} gave up: ${String(message.message)}`);
    }
    if (!types.includes(message.type)) {
      throw new AttestationError(
        'channel-failed',
        `${this.peer} sent a '${message.type}' message; expected ${types.map((t) => `'${t}'`).join(' or ')}`,
      );
    }
    return message;
  }

  close(): void {
    this.socket.end();
  }

  async #nextLine(timeoutMs: number, types: readonly string[]): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#ended) throw this.#ended;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TnicError(
          'bootstrap-failed',
          `${this.peer} sent no ${types.join(' or ')} message within ${timeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.#lines.shift()!;
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let newline = this.#buffer.indexOf('\n');
    while (newline >= 0) {
      this.#lines.push(this.#buffer.slice(0, newline));
      this.#buffer = this.#buffer.slice(newline + 1);
      newline = this.#buffer.indexOf('\n');
    }
    if (this.#buffer.length > MAX_LINE_BYTES) {
      this.#end(new AttestationError('channel-failed', `${this.peer} sent a line over ${MAX_LINE_BYTES} bytes`));
      this.socket.destroy();
    }
    this.#waiter?.();
  }

  #end(error: Error): void {
    this.#ended ??= error;
    this.#waiter?.();
  }
}

/** Bytes from a hex field of a peer's message; throws AttestationError('channel-failed') otherwise. */
export function hexField(message: Record<string, unknown>, field: string, where: string): Uint8Array {
  const value = message[field];
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(value)) {
    throw new AttestationError('channel-failed', `field '${field}' of the ${where} is not lowercase hex`);
  }
  return new Uint8Array(Buffer.from(value, 'hex'));
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

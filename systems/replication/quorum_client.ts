/**
 * A client node of a replicated system. Its logical processes each issue
 * one operation at a time to the entry replica (the BFT leader or the chain
 * head) with authSend, attested on the client's own session. Its device
 * has that session's key and no replica's. Replicas send their results
 * straight to the client as signed replies, and a SignedReplyClient checks
 * them with the replicas' certified client keys alone. It completes an
 * operation once its `quorum` of different replicas reported the same
 * output, including its `required` replica when one is named (the chain's tail).
 */

import type { Connection } from '../../api/connection.ts';
import { InputError } from '../../api/errors.ts';
import type { History } from './history.ts';
import type { Channel } from './network.ts';
import { SeededRandom } from './prng.ts';
import type { ClientRequest } from './request.ts';
import { SerialQueue } from './serial.ts';
import type { MachineKind, Operation, Output } from './state_machine.ts';
import type { Decision, ReplyRejections, SignedReplyClient } from './signed_reply_client.ts';
import { encodeJson } from './wire.ts';
import { randomOperation } from './workload.ts';

export type { ReplicaIdentity } from './signed_reply_client.ts';

/** Resending of an operation that has not completed in time. */
export interface RetryOptions {
  /** One connection per replica, each on a session the client shares with that replica alone. */
  entries: Connection[];
  /** Milliseconds before the first resend; each further resend waits twice as long. */
  timeoutMs: number;
  /** Resends of one operation before it is left pending. */
  maxRetries: number;
}

export interface QuorumClientOptions {
  machine: MachineKind;
  /** Connection to the entry replica; requests go out with its authSend. */
  entry: Connection;
  /**
   * Without it an operation waits forever for its entry replica. With it,
   * an operation still pending after `timeoutMs` goes to every replica, so
   * followers notice a silent leader and a new leader learns the request.
   */
  retry?: RetryOptions;
  /** Channels on which replicas send signed replies. */
  resultChannels: Channel[];
  /** Checks the signed replies and decides when an operation completed. */
  replies: SignedReplyClient;
  processes: number;
  operationsPerProcess: number;
  seed: number;
  history: History;
}

export class QuorumClient {
  /** Completed operations with their accepted output, in completion order. */
  readonly accepted: { request: ClientRequest; output: Output }[] = [];

  /** Requests sent again after a timeout. */
  resent = 0;

  #serial = new SerialQueue();
  #random: SeededRandom;
  #issued = new Map<number, number>();
  /** Cancels the resend timer of each process's outstanding operation. */
  #retryTimers = new Map<number, () => void>();
  #entry: Connection;

  constructor(private readonly options: QuorumClientOptions) {
    this.#entry = options.entry;
    this.#random = new SeededRandom(options.seed);
    for (const channel of options.resultChannels) {
      channel.onReadable = () => this.#serial.run(() => this.#receive(channel));
    }
  }

  /** Replies and results the client did not count, by reason. */
  get rejected(): Readonly<ReplyRejections> {
    return this.options.replies.rejected;
  }

  /** Results that disagreed with the output the operation completed with, per replica device. */
  get conflicting(): ReadonlyMap<number, number> {
    return this.options.replies.conflicting;
  }

  /** Operations that completed. */
  get completed(): number {
    return this.accepted.length;
  }

  get pending(): number {
    return this.options.replies.pending;
  }

  /** Issue the first operation of every process. */
  start(): Promise<void> {
    return this.#serial.run(async () => {
      for (let process = 0; process < this.options.processes; process++) await this.#issue(process);
    });
  }

  async #issue(process: number): Promise<void> {
    const id = this.#issued.get(process) ?? 0;
    if (id >= this.options.operationsPerProcess) return;
    this.#issued.set(process, id + 1);

    const op: Operation = randomOperation(this.options.machine, this.#random);
    const request: ClientRequest = { process, id, op };
    this.options.replies.expect(request);
    this.options.history.invoke(process, op);
    const bytes = encodeJson({ t: 'request', ...request });
    this.#armRetry(request, encodeJson({ t: 'request', ...request, resend: true }), 0);
    if (this.#entry.error) return; // the entry replica is unreachable; the operation stays pending
    await this.#entry.authSend(bytes);
  }

  /** Send later operations first to replica `index` of the retry entries, e.g. a new leader. */
  useEntry(index: number): void {
    const entry = this.options.retry?.entries[index];
    if (entry === undefined) throw new InputError(`no retry entry ${index}; the client has ${this.options.retry?.entries.length ?? 0}`);
    this.#entry = entry;
  }

  /**
   * Resend `bytes` to every replica if `request` is still pending after the
   * timeout of retry `attempt`. The bytes mark the request as a resend, which
   * tells a follower that the client found the leader unresponsive.
   */
  #armRetry(request: ClientRequest, bytes: Uint8Array, attempt: number): void {
    const retry = this.options.retry;
    if (retry === undefined || attempt >= retry.maxRetries) return;
    const clock = this.options.entry.channel.clock;
    const cancel = clock.setTimer(retry.timeoutMs * 2 ** attempt, () =>
      this.#serial.run(async () => {
        this.#retryTimers.delete(request.process);
        this.resent += 1;
        this.#armRetry(request, bytes, attempt + 1);
        for (const entry of retry.entries) {
          if (!entry.error) await entry.authSend(bytes);
        }
      }),
    );
    this.#retryTimers.set(request.process, cancel);
  }

  async #receive(channel: Channel): Promise<void> {
    for (const bytes of channel.receive()) {
      for (const decision of await this.options.replies.receive(bytes)) await this.#complete(decision);
    }
  }

  async #complete({ request, output }: Decision): Promise<void> {
    this.#retryTimers.get(request.process)?.();
    this.#retryTimers.delete(request.process);
    this.accepted.push({ request, output });
    this.options.history.complete(request.process, output);
    await this.#issue(request.process);
  }
}

/**
 * A client node of a replicated system. Its logical processes each issue
 * one operation at a time to the entry replica (the BFT leader or the chain
 * head) with authSend. Replicas send their attested results straight to the
 * client; the client's device holds the replicas' session keys and checks
 * each result's tag with checkForwarded. An operation completes once
 * `quorum` different replicas reported the same output for it, including
 * the `required` replica when one is named (the chain's tail).
 *
 * NOTE: checkForwarded checks the tag only, not the counter, so a replayed
 * result passes the device; the client drops it because its request id is
 * no longer pending.
 */

import type { Connection } from '../../api/connection.ts';
import { decodeAttested, type AttestedMessage, type Tnic } from '../../api/tnic_api.ts';
import { InputError } from '../../api/errors.ts';
import type { History } from './history.ts';
import type { Channel } from './network.ts';
import { SeededRandom } from './prng.ts';
import { requestKey, type ClientRequest, type RequestResult } from './request.ts';
import { SerialQueue } from './serial.ts';
import type { MachineKind, Operation, Output } from './state_machine.ts';
import { decodeJson, encodeJson } from './wire.ts';
import { randomOperation } from './workload.ts';

export interface ReplicaIdentity {
  name: string;
  device: number;
  /** The session on which this replica attests everything it sends. */
  session: number;
}

export interface QuorumClientOptions {
  tnic: Tnic;
  machine: MachineKind;
  /** Connection to the entry replica; requests go out with its authSend. */
  entry: Connection;
  /** Channels on which replicas send results, read raw and checked with checkForwarded. */
  resultChannels: Channel[];
  replicas: ReplicaIdentity[];
  quorum: number;
  /** Device id of a replica whose result must be among the matching ones. */
  required?: number;
  /** Extracts the per-request results from a replica's decoded message; [] if it carries none. */
  resultsOf(payload: unknown): RequestResult[];
  processes: number;
  operationsPerProcess: number;
  seed: number;
  history: History;
}

/** Results the client dropped, by reason. */
export interface ClientRejections {
  malformed: number;
  'bad-tag': number;
  'unknown-replica': number;
  /** Valid results for requests that already completed or were never sent (late, duplicate or replayed). */
  stale: number;
}

interface PendingOperation {
  request: ClientRequest;
  /** Output reported by each replica device, as JSON text. */
  results: Map<number, string>;
}

export class QuorumClient {
  readonly rejected: ClientRejections = { malformed: 0, 'bad-tag': 0, 'unknown-replica': 0, stale: 0 };
  /** Results that disagreed with the output the operation completed with, per replica device. */
  readonly conflicting = new Map<number, number>();
  /** Completed operations with their accepted output, in completion order. */
  readonly accepted: { request: ClientRequest; output: Output }[] = [];

  #serial = new SerialQueue();
  #random: SeededRandom;
  #pending = new Map<string, PendingOperation>();
  #issued = new Map<number, number>();
  #byDevice: Map<number, ReplicaIdentity>;
  /** Accepted output of every completed request, as JSON text, to classify late results. */
  #outcomes = new Map<string, string>();

  constructor(private readonly options: QuorumClientOptions) {
    if (!Number.isInteger(options.quorum) || options.quorum < 1 || options.quorum > options.replicas.length) {
      throw new InputError(`quorum ${options.quorum} must be 1..${options.replicas.length} replicas`);
    }
    this.#random = new SeededRandom(options.seed);
    this.#byDevice = new Map(options.replicas.map((r) => [r.device, r]));
    for (const channel of options.resultChannels) {
      channel.onReadable = () => this.#serial.run(() => this.#receive(channel));
    }
  }

  /** Operations that completed. */
  get completed(): number {
    return this.accepted.length;
  }

  get pending(): number {
    return this.#pending.size;
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
    this.#pending.set(requestKey(request), { request, results: new Map() });
    this.options.history.invoke(process, op);
    if (this.options.entry.error) return; // the entry replica is unreachable; the operation stays pending
    await this.options.entry.authSend(encodeJson({ t: 'request', ...request }));
  }

  async #receive(channel: Channel): Promise<void> {
    for (const bytes of channel.receive()) await this.#check(bytes);
  }

  async #check(bytes: Uint8Array): Promise<void> {
    let header: AttestedMessage;
    try {
      header = decodeAttested(bytes);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      this.rejected.malformed += 1;
      return;
    }
    const replica = this.#byDevice.get(header.device);
    if (replica === undefined || replica.session !== header.session) {
      this.rejected['unknown-replica'] += 1;
      return;
    }
    const verdict = await this.options.tnic.checkForwarded(bytes);
    if (!verdict.accepted) {
      this.rejected[verdict.reason === 'malformed' ? 'malformed' : 'bad-tag'] += 1;
      return;
    }

    const payload = decodeJson(header.msg);
    if (payload === undefined) {
      this.rejected.malformed += 1;
      return;
    }
    for (const result of this.options.resultsOf(payload)) await this.#record(replica.device, result);
  }

  async #record(device: number, result: RequestResult): Promise<void> {
    const key = requestKey(result);
    const pending = this.#pending.get(key);
    if (pending === undefined) {
      const outcome = this.#outcomes.get(key);
      if (outcome !== undefined && outcome !== JSON.stringify(result.output)) this.#countConflict(device);
      else this.rejected.stale += 1;
      return;
    }
    pending.results.set(device, JSON.stringify(result.output));
    const output = this.#decided(pending);
    if (output === undefined) return;

    this.#pending.delete(key);
    this.#outcomes.set(key, JSON.stringify(output));
    for (const [replica, reported] of pending.results) {
      if (reported !== JSON.stringify(output)) this.#countConflict(replica);
    }
    this.accepted.push({ request: pending.request, output });
    this.options.history.complete(pending.request.process, output);
    await this.#issue(pending.request.process);
  }

  #countConflict(device: number): void {
    this.conflicting.set(device, (this.conflicting.get(device) ?? 0) + 1);
  }

  /** The output that `quorum` replicas (with the required one) agree on, if any. */
  #decided(pending: PendingOperation): Output | undefined {
    const votes = new Map<string, number[]>();
    for (const [device, output] of pending.results) votes.set(output, [...(votes.get(output) ?? []), device]);
    for (const [output, devices] of votes) {
      const required = this.options.required;
      if (devices.length < this.options.quorum) continue;
      if (required !== undefined && !devices.includes(required)) continue;
      return JSON.parse(output) as Output;
    }
    return undefined;
  }
}

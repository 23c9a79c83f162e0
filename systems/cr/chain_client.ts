/**
 * The client node of the chain-replicated store. Its logical processes
 * each issue one operation at a time to the head with authSend, attested
 * on the client session of that node. Nodes send their results straight to
 * the client as signed replies, and ChainReplies completes an operation
 * once every node of the current chain reported the same output.
 *
 * The configuration service sends each new configuration as a signed
 * reply. The client then counts only the new chain's nodes, and if the head
 * changed, it sends every pending request to the new head, which skips the
 * ones it applied already.
 */

import { Connection } from '../../api/connection.ts';
import type { Tnic } from '../../api/tnic_api.ts';
import type { History } from '../replication/history.ts';
import type { Channel, Network } from '../replication/network.ts';
import { SeededRandom } from '../replication/prng.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import type { ClientRequest } from '../replication/request.ts';
import { SerialQueue } from '../replication/serial.ts';
import type { Decision, ReplyRejections } from '../replication/signed_reply_client.ts';
import type { MachineKind, Operation, Output } from '../replication/state_machine.ts';
import { encodeJson } from '../replication/wire.ts';
import { randomOperation } from '../replication/workload.ts';
import type { ChainReplies } from './chain_replies.ts';
import type { ChainSessions } from './sessions.ts';

export interface ChainClientOptions {
  machine: MachineKind;
  /** The client's node name on the network. */
  name: string;
  /** The client's device: the client session of every node that may become head, and no other. */
  tnic: Tnic;
  network: Network;
  /** Every node of the original chain, in order. */
  members: readonly ReplicaIdentity[];
  sessions: ChainSessions;
  replies: ChainReplies;
  /** Node name of the configuration service, whose announcements arrive as signed replies. */
  service?: string;
  processes: number;
  operationsPerProcess: number;
  seed: number;
  history: History;
}

export class ChainClient {
  /** Completed operations with their accepted output, in completion order. */
  readonly accepted: { request: ClientRequest; output: Output }[] = [];
  /** Requests sent again to a new head after a reconfiguration. */
  resent = 0;

  #serial = new SerialQueue();
  #random: SeededRandom;
  #issued = new Map<number, number>();
  /** The pending request of each process. */
  #outstanding = new Map<number, ClientRequest>();
  /** Connection to each node that may become head, by original position. */
  #entries = new Map<number, Connection>();
  #head: string;

  constructor(private readonly options: ChainClientOptions) {
    this.#random = new SeededRandom(options.seed);
    this.#head = options.members[0]!.name;
    const host = options.network.node(options.name);
    options.members.forEach((member, i) => {
      const channel = host.channel(member.name);
      if (options.sessions.hasClient(i)) {
        this.#entries.set(i, new Connection(options.tnic, channel, options.sessions.client(i), member.device));
      }
      channel.onReadable = () => this.#serial.run(() => this.#receive(channel));
    });
    if (options.service !== undefined) {
      const channel = host.channel(options.service);
      channel.onReadable = () => this.#serial.run(() => this.#receiveAnnouncements(channel));
    }
  }

  /** Replies and results the client did not count, by reason. */
  get rejected(): Readonly<ReplyRejections> {
    return this.options.replies.rejected;
  }

  /** Results that disagreed with the output the operation completed with, per node device. */
  get conflicting(): ReadonlyMap<number, number> {
    return this.options.replies.conflicting;
  }

  get completed(): number {
    return this.accepted.length;
  }

  get pending(): number {
    return this.options.replies.pending;
  }

  /** The epoch of the configuration the client counts results by. */
  get epoch(): number {
    return this.options.replies.epoch;
  }

  /** Node names of the chain the client counts results of, head first. */
  get chain(): string[] {
    return this.options.replies.chain;
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
    this.#outstanding.set(process, request);
    await this.#send(request);
  }

  /** Send `request` to the current head; an unreachable head leaves it pending until the next configuration. */
  async #send(request: ClientRequest): Promise<void> {
    const head = this.options.members.findIndex((m) => m.name === this.#head);
    const entry = this.#entries.get(head);
    if (entry === undefined || entry.error) return;
    await entry.authSend(encodeJson({ t: 'request', ...request }));
  }

  async #receive(channel: Channel): Promise<void> {
    for (const bytes of channel.receive()) {
      for (const decision of await this.options.replies.receive(bytes)) await this.#complete(decision);
    }
  }

  async #receiveAnnouncements(channel: Channel): Promise<void> {
    for (const bytes of channel.receive()) {
      const announced = await this.options.replies.announcement(bytes);
      if (announced === undefined) continue;
      const head = announced.config.chain[0]!;
      // Requests issued from here on go to the new head already, so only the earlier ones are re-sent.
      const resend = head === this.#head ? [] : [...this.#outstanding.values()];
      this.#head = head;
      for (const decision of announced.decisions) await this.#complete(decision);
      for (const request of resend) {
        if (this.#outstanding.get(request.process) !== request) continue;
        this.resent += 1;
        await this.#send(request);
      }
    }
  }

  async #complete({ request, output }: Decision): Promise<void> {
    this.#outstanding.delete(request.process);
    this.accepted.push({ request, output });
    this.options.history.complete(request.process, output);
    await this.#issue(request.process);
  }
}

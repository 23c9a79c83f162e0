/**
 * The configuration service of Byzantine chain replication: it takes
 * accusations from chain nodes, removes a node only when the accusation is
 * proven, and announces each new configuration (epoch, chain order) to the
 * remaining nodes and to the client.
 *
 * Trust: the service is trusted, as in the chain replication literature
 * (van Renesse and Schneider, OSDI 2004, assume a master that does not
 * fail) and in the TNIC paper, whose chain replication relies on a trusted
 * configuration service. It cannot be a replicated function of the chain
 * nodes: a chain of f + 1 nodes tolerates f Byzantine ones, so the correct
 * nodes may be a single node, and no vote among the nodes could outweigh
 * the faulty ones. The service trusts no node, though. It checks every
 * accusation itself (evidence.ts): evidence of a wrong output or an
 * equivocation is a set of the accused's attested messages, which the
 * service checks with checkForwarded and re-executes. An unreachable node
 * is removed only if the service's own probe goes unanswered, and a node
 * accused of withholding a message only if it cannot produce it.
 *
 * NOTE: a partition between the service and a correct node gets that node
 * removed. That costs one tolerated fault, never safety. A partition
 * between two correct neighbours, with both still reachable from the
 * service, is not resolved: neither can prove the other faulty.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { InputError, TnicError } from '../../api/errors.ts';
import { decodeAttested, encodeSignedReply, type Tnic } from '../../api/tnic_api.ts';
import { trySend, type Channel, type Network } from '../replication/network.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { SerialQueue } from '../replication/serial.ts';
import type { MachineKind } from '../replication/state_machine.ts';
import { decodeJson, encodeJson } from '../replication/wire.ts';
import {
  parseNodeToService,
  type AccuseMessage,
  type AccusationKind,
  type ConfigMessage,
  type ServiceToNode,
} from './config_messages.ts';
import { checkEvidence, type Accusation, type EvidenceContext } from './evidence.ts';
import { fromHex } from './messages.ts';
import type { ChainSessions } from './sessions.ts';

export const CONFIG_SERVICE_NAME = 'config';
export const CONFIG_SERVICE_DEVICE = 200;

/**
 * Milliseconds the service waits for the reply to a probe or challenge
 * before it removes the node. A crashed node is usually confirmed sooner:
 * the service's channel to it fails once its retry budget (about 1.1 s) is
 * spent. The wait is long so that a slow machine running the UDP transport
 * does not remove a correct node.
 */
export const PROBE_TIMEOUT_MS = 5_000;

/** The service's decision on one accusation. */
export interface ServiceDecision {
  accuser: string;
  suspect: string;
  kind: AccusationKind;
  outcome: 'removed' | 'rejected';
  detail: string;
  /** The epoch in which the accusation was settled (before a removal). */
  epoch: number;
}

export interface ConfigServiceOptions {
  name: string;
  /** The service's device: every link session, one session per node and the announcement session. */
  tnic: Tnic;
  network: Network;
  /** Every node of the original chain, in order. */
  members: readonly ReplicaIdentity[];
  sessions: ChainSessions;
  /** The client node, which receives each configuration as a signed reply. */
  client: string;
  machine: MachineKind;
  /** Receives a line for every decision. */
  log?(line: string): void;
}

/** A probe or challenge waiting for the accused's reply. */
interface OpenCheck {
  nonce: number;
  accuser: string;
  kind: AccusationKind;
  /** challenge only: the message the accused must produce. */
  session?: number;
  counter?: bigint;
  cancel: () => void;
}

export class ConfigService {
  readonly decisions: ServiceDecision[] = [];
  readonly connections: Connection[] = [];
  /** Messages from nodes that did not parse or did not fit an accusation, counted and dropped. */
  malformed = 0;

  #serial = new SerialQueue();
  #epoch = 1;
  #chain: number[];
  #client: Channel;
  #context: EvidenceContext;
  #failed = new Set<number>();
  #assembling = new Map<number, { header: AccuseMessage; parts: Uint8Array[] }>();
  #checks = new Map<number, OpenCheck>();
  #nonce = 0;

  constructor(private readonly options: ConfigServiceOptions) {
    const { members, sessions, tnic } = options;
    if (sessions.size !== members.length || sessions.announcements === undefined) {
      throw new InputError(`the session layout must be ChainSessions.withService(${members.length})`);
    }
    this.#chain = members.map((_, i) => i);
    this.#context = { tnic, members, sessions, machine: options.machine };
    const host = options.network.node(options.name);
    this.#client = host.channel(options.client);
    members.forEach((member, i) => {
      const connection = new Connection(tnic, host.channel(member.name), sessions.service(i), member.device);
      this.connections.push(connection);
      connection.channel.onReadable = () => this.#serial.run(() => this.#pollNode(i));
    });
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Node names of the current chain, head first. */
  get chain(): string[] {
    return this.#chain.map((i) => this.options.members[i]!.name);
  }

  async #pollNode(node: number): Promise<void> {
    for (const m of await this.#poll(node)) {
      const message = parseNodeToService(decodeJson(m.msg));
      if (message === undefined) {
        this.malformed += 1;
        continue;
      }
      switch (message.t) {
        case 'accuse':
          this.#assembling.delete(node);
          if (message.parts === 0) await this.#settle(node, message, []);
          else this.#assembling.set(node, { header: message, parts: [] });
          break;
        case 'evidence':
          await this.#addEvidence(node, message.id, message.index, fromHex(message.message));
          break;
        case 'alive':
          this.#answered(node, message.nonce, 'it answered the probe');
          break;
        case 'produce':
          await this.#produced(node, message.nonce, fromHex(message.message));
          break;
      }
    }
  }

  async #poll(node: number): Promise<ReceivedMessage[]> {
    if (this.#failed.has(node)) return [];
    try {
      return await this.connections[node]!.poll();
    } catch (error) {
      if (!(error instanceof TnicError)) throw error;
      this.#failed.add(node);
      this.options.log?.(`config: connection to ${this.options.members[node]!.name} failed: ${error.message}`);
      const check = this.#checks.get(node);
      if (check !== undefined) await this.#confirm(node, check, `the service's channel to it failed: ${error.message}`);
      return [];
    }
  }

  async #addEvidence(node: number, id: number, index: number, bytes: Uint8Array): Promise<void> {
    const open = this.#assembling.get(node);
    if (open === undefined || open.header.id !== id || open.parts.length !== index) {
      this.#assembling.delete(node);
      this.malformed += 1;
      return;
    }
    open.parts.push(bytes);
    if (open.parts.length < open.header.parts) return;
    this.#assembling.delete(node);
    await this.#settle(node, open.header, open.parts);
  }

  /** Check one complete accusation and act on the verdict. */
  async #settle(node: number, header: AccuseMessage, messages: Uint8Array[]): Promise<void> {
    const accuser = this.options.members[node]!.name;
    const suspect = this.options.members.findIndex((m) => m.name === header.suspect);
    const reject = (detail: string): void => this.#decide(accuser, header.suspect, header.kind, 'rejected', detail);
    if (!this.#chain.includes(node)) return reject(`${accuser} is not in the chain of epoch ${this.#epoch}`);
    if (suspect >= 0 && !this.#chain.includes(suspect)) {
      return reject(`${header.suspect} is not in the chain of epoch ${this.#epoch}`);
    }

    const accusation: Accusation = {
      accuser,
      suspect: header.suspect,
      kind: header.kind,
      seq: header.seq,
      session: header.session,
      counter: header.counter === undefined ? undefined : BigInt(header.counter),
      messages,
    };
    const verdict = await checkEvidence(accusation, this.#context);
    const needsAnswer = verdict.outcome === 'probe' || verdict.outcome === 'challenge';
    if (needsAnswer && this.#checks.has(suspect)) {
      return reject(`a probe or challenge of ${header.suspect} is already open`);
    }
    switch (verdict.outcome) {
      case 'rejected':
        return reject(verdict.detail);
      case 'proven':
        return this.#remove(suspect, accuser, header.kind, verdict.detail);
      case 'probe':
        return this.#open(suspect, accuser, header.kind, { t: 'probe', nonce: ++this.#nonce });
      case 'challenge': {
        const nonce = ++this.#nonce;
        const challenge = { t: 'challenge', nonce, session: verdict.session, counter: verdict.counter.toString(), to: accuser } as const;
        return this.#open(suspect, accuser, header.kind, challenge, verdict.session, verdict.counter);
      }
    }
  }

  /** Send a probe or challenge to `suspect` and wait for its reply. Without a reply in time, the suspect is removed. */
  async #open(
    suspect: number,
    accuser: string,
    kind: AccusationKind,
    request: ServiceToNode & { nonce: number },
    session?: number,
    counter?: bigint,
  ): Promise<void> {
    const check: OpenCheck = { nonce: request.nonce, accuser, kind, session, counter, cancel: () => {} };
    this.#checks.set(suspect, check);
    if (!(await this.#send(suspect, request))) {
      await this.#confirm(suspect, check, "the service's channel to it failed");
      return;
    }
    const clock = this.connections[suspect]!.channel.clock;
    check.cancel = clock.setTimer(PROBE_TIMEOUT_MS, () =>
      this.#serial.run(async () => {
        if (this.#checks.get(suspect) === check) await this.#confirm(suspect, check, `no answer within ${PROBE_TIMEOUT_MS} ms`);
      }),
    );
  }

  #answered(node: number, nonce: number, detail: string): void {
    const check = this.#checks.get(node);
    if (check === undefined || check.nonce !== nonce) return;
    check.cancel();
    this.#checks.delete(node);
    this.#decide(check.accuser, this.options.members[node]!.name, check.kind, 'rejected', detail);
  }

  /** Accept the response to a challenge only if it is the genuine message the challenge named. */
  async #produced(node: number, nonce: number, bytes: Uint8Array): Promise<void> {
    const check = this.#checks.get(node);
    if (check === undefined || check.nonce !== nonce) return;
    let header;
    try {
      header = decodeAttested(bytes);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      this.malformed += 1;
      return;
    }
    const genuine =
      header.device === this.options.members[node]!.device &&
      header.session === check.session &&
      header.counter === check.counter &&
      (await this.options.tnic.checkForwarded(bytes)).accepted;
    if (!genuine) {
      this.malformed += 1;
      return;
    }
    this.#answered(node, nonce, `it produced counter ${check.counter} on session ${check.session} and retransmitted it`);
  }

  async #confirm(suspect: number, check: OpenCheck, detail: string): Promise<void> {
    check.cancel();
    this.#checks.delete(suspect);
    await this.#remove(suspect, check.accuser, check.kind, detail);
  }

  /** Remove `suspect`, unless it is the last node, and announce the new configuration. */
  async #remove(suspect: number, accuser: string, kind: AccusationKind, detail: string): Promise<void> {
    const name = this.options.members[suspect]!.name;
    if (this.#chain.length === 1) {
      this.#decide(accuser, name, kind, 'rejected', `${detail}; but ${name} is the last node of the chain, so it stays`);
      return;
    }
    this.#decide(accuser, name, kind, 'removed', detail);
    this.#chain = this.#chain.filter((i) => i !== suspect);
    this.#epoch += 1;
    this.options.log?.(`config: epoch ${this.#epoch}, chain ${this.chain.join(' -> ')}`);
    await this.#announce(suspect);
  }

  /** Send the configuration to every node of it, to the removed node and to the client. */
  async #announce(removed: number): Promise<void> {
    const config: ConfigMessage = { t: 'config', epoch: this.#epoch, chain: this.chain };
    for (const node of [...this.#chain, removed]) await this.#send(node, config);
    const signed = await this.options.tnic.attestAndSign(this.options.sessions.announcements!, encodeJson(config));
    trySend(this.#client, encodeSignedReply(signed));
  }

  /** Attest and send `message` to node `node`; returns false when the connection failed. */
  async #send(node: number, message: ServiceToNode): Promise<boolean> {
    const connection = this.connections[node]!;
    if (connection.error) return false;
    try {
      await connection.authSend(encodeJson(message));
      return true;
    } catch (error) {
      if (connection.error) return false;
      throw error;
    }
  }

  #decide(accuser: string, suspect: string, kind: AccusationKind, outcome: ServiceDecision['outcome'], detail: string): void {
    this.decisions.push({ accuser, suspect, kind, outcome, detail, epoch: this.#epoch });
    this.options.log?.(`config: ${outcome} ${accuser}'s ${kind} accusation against ${suspect}: ${detail}`);
  }
}

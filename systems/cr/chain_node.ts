/**
 * A node of a Byzantine chain-replicated key-value store on the TNIC API.
 *
 * The head orders client requests, executes each and sends
 * chain(epoch, seq, request, [its output]) to its successor. Every later
 * node takes messages from its predecessor in counter order and checks the
 * embedded proof back to the head: each level with checkForwarded, and
 * each level's outputs a prefix of the next. It then re-executes the
 * request and compares its output with every earlier one. Only then does
 * it apply the request, append its own output, attest and forward the
 * message. It also replies to the client with the same attested bytes as
 * a signed reply (attestAndSign), which the client checks with the node's
 * certified client key. Reads traverse the whole chain too.
 *
 * With a configuration service (config_service.ts), a node that detects a
 * wrong output, an equivocation, a counter gap or an unreachable neighbour
 * sends the service an accusation with the attested messages that prove
 * it. When the service announces a new configuration, the remaining nodes
 * link up over link sessions their devices already have. Once its own
 * successor is ready, each node sends its new predecessor a ready message
 * with the seq up to which every node from it to the tail applied. The
 * predecessor re-sends everything after that from its log in the new epoch. A node
 * skips executing a seq it already applied, but forwards it and replies
 * again. Without a service the chain never changes, and a node that
 * detects a faulty predecessor only records it and stops taking its
 * messages.
 *
 * NOTE: a wrong output of the tail is exposed by no node, because no node
 * comes after it; the client never completes the operation, so the chain
 * stays safe but stalls. A crashed head is not noticed either: only the
 * client sends to it. Proofs that do not check and skipped seqs are
 * recorded as detections but not sent to the service.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { CounterGapError, InputError, TnicError } from '../../api/errors.ts';
import { decodeAttested, encodeSignedReply, type Tnic } from '../../api/tnic_api.ts';
import type { Detection, DetectionKind } from '../replication/detection.ts';
import { Executor } from '../replication/executor.ts';
import { trySend, type Channel, type Network } from '../replication/network.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { falsifyOutput, parseRequest, type ClientRequest } from '../replication/request.ts';
import { SerialQueue } from '../replication/serial.ts';
import { createMachine, type Output } from '../replication/state_machine.ts';
import { decodeJson, encodeJson, isRecord } from '../replication/wire.ts';
import { Accuser, type AccusationFields, type SentAccusation } from './accuser.ts';
import { ChainLog, type LogEntry } from './chain_log.ts';
import { parseServiceToNode, type AccusationKind, type ConfigMessage } from './config_messages.ts';
import { falseAccusations } from './false_accusations.ts';
import { parseChainMessage, parseReadyMessage, toHex, type ChainMessage, type ReadyMessage } from './messages.ts';
import { checkProof, claimOf, findEquivocation, sameRequest, type ChainLevel } from './proof.ts';
import { RecordingChannel } from './recording_channel.ts';
import { ChainSessions } from './sessions.ts';

/**
 * Misbehaviour of a chain node; 'correct' follows the protocol. A 'lying'
 * node reports wrong outputs from `fromSeq` on; a 'false-accuser' sends
 * the service false accusations against `target` once it applied `atSeq`.
 */
export type ChainBehavior =
  | { kind: 'correct' }
  | { kind: 'lying'; fromSeq: number }
  | { kind: 'false-accuser'; target: string; atSeq: number };

export interface ChainNodeOptions {
  /** Position in `chain`, the original chain; 0 is the head, the last is the tail. */
  index: number;
  chain: readonly ReplicaIdentity[];
  client: ReplicaIdentity;
  tnic: Tnic;
  network: Network;
  behavior: ChainBehavior;
  /**
   * Sessions of every link, client and service connection. The default,
   * ChainSessions.fixed(chain, client), has the original chain's links only:
   * node i sends on chain[i].session and the head takes requests on client.session.
   */
  sessions?: ChainSessions;
  /** The configuration service; without it the chain never changes. */
  service?: { name: string; device: number };
}

/**
 * Milliseconds a counter gap on the link from the predecessor may stay
 * open before the node accuses it. The channel below is reliable and FIFO,
 * so a gap means that the predecessor's host withheld a message. The wait
 * only lets messages already queued be polled first.
 */
export const GAP_TIMEOUT_MS = 200;
/** Messages of a later epoch kept until the node learns that epoch; later ones are dropped. */
const MAX_FUTURE_MESSAGES = 4096;

interface Link {
  peer: number;
  connection: Connection;
  recorder: RecordingChannel;
}

interface FutureMessage {
  peer: number;
  message: ChainMessage | ReadyMessage;
  bytes: Uint8Array;
}

export class ChainNode {
  readonly detections: Detection[] = [];
  /** Every connection of this node: links, then the client's, then the service's. */
  readonly connections: Connection[] = [];
  /** Seqs this node sent down the chain again in a later epoch, after applying them in an earlier one. */
  resent = 0;

  #serial = new SerialQueue();
  #log = new ChainLog();
  #executor = new Executor(createMachine('kv'));
  #sessions: ChainSessions;
  #links = new Map<number, Link>();
  #client: Channel;
  #accuser: Accuser | undefined;
  #failed = new Set<Connection>();

  #epoch = 1;
  /** Original positions of the current chain's nodes, head first. */
  #members: number[];
  #removed = false;
  /** Whether the successor is ready for this epoch's messages; always true for the tail. */
  #successorReady = true;
  /** The highest seq sent to the successor (or replied as tail) in this epoch, or known to be there. */
  #forwarded = 0;
  /** The highest seq applied when this epoch began. */
  #appliedAtEpochStart = 0;
  #future: FutureMessage[] = [];
  /** Client requests that arrived while this node was not the head. */
  #heldRequests: ClientRequest[] = [];
  /** Peers whose chain messages this node ignores until the next epoch, after it exposed them. */
  #ignored = new Set<number>();
  #falseAccusationsSent = false;
  /** Attested bytes this node sent on a link, by session and counter, to meet challenges. */
  #sent = new Map<string, Uint8Array>();
  #gapTimer: { peer: number; delivered: number; cancel: () => void } | undefined;

  constructor(private readonly options: ChainNodeOptions) {
    const { index, chain, client, tnic } = options;
    if (!Number.isInteger(index) || index < 0 || index >= chain.length) {
      throw new InputError(`chain node index ${index} must be 0..${chain.length - 1}`);
    }
    const behavior = options.behavior;
    if (behavior.kind === 'false-accuser' && !chain.some((r) => r.name === behavior.target)) {
      const names = chain.map((r) => r.name).join(', ');
      throw new InputError(`false-accuser target '${behavior.target}' is not a chain node; use one of: ${names}`);
    }
    const sessions = options.sessions ?? ChainSessions.fixed(chain, client);
    if (sessions.size !== chain.length) {
      throw new InputError(
        `the session layout is for ${sessions.size} nodes, but the chain has ${chain.length}; build both for one chain length`,
      );
    }
    if (options.service !== undefined && !sessions.reconfigurable) {
      throw new InputError(
        `a chain with a configuration service needs the session layout ChainSessions.withService(${chain.length})`,
      );
    }
    this.#sessions = sessions;
    this.#members = chain.map((_, i) => i);
    const host = options.network.node(this.identity.name);

    for (let peer = 0; peer < chain.length; peer++) {
      if (peer === index || !sessions.hasLink(index, peer)) continue;
      const recorder = new RecordingChannel(host.channel(chain[peer]!.name));
      const connection = new Connection(tnic, recorder, sessions.link(index, peer), chain[peer]!.device);
      this.#links.set(peer, { peer, connection, recorder });
      this.connections.push(connection);
      recorder.onReadable = () => this.#serial.run(() => this.#pollLink(peer));
    }

    this.#client = host.channel(client.name);
    if (sessions.hasClient(index)) {
      const connection = new Connection(tnic, this.#client, sessions.client(index), client.device);
      this.connections.push(connection);
      this.#client.onReadable = () => this.#serial.run(() => this.#pollClient(connection));
    }

    const service = options.service;
    if (service !== undefined) {
      const connection = new Connection(tnic, host.channel(service.name), sessions.service(index), service.device);
      this.#accuser = new Accuser(connection);
      this.connections.push(connection);
      connection.channel.onReadable = () => this.#serial.run(() => this.#pollService(connection));
    }
  }

  get identity(): ReplicaIdentity {
    return this.options.chain[this.options.index]!;
  }

  /** Sequence number of the last request this node applied. */
  get appliedSeq(): number {
    return this.#log.appliedSeq;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Node names of the current chain, head first, in the latest configuration this node received. */
  get members(): string[] {
    return this.#members.map((i) => this.options.chain[i]!.name);
  }

  /** Accusations this node sent to the configuration service. */
  get accusations(): readonly SentAccusation[] {
    return this.#accuser?.sent ?? [];
  }

  /** True once a configuration without this node arrived. */
  get removed(): boolean {
    return this.#removed;
  }

  /** Return the request this node applied as `seq` and its own output, or undefined if it applied none. */
  applied(seq: number): { request: ClientRequest; output: Output } | undefined {
    if (!Number.isInteger(seq) || seq < 1 || seq > this.#log.appliedSeq) return undefined;
    const { request, output } = this.#log.get(seq);
    return { request, output };
  }

  // Positions in the current chain.

  get #level(): number {
    return this.#members.indexOf(this.options.index);
  }

  get #predecessor(): number | undefined {
    return this.#level > 0 ? this.#members[this.#level - 1] : undefined;
  }

  get #successor(): number | undefined {
    return this.#level >= 0 ? this.#members[this.#level + 1] : undefined;
  }

  #levels(): ChainLevel[] {
    return this.#members.map((index) => ({ ...this.options.chain[index]!, index }));
  }

  #name(index: number): string {
    return this.options.chain[index]!.name;
  }

  // Receiving.

  async #poll(connection: Connection, peer: string): Promise<ReceivedMessage[]> {
    if (this.#failed.has(connection)) return [];
    try {
      return await connection.poll();
    } catch (error) {
      if (!(error instanceof TnicError)) throw error;
      this.#failed.add(connection);
      const kind: DetectionKind = error instanceof CounterGapError ? 'counter-gap' : 'unreachable';
      this.#detect(peer, kind, error.message);
      const index = this.options.chain.findIndex((r) => r.name === peer);
      if (kind === 'unreachable' && this.#isNeighbour(index)) await this.#accuse(index, 'unreachable', {}, []);
      return [];
    }
  }

  #isNeighbour(index: number): boolean {
    return index >= 0 && !this.#removed && (index === this.#predecessor || index === this.#successor);
  }

  async #pollClient(connection: Connection): Promise<void> {
    for (const m of await this.#poll(connection, this.options.client.name)) {
      const payload = decodeJson(m.msg);
      const request = isRecord(payload) && payload.t === 'request' ? parseRequest(payload) : undefined;
      if (request === undefined) {
        this.#detect(this.options.client.name, 'malformed', `counter ${m.counter} is not a valid request`);
        continue;
      }
      if (this.#removed) continue;
      if (this.#predecessor !== undefined) {
        // The client already has a configuration with this node as head, and this node will get it too.
        if (this.#heldRequests.length < MAX_FUTURE_MESSAGES) this.#heldRequests.push(request);
        continue;
      }
      await this.#acceptRequest(request);
    }
  }

  /** Order, execute and forward a client request as head; a request applied before is skipped. */
  async #acceptRequest(request: ClientRequest): Promise<void> {
    if (this.#executor.hasApplied(request)) return;
    const trial = this.#executor.trial([request]);
    trial.commit();
    this.#log.append(request, trial.outputs[0]!);
    await this.#afterApply();
    await this.#pump();
  }

  async #pollLink(peer: number): Promise<void> {
    const link = this.#links.get(peer)!;
    for (const m of await this.#poll(link.connection, this.#name(peer))) {
      const payload = decodeJson(m.msg);
      const message = parseChainMessage(payload) ?? parseReadyMessage(payload);
      if (message === undefined) {
        this.#detect(this.#name(peer), 'malformed', `counter ${m.counter} is not a chain or ready message`);
        continue;
      }
      if (message.epoch > this.#epoch) {
        // Sent by a node that learned the next configuration first.
        if (this.#future.length < MAX_FUTURE_MESSAGES) this.#future.push({ peer, message, bytes: m.bytes });
        continue;
      }
      // A message of an earlier epoch is dropped: the re-send in this epoch replaces it.
      if (message.epoch === this.#epoch) await this.#handleLinkMessage(peer, message, m.bytes);
    }
    this.#watchGap(peer);
  }

  async #handleLinkMessage(peer: number, message: ChainMessage | ReadyMessage, bytes: Uint8Array): Promise<void> {
    if (this.#removed) return;
    if (message.t === 'ready') {
      // A ready from the predecessor only checks the link (see #adopt).
      if (peer === this.#successor) await this.#handleReady(message);
      else if (peer !== this.#predecessor) {
        this.#detect(this.#name(peer), 'sequence', `ready of epoch ${message.epoch} from a node that is not a neighbour`);
      }
      return;
    }
    if (peer !== this.#predecessor) {
      this.#detect(this.#name(peer), 'sequence', `seq ${message.seq} of epoch ${message.epoch} from a node that is not the predecessor`);
      return;
    }
    if (!this.#ignored.has(peer)) await this.#handleChain(message, bytes);
  }

  async #handleChain(message: ChainMessage, bytes: Uint8Array): Promise<void> {
    const levels = this.#levels();
    const problem = await checkProof(this.options.tnic, this.#sessions, levels, message, this.#level - 1);
    if (problem !== undefined) {
      this.#detect(problem.suspect, problem.kind, problem.detail);
      return;
    }
    const applied = this.#log.appliedSeq;
    if (message.seq > applied + 1) {
      this.#detect(this.#name(this.#predecessor!), 'sequence', `seq ${message.seq} is not the expected ${applied + 1}`);
      return;
    }
    if (message.seq <= applied) {
      await this.#handleResent(this.#log.get(message.seq), message, bytes);
      return;
    }

    const trial = this.#executor.trial([message.request]);
    const output = trial.outputs[0]!;
    if (await this.#exposeWrongOutput(message, bytes, output)) return;
    trial.commit();
    this.#log.append(message.request, output).proofs.set(message.epoch, { bytes, message });
    await this.#afterApply();
    await this.#pump();
  }

  /** Check a seq that this node applied before and that arrives again down a rebuilt chain against the log, then forward it. */
  async #handleResent(entry: LogEntry, message: ChainMessage, bytes: Uint8Array): Promise<void> {
    if (!sameRequest(message.request, entry.request)) {
      const earlier = [...entry.proofs.values()].at(-1);
      const pair = earlier === undefined ? undefined : findEquivocation(bytes, earlier.bytes);
      const suspect = pair === undefined ? this.#predecessor! : this.#indexOfDevice(pair[0].device);
      const detail = `seq ${message.seq} names request ${JSON.stringify(message.request)}, but this node applied another`;
      this.#detect(this.#name(suspect), 'equivocation', detail);
      this.#ignored.add(this.#predecessor!);
      if (pair !== undefined) await this.#accuse(suspect, 'equivocation', { seq: message.seq }, [pair[0].bytes, pair[1].bytes]);
      return;
    }
    if (await this.#exposeWrongOutput(message, bytes, entry.output)) return;
    entry.proofs.set(message.epoch, { bytes, message });
    await this.#pump();
  }

  /**
   * Compare every output in `message` with this node's own and return
   * whether one differs. On a difference, record it and stop taking the
   * predecessor's messages. Then accuse the first node that stated a wrong
   * output, with its attested messages for every seq up to this one.
   */
  async #exposeWrongOutput(message: ChainMessage, bytes: Uint8Array, output: Output): Promise<boolean> {
    const wrong = message.outputs.findIndex((o) => JSON.stringify(o) !== JSON.stringify(output));
    if (wrong < 0) return false;
    const liar = this.#members[wrong]!;
    this.#detect(this.#name(liar), 'output', `output of seq ${message.seq} differs from re-execution`);
    this.#ignored.add(this.#predecessor!);

    const device = this.options.chain[liar]!.device;
    const earlier = this.#log.claimsOf(device, message.seq - 1);
    const current = claimOf(bytes, device)?.bytes;
    if (earlier !== undefined && current !== undefined) {
      await this.#accuse(liar, 'output', { seq: message.seq }, [...earlier, current]);
    } else {
      this.#detect(this.#name(liar), 'output', `no attested messages of it for every seq up to ${message.seq} to prove it`);
    }
    return true;
  }

  async #handleReady(message: ReadyMessage): Promise<void> {
    if (this.#successorReady) return;
    this.#successorReady = true;
    this.#forwarded = Math.min(message.seq, this.#log.appliedSeq);
    const predecessor = this.#predecessor;
    if (predecessor !== undefined) await this.#sendReady(predecessor, this.#forwarded);
    await this.#pump();
  }

  async #sendReady(peer: number, seq: number): Promise<void> {
    const ready: ReadyMessage = { t: 'ready', epoch: this.#epoch, seq };
    const link = this.#links.get(peer)!;
    if (link.connection.error) return;
    const bytes = await this.options.tnic.localSend(link.connection.session, encodeJson(ready));
    this.#remember(bytes);
    trySend(link.recorder, bytes);
  }

  // Sending down the chain.

  /**
   * Attest, forward and reply for every applied seq the successor does not
   * have in this epoch yet, in order. A node below the head needs the
   * predecessor's message of this epoch for a seq first, to embed as proof.
   */
  async #pump(): Promise<void> {
    if (this.#removed || !this.#successorReady) return;
    const successor = this.#successor;
    const session = successor === undefined ? this.#sessions.tail(this.options.index) : this.#sessions.link(this.options.index, successor);
    while (this.#forwarded < this.#log.appliedSeq) {
      const entry = this.#log.get(this.#forwarded + 1);
      const proof = entry.proofs.get(this.#epoch);
      if (this.#level > 0 && proof === undefined) return;

      const behavior = this.options.behavior;
      const lying = behavior.kind === 'lying' && entry.seq >= behavior.fromSeq;
      const own: ChainMessage = {
        t: 'chain',
        epoch: this.#epoch,
        seq: entry.seq,
        request: entry.request,
        outputs: [...(proof?.message.outputs ?? []), lying ? falsifyOutput(entry.output) : entry.output],
        previous: proof === undefined ? '' : toHex(proof.bytes),
      };
      const signed = await this.options.tnic.attestAndSign(session, encodeJson(own));
      if (successor !== undefined) {
        this.#remember(signed.attested);
        trySend(this.#links.get(successor)!.recorder, signed.attested);
      }
      trySend(this.#client, encodeSignedReply(signed));
      this.#forwarded = entry.seq;
      if (entry.seq <= this.#appliedAtEpochStart) this.resent += 1;
    }
  }

  #remember(bytes: Uint8Array): void {
    const header = decodeAttested(bytes);
    this.#sent.set(`${header.session}/${header.counter}`, bytes);
  }

  // Counter gaps on the link from the predecessor.

  /** Start a timer while the predecessor's link keeps messages back for a gap, and stop it once the gap fills. */
  #watchGap(peer: number): void {
    const connection = this.#links.get(peer)!.connection;
    const open = peer === this.#predecessor && connection.held > 0 && !connection.error && this.#accuser !== undefined;
    if (!open) {
      if (this.#gapTimer?.peer === peer) this.#cancelGapTimer();
      return;
    }
    if (this.#gapTimer?.peer === peer && this.#gapTimer.delivered === connection.delivered) return;
    this.#cancelGapTimer();
    const delivered = connection.delivered;
    const cancel = connection.channel.clock.setTimer(GAP_TIMEOUT_MS, () =>
      this.#serial.run(() => this.#onGapTimeout(peer, delivered)),
    );
    this.#gapTimer = { peer, delivered, cancel };
  }

  #cancelGapTimer(): void {
    this.#gapTimer?.cancel();
    this.#gapTimer = undefined;
  }

  async #onGapTimeout(peer: number, delivered: number): Promise<void> {
    this.#gapTimer = undefined;
    await this.#pollLink(peer);
    const link = this.#links.get(peer)!;
    if (peer !== this.#predecessor || link.connection.held === 0 || link.connection.delivered !== delivered) return;

    // Only this connection verifies on the link session, from counter 0, so the next counter is the delivered count.
    const missing = BigInt(delivered);
    const session = link.connection.session;
    const device = this.options.chain[peer]!.device;
    const later = link.recorder.recent.find((bytes) => {
      const header = decodeAttested(bytes);
      return header.device === device && header.session === session && header.counter > missing;
    });
    this.#detect(this.#name(peer), 'counter-gap', `counter ${missing} on session ${session} is missing, later ones are held`);
    if (later !== undefined) await this.#accuse(peer, 'counter-gap', { session, counter: missing }, [later]);
    this.#watchGap(peer);
  }

  // The configuration service.

  async #pollService(connection: Connection): Promise<void> {
    const name = this.options.service!.name;
    for (const m of await this.#poll(connection, name)) {
      const message = parseServiceToNode(decodeJson(m.msg));
      if (message === undefined) {
        this.#detect(name, 'malformed', `counter ${m.counter} is not a configuration service message`);
        continue;
      }
      switch (message.t) {
        case 'config':
          await this.#adopt(message);
          break;
        case 'probe':
          await this.#accuser?.sendToService({ t: 'alive', nonce: message.nonce });
          break;
        case 'challenge':
          await this.#answerChallenge(message.nonce, message.session, BigInt(message.counter), message.to);
          break;
      }
    }
  }

  /** Retransmit the attested message a challenge names to the peer of its link, and show it to the service. */
  async #answerChallenge(nonce: number, session: number, counter: bigint, to: string): Promise<void> {
    const bytes = this.#sent.get(`${session}/${counter}`);
    const peer = this.options.chain.findIndex((r) => r.name === to);
    const link = this.#links.get(peer);
    if (bytes === undefined || link === undefined || link.connection.session !== session) return;
    trySend(link.recorder, bytes);
    await this.#accuser?.sendToService({ t: 'produce', nonce, message: toHex(bytes) });
  }

  /** Take a new configuration: link up with the new neighbours and re-send what the successor lacks. */
  async #adopt(config: ConfigMessage): Promise<void> {
    if (config.epoch <= this.#epoch) return;
    const members = config.chain.map((name) => this.options.chain.findIndex((r) => r.name === name));
    if (members.some((i) => i < 0)) {
      this.#detect(this.options.service!.name, 'malformed', `epoch ${config.epoch} names an unknown node`);
      return;
    }
    this.#epoch = config.epoch;
    this.#members = members;
    this.#appliedAtEpochStart = this.#log.appliedSeq;
    this.#ignored.clear();
    this.#cancelGapTimer();
    if (this.#level < 0) {
      this.#removed = true;
      return;
    }

    const successor = this.#successor;
    const predecessor = this.#predecessor;
    this.#successorReady = successor === undefined;
    this.#forwarded = successor === undefined ? this.#log.appliedSeq : 0;
    if (successor === undefined && predecessor !== undefined) await this.#sendReady(predecessor, this.#log.appliedSeq);
    // Nothing else goes to the successor until it is ready, so this message lets the channel's retry
    // budget expose a successor that is down.
    if (successor !== undefined) await this.#sendReady(successor, this.#log.appliedSeq);
    if (predecessor === undefined) {
      for (const request of this.#heldRequests.splice(0)) await this.#acceptRequest(request);
    }

    const now = this.#future.filter((f) => f.message.epoch === this.#epoch);
    this.#future = this.#future.filter((f) => f.message.epoch > this.#epoch);
    for (const f of now) await this.#handleLinkMessage(f.peer, f.message, f.bytes);
    await this.#pump();
  }

  async #accuse(suspect: number, kind: AccusationKind, fields: AccusationFields, messages: readonly Uint8Array[]): Promise<void> {
    await this.#accuser?.accuse(this.#name(suspect), kind, this.#epoch, fields, messages);
  }

  /** Run the Byzantine behaviour that waits for an applied seq. */
  async #afterApply(): Promise<void> {
    const behavior = this.options.behavior;
    if (behavior.kind !== 'false-accuser' || this.#falseAccusationsSent || this.#log.appliedSeq < behavior.atSeq) return;
    this.#falseAccusationsSent = true;
    const target = this.options.chain.find((r) => r.name === behavior.target)!;
    const genuine = this.#log.claimsOf(target.device, this.#log.appliedSeq) ?? [];
    for (const accusation of falseAccusations(genuine)) {
      await this.#accuser?.send(target.name, accusation.kind, this.#epoch, { seq: accusation.seq }, accusation.messages);
    }
  }

  #indexOfDevice(device: number): number {
    return this.options.chain.findIndex((r) => r.device === device);
  }

  #detect(suspect: string, kind: DetectionKind, detail: string): void {
    this.detections.push({ by: this.identity.name, suspect, kind, detail });
  }
}

/**
 * A BFT replica on the TNIC API, for 2f+1 replicas of which replica 0 leads.
 *
 * Every replica attests all it sends on its own session and sends the same
 * attested bytes to every peer, so each peer's device verifies one gap-free
 * counter sequence from it. The client gets those bytes as a signed reply
 * (attestAndSign), which it checks with the replica's certified client key.
 * Because a counter is attested once, a leader that sends two followers
 * different messages must use two counters, and the follower that misses one
 * sees a counter gap instead of the other message.
 *
 * Leader: batches client requests (flushed when full or after
 * batchTimeoutMs), executes them and sends propose(seq, batch, outputs) to
 * the followers and the client. Follower: takes proposals in counter order,
 * checks seq, re-executes the batch and compares outputs, applies it once,
 * then sends accept(seq, batch, its outputs) to the leader (the ack), the
 * other followers and the client. Every replica compares the accepts of its
 * peers with its own execution.
 *
 * View change: the leader of view v is replica v mod (2f+1). A follower
 * suspects the leader when it detects misbehaviour in the leader's messages
 * (equivocation, wrong outputs, a counter gap, a failed channel) or when a
 * request that the client sent to the follower directly stays unproposed for
 * viewChangeTimeoutMs. It then stops taking proposals and sends view-change
 * (v+1) with its recent log to every replica. A replica that receives view
 * changes for a higher view from f+1 replicas joins it. The new leader waits for f+1 view
 * changes, including its own, and sends new-view with them as proofs. Every
 * replica checks the proofs on its device, computes the same log from them
 * (view_change.ts), applies the batches it lacks (state transfer), sends an
 * accept for each, and enters the view. The new leader then proposes the
 * requests it holds. Each replica attests on its own session in every view,
 * so a new leader needs no new session keys.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { CounterGapError } from '../../api/errors.ts';
import { encodeSignedReply, type Tnic } from '../../api/tnic_api.ts';
import type { Detection, DetectionKind } from '../replication/detection.ts';
import { Executor, type Undo } from '../replication/executor.ts';
import { trySend, type Channel, type Network } from '../replication/network.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { falsifyOutput, parseRequest, requestKey, type ClientRequest } from '../replication/request.ts';
import { SerialQueue } from '../replication/serial.ts';
import { createMachine, type MachineKind } from '../replication/state_machine.ts';
import { decodeJson, encodeJson, isRecord } from '../replication/wire.ts';
import {
  batchDigest,
  parseBftMessage,
  parseViewMessage,
  type Accept,
  type NewView,
  type Propose,
  type ViewChange,
} from './messages.ts';
import {
  checkedProposals,
  checkViewChange,
  chooseLog,
  fromBase64,
  leaderOf,
  MAX_LOG_ENTRIES,
  toBase64,
  type CheckedViewChange,
} from './view_change.ts';

export const BATCH_SIZES = [1, 8, 16] as const;
export type BatchSize = (typeof BATCH_SIZES)[number];

/** Misbehaviour of a replica; 'correct' follows the protocol. */
export type BftBehavior =
  | { kind: 'correct' }
  /** Follower: applies batches correctly but reports falsified outputs in its accepts. */
  | { kind: 'lying' }
  /**
   * Leader: at batch `atSeq`, attests a second, different proposal for the
   * same seq and sends it to follower `victim` ahead of the genuine one. The
   * other followers get the genuine one first. Each follower gets both,
   * because a follower that misses a counter stops at the gap.
   */
  | { kind: 'equivocating'; atSeq: number; victim: string };

/** Number of process ids each client owns: client k may name processes k * PROCESSES_PER_CLIENT and up. */
export const PROCESSES_PER_CLIENT = 10_000_000;

/** A client whose requests the leader accepts. It may name only the processes in its range. */
export interface BftClient extends ReplicaIdentity {
  firstProcess: number;
  processCount: number;
}

/** Authenticated requests the leader discarded, by reason. */
export interface RequestRejections {
  /** The request names a process that belongs to another client. */
  'foreign-process': number;
  /** The request id was already applied or is queued: a retry, or a second operation under one id. */
  'duplicate-id': number;
}

export interface BftReplicaOptions {
  /** Position in `replicas`; replica 0 leads view 0. */
  index: number;
  replicas: readonly ReplicaIdentity[];
  /** The client that receives the results; every replica accepts its requests. */
  client: BftClient;
  /** Session this replica shares with `client` alone (default `client.session`). */
  clientSession?: number;
  /**
   * Further clients whose requests replica 0 accepts while it leads.
   * NOTE: results go to `client` only, so these clients submit requests but never learn their outputs.
   */
  extraClients?: readonly BftClient[];
  tnic: Tnic;
  network: Network;
  machine: MachineKind;
  batchSize: BatchSize;
  /** Milliseconds a partial batch waits before the leader proposes it anyway. */
  batchTimeoutMs: number;
  /** Milliseconds a counter gap from a peer may stay open before the peer is suspected. */
  gapTimeoutMs: number;
  /**
   * Milliseconds a follower waits for the leader to propose a request that
   * the client sent to it directly, and that a view change may take before
   * the replica requests the next view.
   */
  viewChangeTimeoutMs: number;
  behavior: BftBehavior;
}

/**
 * Further views a replica requests when the new leader stays silent, before
 * it gives up and stays in its view. It bounds a replica that suspects alone.
 */
export const MAX_VIEW_CHANGE_ATTEMPTS = 3;

/** Bytes of a new-view message's JSON, below the kernel's 65,535-byte message limit with room for its fields. */
const MAX_NEW_VIEW_BYTES = 64_000;
/** Bytes of a view change besides its log: JSON fields, the attested header and tag, and base64 of those. */
const VIEW_CHANGE_FRAME_BYTES = 400;

/** Process id of the request that an equivocating leader adds for its victim. */
export const EQUIVOCATION_PROCESS = 1_000_000;

export class BftReplica {
  readonly detections: Detection[] = [];
  /** Sequence number of the last batch this replica applied. */
  appliedSeq = 0;
  /** The view this replica is in; its leader is replica view mod (2f+1). */
  view = 0;
  /** Views this replica entered after view 0, in order. */
  readonly viewChanges: number[] = [];
  /** Batches this replica applied from a new-view log rather than from a proposal. */
  transferred = 0;
  /** Batches this replica undid because the new-view log did not contain them. */
  rolledBack = 0;
  /** View changes given up because no new view began after MAX_VIEW_CHANGE_ATTEMPTS further views. */
  abandonedViewChanges = 0;
  /** Followers that acknowledged each batch (leader only). */
  readonly acks = new Map<number, Set<number>>();
  /** Authenticated client requests that the leader discarded (leader only). */
  readonly requestRejections: RequestRejections = { 'foreign-process': 0, 'duplicate-id': 0 };
  /** Connections that receive from the peers and, on the leader, from every client. */
  readonly connections: Connection[] = [];

  #serial = new SerialQueue();
  #executor: Executor;
  #digests = new Map<number, string>();
  #stashedAccepts = new Map<number, Accept[]>();
  #peerChannels = new Map<string, Channel>();
  #clientChannel: Channel;
  #queue: ClientRequest[] = [];
  #queued = new Set<string>();
  #cancelFlush: (() => void) | undefined;
  #failed = new Set<Connection>();
  /** Attested proposal bytes of the last MAX_LOG_ENTRIES applied seqs, for view-change logs. */
  #log = new Map<number, Uint8Array>();
  /** How to undo each of the last MAX_LOG_ENTRIES applied seqs, for a new view that drops them. */
  #undo = new Map<number, Undo>();
  /** View of the proposal each logged seq was applied from. */
  #appliedView = new Map<number, number>();
  /** The view asked for while a view change runs; proposals wait until it ends. */
  #changingTo: number | undefined;
  #cancelViewTimer: (() => void) | undefined;
  /** Views asked for in the running view change after the first, each after a doubled timeout. */
  #attempt = 0;
  /** Checked view changes per asked-for view, by replica index. */
  #viewChanges = new Map<number, Map<number, CheckedViewChange>>();
  #newViewSent = new Set<number>();
  /** Client requests that reached this replica while it did not lead, with their suspicion timers. */
  #waiting = new Map<string, { request: ClientRequest; resend: boolean; cancel: (() => void) | undefined }>();

  constructor(private readonly options: BftReplicaOptions) {
    const self = this.identity;
    const node = options.network.node(self.name);
    this.#executor = new Executor(createMachine(options.machine));

    options.replicas.forEach((peer, index) => {
      if (index === options.index) return;
      const channel = node.channel(peer.name);
      const connection = new Connection(options.tnic, channel, peer.session, peer.device, {
        gapTimeoutMs: options.gapTimeoutMs,
      });
      this.#peerChannels.set(peer.name, channel);
      this.connections.push(connection);
      channel.onReadable = () => this.#serial.run(() => this.#pollPeer(index, connection));
    });

    this.#clientChannel = node.channel(options.client.name);
    const clients = options.index === 0 ? [options.client, ...(options.extraClients ?? [])] : [options.client];
    for (const client of clients) {
      const channel = client === options.client ? this.#clientChannel : node.channel(client.name);
      const session = client === options.client ? (options.clientSession ?? client.session) : client.session;
      const connection = new Connection(options.tnic, channel, session, client.device);
      this.connections.push(connection);
      channel.onReadable = () => this.#serial.run(() => this.#pollClient(connection, client));
    }
  }

  get identity(): ReplicaIdentity {
    return this.options.replicas[this.options.index]!;
  }

  /** Text that identifies the batch and outputs this replica applied at `seq`, if it applied it. */
  digestOf(seq: number): string | undefined {
    return this.#digests.get(seq);
  }

  /** True while this replica leads the current view and no view change runs. */
  get isLeader(): boolean {
    return this.#changingTo === undefined && this.options.index === leaderOf(this.view, this.options.replicas);
  }

  get #leaderName(): string {
    return this.options.replicas[leaderOf(this.view, this.options.replicas)]!.name;
  }

  get #f(): number {
    return (this.options.replicas.length - 1) / 2;
  }

  async #pollPeer(index: number, connection: Connection): Promise<void> {
    const peer = this.options.replicas[index]!;
    for (const m of await this.#poll(connection, peer.name)) {
      const payload = decodeJson(m.msg);
      const view = parseViewMessage(payload);
      if (view !== undefined) {
        await this.#onViewMessage(index, view, m.bytes);
        continue;
      }
      const message = parseBftMessage(payload);
      if (message === undefined) {
        this.#detect(peer.name, 'malformed', `counter ${m.counter} is not a valid proposal or accept`);
      } else if (message.t === 'propose' && index === leaderOf(message.view, this.options.replicas)) {
        await this.#onPropose(message, m.bytes);
      } else if (message.t === 'accept' && message.replica === index) {
        this.#onAccept(peer.name, message);
      } else {
        this.#detect(peer.name, 'malformed', `counter ${m.counter} is a ${message.t} that ${peer.name} may not send`);
      }
    }
  }

  /** Poll `connection`; a failed connection is reported once and then yields nothing. */
  async #poll(connection: Connection, peer: string): Promise<ReceivedMessage[]> {
    if (this.#failed.has(connection)) return [];
    try {
      return await connection.poll();
    } catch (error) {
      this.#failed.add(connection);
      const kind: DetectionKind = error instanceof CounterGapError ? 'counter-gap' : 'unreachable';
      this.#detect(peer, kind, (error as Error).message);
      await this.#suspectIfLeader(peer);
      return [];
    }
  }

  async #pollClient(connection: Connection, client: BftClient): Promise<void> {
    for (const m of await this.#poll(connection, client.name)) {
      const payload = decodeJson(m.msg);
      const request = isRecord(payload) && payload.t === 'request' ? parseRequest(payload) : undefined;
      if (request === undefined) {
        this.#detect(client.name, 'malformed', `counter ${m.counter} is not a valid request`);
        continue;
      }
      // Request ids are unique per process, so a client naming another client's process could
      // take over that client's ids. The session authenticates the client, so its range applies.
      const offset = request.process - client.firstProcess;
      if (offset < 0 || offset >= client.processCount) {
        this.requestRejections['foreign-process'] += 1;
        continue;
      }
      const key = requestKey(request);
      if (this.#executor.hasApplied(request) || this.#queued.has(key) || this.#waiting.has(key)) {
        this.requestRejections['duplicate-id'] += 1;
        continue;
      }
      if (this.isLeader) this.#enqueue(request);
      else this.#wait(request, isRecord(payload) && payload.resend === true);
    }
    await this.#proposeQueued();
  }

  #enqueue(request: ClientRequest): void {
    this.#queue.push(request);
    this.#queued.add(requestKey(request));
  }

  /** Propose full batches now, and a partial one after batchTimeoutMs. */
  async #proposeQueued(): Promise<void> {
    if (!this.isLeader) return;
    while (this.#queue.length >= this.options.batchSize) await this.#propose();
    if (this.#queue.length > 0 && this.#cancelFlush === undefined) {
      const clock = this.#clientChannel.clock;
      this.#cancelFlush = clock.setTimer(this.options.batchTimeoutMs, () => this.#serial.run(() => this.#flush()));
    }
  }

  /**
   * Hold a request that reached a follower directly, to propose it if this
   * replica leads a later view. A resend means the client did not get its
   * result from the leader in time: if no proposal applies it within
   * viewChangeTimeoutMs, the follower suspects the leader. A first send
   * means only that the client still takes this replica for the leader.
   */
  #wait(request: ClientRequest, resend: boolean): void {
    const key = requestKey(request);
    const entry = { request, resend, cancel: undefined as (() => void) | undefined };
    this.#waiting.set(key, entry);
    if (!resend || this.#changingTo !== undefined) return; // a resend's timer starts when the next view begins
    entry.cancel = this.#clientChannel.clock.setTimer(this.options.viewChangeTimeoutMs, () =>
      this.#serial.run(async () => {
        entry.cancel = undefined;
        if (!this.#waiting.has(key) || this.#executor.hasApplied(request) || this.isLeader) return;
        this.#detect(this.#leaderName, 'silent', `request ${key} was not proposed in view ${this.view}`);
        await this.#startViewChange(this.view + 1);
      }),
    );
  }

  #stopWaiting(batch: readonly ClientRequest[]): void {
    for (const request of batch) {
      const key = requestKey(request);
      this.#waiting.get(key)?.cancel?.();
      this.#waiting.delete(key);
    }
  }

  async #flush(): Promise<void> {
    this.#cancelFlush = undefined;
    while (this.#queue.length > 0 && this.isLeader) await this.#propose();
  }

  /** Leader: execute the next batch and send the proposal to the followers and the client. */
  async #propose(): Promise<void> {
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    const batch = this.#queue.splice(0, this.options.batchSize);
    for (const request of batch) this.#queued.delete(requestKey(request));

    const trial = this.#executor.trial(batch);
    const seq = this.appliedSeq + 1;
    const propose: Propose = { t: 'propose', view: this.view, seq, batch, outputs: trial.outputs };
    const signed = await this.options.tnic.attestAndSign(this.identity.session, encodeJson(propose));
    const bytes = signed.attested;
    this.#record(propose, bytes, trial.commit());

    const behavior = this.options.behavior;
    if (behavior.kind === 'equivocating' && behavior.atSeq === seq) {
      const other = await this.options.tnic.localSend(this.identity.session, encodeJson(this.#conflicting(propose)));
      for (const [name, channel] of this.#peerChannels) {
        const order = name === behavior.victim ? [other, bytes] : [bytes, other];
        for (const message of order) trySend(channel, message);
      }
    } else {
      for (const channel of this.#peerChannels.values()) trySend(channel, bytes);
    }
    trySend(this.#clientChannel, encodeSignedReply(signed));
  }

  /** A proposal for the same seq with one more request, executed on a copy of the state. */
  #conflicting(propose: Propose): Propose {
    const op =
      this.options.machine === 'counter' ? ({ f: 'increment' } as const) : ({ f: 'put', key: 'a', value: 99 } as const);
    const batch = [...propose.batch, { process: EQUIVOCATION_PROCESS, id: propose.seq, op }];
    return { ...propose, batch, outputs: [...propose.outputs, ...this.#executor.trial([batch.at(-1)!]).outputs] };
  }

  /** Follower: check a proposal by re-executing it, apply it, and send the accept. */
  async #onPropose(propose: Propose, bytes: Uint8Array): Promise<void> {
    const leader = this.options.replicas[leaderOf(propose.view, this.options.replicas)]!.name;
    // A proposal of a view this replica left: the new-view log decides what of it counts.
    if (propose.view < this.view || (propose.view === this.view && this.#changingTo !== undefined)) return;
    if (propose.view > this.view) {
      this.#detect(leader, 'sequence', `proposal of view ${propose.view} while this replica is in view ${this.view}`);
      return;
    }
    if (this.isLeader) {
      this.#detect(leader, 'malformed', `a proposal for seq ${propose.seq} from this replica's own view`);
      return;
    }
    const earlier = this.#digests.get(propose.seq);
    if (earlier !== undefined) {
      // The device delivered both proposals in counter order, so every follower applied the same first one.
      if (earlier !== batchDigest(propose)) {
        this.#detect(leader, 'equivocation', `a second, different proposal for seq ${propose.seq}`);
        await this.#startViewChange(this.view + 1);
      }
      return;
    }
    if (propose.seq !== this.appliedSeq + 1) {
      this.#detect(leader, 'sequence', `proposal seq ${propose.seq} is not the expected ${this.appliedSeq + 1}`);
      await this.#startViewChange(this.view + 1);
      return;
    }
    if (!(await this.#apply(propose, bytes))) {
      this.#detect(leader, 'output', `outputs of proposal seq ${propose.seq} differ from re-execution`);
      await this.#startViewChange(this.view + 1);
    }
  }

  /**
   * Re-execute `propose`, and if the outputs match, apply it, record it and
   * send this replica's accept. Returns false, changing nothing, on a mismatch.
   */
  async #apply(propose: Propose, bytes: Uint8Array): Promise<boolean> {
    const trial = this.#executor.trial(propose.batch);
    if (JSON.stringify(trial.outputs) !== JSON.stringify(propose.outputs)) return false;
    this.#record(propose, bytes, trial.commit());
    this.#stopWaiting(propose.batch);

    const lying = this.options.behavior.kind === 'lying';
    const outputs = lying ? trial.outputs.map(falsifyOutput) : trial.outputs;
    const accept: Accept = { ...propose, t: 'accept', view: this.view, replica: this.options.index, outputs };
    const signed = await this.options.tnic.attestAndSign(this.identity.session, encodeJson(accept));
    for (const channel of this.#peerChannels.values()) trySend(channel, signed.attested);
    trySend(this.#clientChannel, encodeSignedReply(signed));

    for (const stashed of this.#stashedAccepts.get(propose.seq) ?? []) {
      this.#onAccept(this.options.replicas[stashed.replica]!.name, stashed);
    }
    this.#stashedAccepts.delete(propose.seq);
    return true;
  }

  /** Make `propose` the applied batch at its seq, with its attested bytes and its undo record. */
  #record(propose: Propose, bytes: Uint8Array, undo: Undo): void {
    const seq = propose.seq;
    this.appliedSeq = seq;
    this.#digests.set(seq, batchDigest(propose));
    this.#log.set(seq, bytes);
    this.#undo.set(seq, undo);
    this.#appliedView.set(seq, propose.view);
    for (const window of [this.#log, this.#undo, this.#appliedView]) window.delete(seq - MAX_LOG_ENTRIES);
  }

  /**
   * Undo every applied batch above `seq`, newest first. Returns false, and
   * undoes nothing, when one of them is older than the undo window.
   */
  #rollBackTo(seq: number): boolean {
    for (let s = this.appliedSeq; s > seq; s--) if (!this.#undo.has(s)) return false;
    for (let s = this.appliedSeq; s > seq; s--) {
      this.#executor.undo(this.#undo.get(s)!);
      for (const record of [this.#digests, this.#log, this.#undo, this.#appliedView]) record.delete(s);
      this.#stashedAccepts.delete(s);
      this.rolledBack += 1;
    }
    this.appliedSeq = Math.min(this.appliedSeq, seq);
    return true;
  }

  /** Start a view change towards the leader of the current view when `peer` is that leader. */
  async #suspectIfLeader(peer: string): Promise<void> {
    if (peer === this.#leaderName && !this.isLeader) await this.#startViewChange(this.view + 1);
  }

  /** Stop taking proposals and ask every replica for view `target`, with this replica's recent log. */
  async #startViewChange(target: number): Promise<void> {
    if (target <= this.view || (this.#changingTo !== undefined && this.#changingTo >= target)) return;
    const attempt = this.#changingTo === undefined ? 0 : this.#attempt + 1;
    if (attempt > MAX_VIEW_CHANGE_ATTEMPTS) {
      // f others never joined: stay in the current view rather than ask for views forever.
      this.#changingTo = undefined;
      this.#cancelViewTimer = undefined;
      this.abandonedViewChanges += 1;
      return;
    }
    this.#attempt = attempt;
    this.#changingTo = target;
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    // Requests queued for a proposal that never went out are dropped: the client resends them to
    // every replica when they time out, and the next leader proposes them then.
    this.#queue.length = 0;
    this.#queued.clear();
    for (const entry of this.#waiting.values()) {
      entry.cancel?.();
      entry.cancel = undefined;
    }

    const log = this.#viewChangeLog();
    const viewChange: ViewChange = { t: 'view-change', view: target, replica: this.options.index, log };
    const bytes = await this.options.tnic.localSend(this.identity.session, encodeJson(viewChange));
    for (const channel of this.#peerChannels.values()) trySend(channel, bytes);
    this.#recordViewChange(target, { viewChange, bytes });

    // A new leader that is faulty or cut off never sends new-view; then the next view is asked for.
    this.#cancelViewTimer?.();
    const timeout = 2 ** (attempt + 1) * this.options.viewChangeTimeoutMs;
    this.#cancelViewTimer = this.#clientChannel.clock.setTimer(timeout, () =>
      this.#serial.run(() => this.#startViewChange(target + 1)),
    );
    await this.#sendNewViewIfReady(target);
  }

  /**
   * The newest applied proposals, base64, oldest first, that fit the log
   * budget: a new-view message carries f+1 view changes inside one
   * attested message, and base64 grows each level by a third.
   * NOTE: a replica that lags further than the budget reaches cannot catch
   * up through a view change; it needs a state transfer of its own.
   */
  #viewChangeLog(): string[] {
    const budget = Math.floor(MAX_NEW_VIEW_BYTES / (this.#f + 1) / (4 / 3)) - VIEW_CHANGE_FRAME_BYTES;
    const entries: string[] = [];
    let bytes = 0;
    for (const [, proposal] of [...this.#log.entries()].sort(([a], [b]) => b - a)) {
      const entry = toBase64(proposal);
      if (bytes + entry.length + 3 > budget) break;
      bytes += entry.length + 3; // quotes and comma in the JSON list
      entries.push(entry);
    }
    return entries.reverse();
  }

  #recordViewChange(view: number, checked: CheckedViewChange): void {
    const byReplica = this.#viewChanges.get(view) ?? new Map<number, CheckedViewChange>();
    byReplica.set(checked.viewChange.replica, checked);
    this.#viewChanges.set(view, byReplica);
  }

  async #onViewMessage(index: number, message: ViewChange | NewView, bytes: Uint8Array): Promise<void> {
    const peer = this.options.replicas[index]!.name;
    if (message.view <= this.view) return; // about a view this replica already passed
    if (message.t === 'view-change') {
      if (message.replica !== index) {
        this.#detect(peer, 'malformed', `view change names replica ${message.replica}`);
        return;
      }
      this.#recordViewChange(message.view, { viewChange: message, bytes });
      // Join once f+1 replicas ask for the view: at least one of them is correct, so a single
      // Byzantine replica cannot force view changes.
      if ((this.#viewChanges.get(message.view)?.size ?? 0) >= this.#f + 1) await this.#startViewChange(message.view);
      await this.#sendNewViewIfReady(message.view);
      return;
    }
    if (index !== leaderOf(message.view, this.options.replicas)) {
      this.#detect(peer, 'malformed', `new-view ${message.view} from a replica that does not lead it`);
      return;
    }
    const proofs: CheckedViewChange[] = [];
    for (const proof of message.proofs) {
      const checked = await checkViewChange(this.options.tnic, this.options.replicas, fromBase64(proof), message.view);
      if (typeof checked === 'string') {
        this.#detect(peer, 'malformed', `new-view ${message.view} carries an invalid view change: ${checked}`);
        return;
      }
      proofs.push(checked);
    }
    const distinct = new Set(proofs.map((p) => p.viewChange.replica));
    if (distinct.size < this.#f + 1) {
      this.#detect(peer, 'malformed', `new-view ${message.view} has ${distinct.size} view changes, fewer than f+1`);
      return;
    }
    await this.#enterView(message.view, proofs);
  }

  /** New leader: once f+1 replicas asked for `view`, send new-view with their view changes and enter it. */
  async #sendNewViewIfReady(view: number): Promise<void> {
    if (this.options.index !== leaderOf(view, this.options.replicas) || this.#newViewSent.has(view)) return;
    if (this.#changingTo !== view) return;
    const proofs = [...(this.#viewChanges.get(view)?.values() ?? [])];
    if (proofs.length < this.#f + 1) return;
    this.#newViewSent.add(view);
    const newView: NewView = { t: 'new-view', view, proofs: proofs.map((p) => toBase64(p.bytes)) };
    const bytes = await this.options.tnic.localSend(this.identity.session, encodeJson(newView));
    for (const channel of this.#peerChannels.values()) trySend(channel, bytes);
    await this.#enterView(view, proofs);
  }

  /** Apply the log that `proofs` determine, then enter `view`; the new leader proposes what it holds. */
  async #enterView(view: number, proofs: readonly CheckedViewChange[]): Promise<void> {
    const candidates = [];
    for (const proof of proofs) {
      candidates.push(...(await checkedProposals(this.options.tnic, this.options.replicas, proof.viewChange.log, view)));
    }
    this.view = view;
    const chosen = chooseLog(candidates);
    // Batches applied here but not in the chosen log were never committed: no f+1 replicas
    // applied them. Undo them, so the new leader's batches at those seqs apply cleanly.
    const firstDiffering = chosen.find((e) => this.#digests.get(e.propose.seq) !== batchDigest(e.propose));
    const keepThrough = Math.min(
      chosen.at(-1)?.propose.seq ?? 0,
      firstDiffering === undefined ? Infinity : firstDiffering.propose.seq - 1,
    );
    if (keepThrough < this.appliedSeq && !this.#rollBackTo(keepThrough)) {
      this.#detect(this.#leaderName, 'sequence', `new-view ${view} drops seqs older than the undo window`);
    }
    for (const entry of chosen) {
      const { propose, bytes } = entry;
      const own = this.#digests.get(propose.seq);
      if (own !== undefined) {
        if (own !== batchDigest(propose)) {
          this.#detect(this.#leaderName, 'equivocation', `new-view ${view} log differs from applied seq ${propose.seq}`);
        }
        continue;
      }
      if (propose.seq !== this.appliedSeq + 1) {
        this.#detect(this.#leaderName, 'sequence', `new-view ${view} log skips to seq ${propose.seq}`);
        break;
      }
      if (!(await this.#apply(propose, bytes))) {
        this.#detect(this.#leaderName, 'output', `new-view ${view} log seq ${propose.seq} differs from re-execution`);
        break;
      }
      this.transferred += 1;
    }
    this.#changingTo = undefined;
    this.#cancelViewTimer?.();
    this.#cancelViewTimer = undefined;
    this.viewChanges.push(view);
    for (const old of [...this.#viewChanges.keys()]) if (old <= view) this.#viewChanges.delete(old);

    const waiting = [...this.#waiting.values()].filter((w) => !this.#executor.hasApplied(w.request));
    this.#waiting.clear();
    for (const { request, resend } of waiting) {
      if (this.isLeader) this.#enqueue(request);
      else this.#wait(request, resend);
    }
    await this.#proposeQueued();
  }

  /** Compare a peer's accept with this replica's own execution of the same seq. */
  #onAccept(peer: string, accept: Accept): void {
    const own = this.#digests.get(accept.seq);
    if (own === undefined) {
      // Not applied here yet; compare once this replica applies the seq.
      this.#stashedAccepts.set(accept.seq, [...(this.#stashedAccepts.get(accept.seq) ?? []), accept]);
      return;
    }
    if (own !== batchDigest(accept)) {
      // An accept from an older view than the batch applied here was superseded by a new-view log.
      if (accept.view < (this.#appliedView.get(accept.seq) ?? 0)) return;
      this.#detect(peer, 'output', `accept for seq ${accept.seq} differs from this replica's execution`);
      return;
    }
    if (this.options.index === leaderOf(accept.view, this.options.replicas)) {
      const acks = this.acks.get(accept.seq) ?? new Set<number>();
      acks.add(accept.replica);
      this.acks.set(accept.seq, acks);
    }
  }

  #detect(suspect: string, kind: DetectionKind, detail: string): void {
    this.detections.push({ by: this.identity.name, suspect, kind, detail });
  }
}

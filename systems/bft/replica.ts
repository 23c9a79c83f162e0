/**
 * A BFT replica on the TNIC API, for 2f+1 replicas of which replica 0 leads.
 *
 * Every replica attests all it sends on its own session and sends the same
 * attested bytes to every peer, so each peer's device verifies one gap-free
 * counter sequence from it. The client gets those bytes as a signed reply
 * (attestAndSign), which it checks with the replica's certified client key.
 * Because a counter is attested once, a leader that tells two followers
 * different things must use two counters, and the follower that misses one
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
 * NOTE: there is no view change. A faulty leader is detected and reported
 * in `detections`, but the replicas keep it as leader.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { CounterGapError } from '../../api/errors.ts';
import { encodeSignedReply, type Tnic } from '../../api/tnic_api.ts';
import type { Detection, DetectionKind } from '../replication/detection.ts';
import { Executor } from '../replication/executor.ts';
import { trySend, type Channel, type Network } from '../replication/network.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { falsifyOutput, parseRequest, requestKey, type ClientRequest } from '../replication/request.ts';
import { SerialQueue } from '../replication/serial.ts';
import { createMachine, type MachineKind } from '../replication/state_machine.ts';
import { decodeJson, encodeJson, isRecord } from '../replication/wire.ts';
import { batchDigest, parseBftMessage, type Accept, type Propose } from './messages.ts';

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
  /** Position in `replicas`; 0 is the leader. */
  index: number;
  replicas: readonly ReplicaIdentity[];
  /** The client that receives the results; the leader accepts its requests too. */
  client: BftClient;
  /**
   * Further clients whose requests the leader accepts.
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
  behavior: BftBehavior;
}

/** Process id of the request that an equivocating leader adds for its victim. */
export const EQUIVOCATION_PROCESS = 1_000_000;

export class BftReplica {
  readonly detections: Detection[] = [];
  /** Sequence number of the last batch this replica applied. */
  appliedSeq = 0;
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
    if (this.isLeader) {
      for (const client of [options.client, ...(options.extraClients ?? [])]) {
        const channel = client === options.client ? this.#clientChannel : node.channel(client.name);
        const connection = new Connection(options.tnic, channel, client.session, client.device);
        this.connections.push(connection);
        channel.onReadable = () => this.#serial.run(() => this.#pollClient(connection, client));
      }
    }
  }

  get identity(): ReplicaIdentity {
    return this.options.replicas[this.options.index]!;
  }

  /** Text that identifies the batch and outputs this replica applied at `seq`, if it applied it. */
  digestOf(seq: number): string | undefined {
    return this.#digests.get(seq);
  }

  get isLeader(): boolean {
    return this.options.index === 0;
  }

  async #pollPeer(index: number, connection: Connection): Promise<void> {
    const peer = this.options.replicas[index]!;
    for (const m of await this.#poll(connection, peer.name)) {
      const message = parseBftMessage(decodeJson(m.msg));
      if (message === undefined) {
        this.#detect(peer.name, 'malformed', `counter ${m.counter} is not a valid proposal or accept`);
      } else if (message.t === 'propose' && index === 0 && !this.isLeader) {
        await this.#onPropose(message);
      } else if (message.t === 'accept' && message.replica === index && index !== 0) {
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
      if (this.#executor.hasApplied(request) || this.#queued.has(key)) {
        this.requestRejections['duplicate-id'] += 1;
        continue;
      }
      this.#queue.push(request);
      this.#queued.add(key);
    }
    while (this.#queue.length >= this.options.batchSize) await this.#propose();
    if (this.#queue.length > 0 && this.#cancelFlush === undefined) {
      const clock = this.#clientChannel.clock;
      this.#cancelFlush = clock.setTimer(this.options.batchTimeoutMs, () => this.#serial.run(() => this.#flush()));
    }
  }

  async #flush(): Promise<void> {
    this.#cancelFlush = undefined;
    while (this.#queue.length > 0) await this.#propose();
  }

  /** Leader: execute the next batch and send the proposal to the followers and the client. */
  async #propose(): Promise<void> {
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    const batch = this.#queue.splice(0, this.options.batchSize);
    for (const request of batch) this.#queued.delete(requestKey(request));

    const trial = this.#executor.trial(batch);
    trial.commit();
    const seq = this.appliedSeq + 1;
    this.appliedSeq = seq;
    const propose: Propose = { t: 'propose', view: 0, seq, batch, outputs: trial.outputs };
    this.#digests.set(seq, batchDigest(propose));
    const signed = await this.options.tnic.attestAndSign(this.identity.session, encodeJson(propose));
    const bytes = signed.attested;

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
  async #onPropose(propose: Propose): Promise<void> {
    const leader = this.options.replicas[0]!.name;
    const earlier = this.#digests.get(propose.seq);
    if (earlier !== undefined) {
      // The device delivered both proposals in counter order, so every follower applied the same first one.
      if (earlier !== batchDigest(propose)) {
        this.#detect(leader, 'equivocation', `a second, different proposal for seq ${propose.seq}`);
      }
      return;
    }
    if (propose.seq !== this.appliedSeq + 1) {
      this.#detect(leader, 'sequence', `proposal seq ${propose.seq} is not the expected ${this.appliedSeq + 1}`);
      return;
    }
    const trial = this.#executor.trial(propose.batch);
    if (JSON.stringify(trial.outputs) !== JSON.stringify(propose.outputs)) {
      this.#detect(leader, 'output', `outputs of proposal seq ${propose.seq} differ from re-execution`);
      return;
    }
    trial.commit();
    this.appliedSeq = propose.seq;
    this.#digests.set(propose.seq, batchDigest(propose));

    const lying = this.options.behavior.kind === 'lying';
    const outputs = lying ? trial.outputs.map(falsifyOutput) : trial.outputs;
    const accept: Accept = { ...propose, t: 'accept', replica: this.options.index, outputs };
    const signed = await this.options.tnic.attestAndSign(this.identity.session, encodeJson(accept));
    for (const channel of this.#peerChannels.values()) trySend(channel, signed.attested);
    trySend(this.#clientChannel, encodeSignedReply(signed));

    for (const stashed of this.#stashedAccepts.get(propose.seq) ?? []) {
      this.#onAccept(this.options.replicas[stashed.replica]!.name, stashed);
    }
    this.#stashedAccepts.delete(propose.seq);
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
      this.#detect(peer, 'output', `accept for seq ${accept.seq} differs from this replica's execution`);
      return;
    }
    if (this.isLeader) {
      const acks = this.acks.get(accept.seq) ?? new Set<number>();
      acks.add(accept.replica);
      this.acks.set(accept.seq, acks);
    }
  }

  #detect(suspect: string, kind: DetectionKind, detail: string): void {
    this.detections.push({ by: this.identity.name, suspect, kind, detail });
  }
}

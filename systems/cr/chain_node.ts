/**
 * A node of a Byzantine chain-replicated key-value store on the TNIC API.
 *
 * The head orders client requests, executes each and sends
 * chain(seq, request, [its output]) to its successor. Every later node takes
 * messages from its predecessor in counter order and checks the embedded
 * proof back to the head: each level with checkForwarded, and each level's
 * outputs a prefix of the next. It then re-executes the request and compares
 * its output with every earlier one. Only then does it apply the request,
 * append its own output, attest and forward the message, and reply to the
 * client with the same attested bytes as a signed reply (attestAndSign),
 * which the client checks with the node's certified client key. Reads
 * traverse the whole chain too.
 *
 * NOTE: there is no configuration service. A node that detects a faulty
 * predecessor stops forwarding, so the chain halts until it is rebuilt.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { CounterGapError, InputError } from '../../api/errors.ts';
import { decodeAttested, encodeSignedReply, type Tnic } from '../../api/tnic_api.ts';
import type { Detection, DetectionKind } from '../replication/detection.ts';
import { Executor } from '../replication/executor.ts';
import { trySend, type Channel, type Network } from '../replication/network.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { falsifyOutput, parseRequest, requestKey } from '../replication/request.ts';
import { SerialQueue } from '../replication/serial.ts';
import { createMachine } from '../replication/state_machine.ts';
import { decodeJson, encodeJson, isRecord } from '../replication/wire.ts';
import { fromHex, parseChainMessage, toHex, type ChainMessage } from './messages.ts';

/** Misbehaviour of a chain node; 'correct' follows the protocol. */
export type ChainBehavior = { kind: 'correct' } | { kind: 'lying'; fromSeq: number };

export interface ChainNodeOptions {
  /** Position in `chain`; 0 is the head, the last is the tail. */
  index: number;
  chain: readonly ReplicaIdentity[];
  client: ReplicaIdentity;
  tnic: Tnic;
  network: Network;
  behavior: ChainBehavior;
}

export class ChainNode {
  readonly detections: Detection[] = [];
  /** Sequence number of the last request this node applied. */
  appliedSeq = 0;
  readonly connections: Connection[] = [];

  #serial = new SerialQueue();
  #executor = new Executor(createMachine('kv'));
  #successor: Channel | undefined;
  #client: Channel;
  #failed = new Set<Connection>();

  constructor(private readonly options: ChainNodeOptions) {
    const { index, chain, tnic } = options;
    const node = options.network.node(this.identity.name);
    this.#client = node.channel(options.client.name);

    if (index === 0) {
      const client = options.client;
      const connection = new Connection(tnic, this.#client, client.session, client.device);
      this.connections.push(connection);
      this.#client.onReadable = () => this.#serial.run(() => this.#pollClient(connection));
    } else {
      const predecessor = chain[index - 1]!;
      const channel = node.channel(predecessor.name);
      const connection = new Connection(tnic, channel, predecessor.session, predecessor.device);
      this.connections.push(connection);
      channel.onReadable = () => this.#serial.run(() => this.#pollPredecessor(connection));
    }
    if (index + 1 < chain.length) this.#successor = node.channel(chain[index + 1]!.name);
  }

  get identity(): ReplicaIdentity {
    return this.options.chain[this.options.index]!;
  }

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

  async #pollClient(connection: Connection): Promise<void> {
    for (const m of await this.#poll(connection, this.options.client.name)) {
      const payload = decodeJson(m.msg);
      const request = isRecord(payload) && payload.t === 'request' ? parseRequest(payload) : undefined;
      if (request === undefined) {
        this.#detect(this.options.client.name, 'malformed', `counter ${m.counter} is not a valid request`);
        continue;
      }
      if (this.#executor.hasApplied(request)) continue;
      await this.#execute({ t: 'chain', seq: this.appliedSeq + 1, request, outputs: [], previous: '' }, '');
    }
  }

  async #pollPredecessor(connection: Connection): Promise<void> {
    const predecessor = this.options.chain[this.options.index - 1]!.name;
    for (const m of await this.#poll(connection, predecessor)) {
      const message = parseChainMessage(decodeJson(m.msg));
      if (message === undefined) {
        this.#detect(predecessor, 'malformed', `counter ${m.counter} is not a valid chain message`);
        continue;
      }
      const problem = await this.#checkProof(message, this.options.index - 1);
      if (problem !== undefined) {
        this.#detect(problem.suspect, problem.kind, problem.detail);
        continue;
      }
      await this.#execute(message, toHex(m.bytes));
    }
  }

  /**
   * Check that `message`, attested by chain node `sender`, carries one
   * output per node up to the sender and that its embedded predecessor
   * message is genuine and states a prefix of the same outputs.
   */
  async #checkProof(message: ChainMessage, sender: number): Promise<Omit<Detection, 'by'> | undefined> {
    const name = this.options.chain[sender]!.name;
    const malformed = (detail: string): Omit<Detection, 'by'> => ({ suspect: name, kind: 'malformed', detail });
    if (message.outputs.length !== sender + 1) {
      return malformed(`seq ${message.seq} carries ${message.outputs.length} outputs, not ${sender + 1}`);
    }
    if (sender === 0) return message.previous === '' ? undefined : malformed(`seq ${message.seq} from the head carries a proof`);

    const bytes = fromHex(message.previous);
    const expected = this.options.chain[sender - 1]!;
    let header;
    try {
      header = decodeAttested(bytes);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      return malformed(`the proof of seq ${message.seq} is not an attested message`);
    }
    const verdict = await this.options.tnic.checkForwarded(bytes);
    if (!verdict.accepted || header.device !== expected.device || header.session !== expected.session) {
      return malformed(`the proof of seq ${message.seq} is not genuine from ${expected.name}: ${verdict.detail}`);
    }
    const inner = parseChainMessage(decodeJson(header.msg));
    const consistent =
      inner !== undefined &&
      inner.seq === message.seq &&
      requestKey(inner.request) === requestKey(message.request) &&
      JSON.stringify(inner.request.op) === JSON.stringify(message.request.op) &&
      JSON.stringify(inner.outputs) === JSON.stringify(message.outputs.slice(0, sender));
    if (!consistent) {
      return malformed(`seq ${message.seq} does not extend the proof it embeds`);
    }
    return this.#checkProof(inner, sender - 1);
  }

  /** Re-execute, compare with every earlier output, apply, then forward and reply. */
  async #execute(message: ChainMessage, previous: string): Promise<void> {
    if (message.seq !== this.appliedSeq + 1) {
      const detail = `seq ${message.seq} is not the expected ${this.appliedSeq + 1}`;
      this.#detect(this.#predecessorName(), 'sequence', detail);
      return;
    }
    const trial = this.#executor.trial([message.request]);
    const output = trial.outputs[0]!;
    const wrong = message.outputs.findIndex((o) => JSON.stringify(o) !== JSON.stringify(output));
    if (wrong >= 0) {
      this.#detect(this.options.chain[wrong]!.name, 'output', `output of seq ${message.seq} differs from re-execution`);
      return;
    }
    trial.commit();
    this.appliedSeq = message.seq;

    const behavior = this.options.behavior;
    const lying = behavior.kind === 'lying' && message.seq >= behavior.fromSeq;
    const own: ChainMessage = {
      ...message,
      outputs: [...message.outputs, lying ? falsifyOutput(output) : output],
      previous,
    };
    const signed = await this.options.tnic.attestAndSign(this.identity.session, encodeJson(own));
    if (this.#successor) trySend(this.#successor, signed.attested);
    trySend(this.#client, encodeSignedReply(signed));
  }

  #predecessorName(): string {
    const index = this.options.index;
    return index === 0 ? this.options.client.name : this.options.chain[index - 1]!.name;
  }

  #detect(suspect: string, kind: DetectionKind, detail: string): void {
    this.detections.push({ by: this.identity.name, suspect, kind, detail });
  }
}

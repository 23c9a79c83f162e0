/**
 * Attested append-only memory (A2M) as OS processes: a server process that
 * keeps one log in its host memory, and a client process that appends
 * entries, looks each one up and verifies it. Sessions follow
 * systems/a2m: the manifest on session 0 and log 0 on session 1 of the
 * server's device (device 1), plus session 2, which the server shares
 * with the client (device 100) for the client's requests.
 *
 * The client holds no log key, so it cannot check a tag itself. The server
 * replies with signed replies instead: an append is attested and signed in
 * one device operation (attestAndSign), and a lookup returns the stored
 * entry signed after the device checked its tag (checkAndSign). The client
 * checks the signature with the server's certified client key from the
 * vendor's start message, then that the entry is attested by the server on
 * the log's session, with the counter it expects and the bytes it
 * appended, as verifyLookup does on the server's own device.
 *
 *   request (attested on session 2)  {t: 'append', process, id, ctx} | {t: 'lookup', process, id, index}
 *   reply (plain JSON around the signed reply)  {t: 'entry', process, id, reply} | {t: 'missing', process, id, index}
 *
 * NOTE: truncation is not offered over the network, so the manifest stays
 * empty and every stored entry is live.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { InputError, TnicError } from '../../api/errors.ts';
import {
  ATTESTED_OVERHEAD,
  checkClientKeyChain,
  checkSignedReply,
  decodeAttested,
  decodeSignedReply,
  encodeSignedReply,
  type AttestedMessage,
  type Tnic,
} from '../../api/tnic_api.ts';
import { MANIFEST_SESSION, sessionOfLog } from '../a2m/manifest.ts';
import { concatBytes, type HostLog } from '../a2m/log_entry.ts';
import { trySend, type Channel, type Network } from '../replication/network.ts';
import { SeededRandom } from '../replication/prng.ts';
import { SerialQueue } from '../replication/serial.ts';
import { decodeJson, encodeJson, isRecord } from '../replication/wire.ts';
import {
  ProgressLog,
  writeSummary,
  type ProcessSpec,
  type RoleContext,
  type SystemDefinition,
  type SystemRole,
} from './system_role.ts';

export const A2M_SERVER = { name: 'server', device: 1 };
export const A2M_CLIENT = { name: 'client', device: 100, session: 2 };
const LOG_ID = 0;
const LOG_SESSION = sessionOfLog(LOG_ID);
/** Random bytes at the end of every appended context, so no two contexts are equal. */
const CTX_RANDOM_BYTES = 16;

function processes(size: number): ProcessSpec[] {
  if (size !== 1) throw new InputError(`A2M runs one server, not ${size}`);
  return [
    {
      ...A2M_SERVER,
      role: 'server',
      sessions: [MANIFEST_SESSION, LOG_SESSION, A2M_CLIENT.session],
      certificatesOf: [],
    },
    { name: A2M_CLIENT.name, device: A2M_CLIENT.device, role: 'client', sessions: [A2M_CLIENT.session], certificatesOf: [A2M_SERVER.name] },
  ];
}

async function createRole(context: RoleContext, spec: ProcessSpec): Promise<SystemRole> {
  if (spec.role === 'server') {
    const server = new A2mServer(context.tnic, context.network, (line) => context.output.log(line));
    return { start: async () => {}, tick: async () => {}, stats: () => server.stats(), stop: async () => {} };
  }
  return a2mDriver(context, await A2mClient.open(context));
}

/** Requests the server received and verified but could not serve, by reason. */
interface ServerRejections {
  /** Not a valid append or lookup request. */
  malformed: number;
}

/** The A2M server: one log in host memory, appended to and read by the client's requests. */
class A2mServer {
  readonly log: HostLog = { tail: 0, entries: [] };
  readonly rejected: ServerRejections = { malformed: 0 };
  appends = 0;
  lookups = 0;
  #serial = new SerialQueue();
  #connection: Connection;
  #channel: Channel;
  #failed = false;

  constructor(
    private readonly tnic: Tnic,
    network: Network,
    private readonly report: (line: string) => void,
  ) {
    this.#channel = network.node(A2M_SERVER.name).channel(A2M_CLIENT.name);
    this.#connection = new Connection(tnic, this.#channel, A2M_CLIENT.session, A2M_CLIENT.device);
    this.#channel.onReadable = () => this.#serial.run(() => this.#poll());
  }

  stats(): Record<string, unknown> {
    const rejected = { ...this.#connection.rejected };
    return { entries: this.log.entries.length, appends: this.appends, lookups: this.lookups, rejected, ...this.rejected };
  }

  async #poll(): Promise<void> {
    let messages: ReceivedMessage[];
    try {
      messages = this.#failed ? [] : await this.#connection.poll();
    } catch (error) {
      this.#failed = true;
      this.report(`the connection to the client failed: ${(error as Error).message}`);
      return;
    }
    for (const m of messages) await this.#handle(decodeJson(m.msg));
  }

  async #handle(request: unknown): Promise<void> {
    if (!isRecord(request) || !isCount(request.process) || !isCount(request.id)) {
      this.rejected.malformed += 1;
      return;
    }
    const { process, id } = request;
    if (request.t === 'append' && typeof request.ctx === 'string') {
      const signed = await this.tnic.attestAndSign(LOG_SESSION, Buffer.from(request.ctx, 'base64'));
      const message = decodeAttested(signed.attested);
      const index = Number(message.counter);
      const attestation = signed.attested.slice(0, ATTESTED_OVERHEAD);
      this.log.entries[index - this.log.tail] = { index, ctx: message.msg, attestation };
      this.appends += 1;
      this.#reply({ t: 'entry', process, id, reply: toBase64(encodeSignedReply(signed)) });
    } else if (request.t === 'lookup' && isCount(request.index)) {
      this.lookups += 1;
      const entry = this.log.entries[request.index - this.log.tail];
      if (entry === undefined) {
        this.#reply({ t: 'missing', process, id, index: request.index });
        return;
      }
      const signed = await this.tnic.checkAndSign(concatBytes(entry.attestation, entry.ctx));
      this.#reply({ t: 'entry', process, id, reply: toBase64(encodeSignedReply(signed)) });
    } else {
      this.rejected.malformed += 1;
    }
  }

  #reply(reply: Record<string, unknown>): void {
    trySend(this.#channel, encodeJson(reply));
  }
}

/** Reason the client rejects a reply or an entry. */
export type A2mFailure =
  | 'malformed' // not a reply, or a reply to no pending request
  | 'missing' // the server has no entry at the index
  | 'unknown-signer' // signed by another device than the server's
  | 'bad-signature' // the signature fails with the server's certified client key
  | 'wrong-log' // attested by another device or on another session than the log's
  | 'wrong-entry' // another counter or other bytes than the client appended
  | 'duplicate-index'; // an append returned an index an earlier append already took

interface Operation {
  kind: 'append' | 'lookup';
  process: number;
  id: number;
  ctx: Uint8Array;
  /** The index the client expects; undefined for an append, which learns it from the reply. */
  index: number | undefined;
}

/** The A2M client: each process appends its entries, then looks each one up and verifies it. */
class A2mClient {
  readonly failed: Record<A2mFailure, number> = {
    malformed: 0,
    missing: 0,
    'unknown-signer': 0,
    'bad-signature': 0,
    'wrong-log': 0,
    'wrong-entry': 0,
    'duplicate-index': 0,
  };
  appended = 0;
  verified = 0;
  #serial = new SerialQueue();
  #pending = new Map<number, Operation>();
  /** Per process, the context and the index of each append, by id. */
  #entries: { ctx: Uint8Array; index: number | undefined }[][];
  #next: number[];
  #taken = new Set<number>();
  #connection: Connection;

  private constructor(
    private readonly context: RoleContext,
    private readonly serverKey: Uint8Array,
  ) {
    const { processes, operations, seed } = context.system.workload;
    const random = new SeededRandom(seed);
    this.#entries = Array.from({ length: processes }, (_, p) =>
      Array.from({ length: operations }, (_, id) => ({ ctx: entryContext(p, id, random), index: undefined })),
    );
    this.#next = new Array<number>(processes).fill(0);
    const channel = context.network.node(A2M_CLIENT.name).channel(A2M_SERVER.name);
    this.#connection = new Connection(context.tnic, channel, A2M_CLIENT.session, A2M_SERVER.device);
    channel.onReadable = () => this.#serial.run(() => this.#receive(channel));
  }

  /** Check the server's client key certificate against the vendor's roots before any request. */
  static async open(context: RoleContext): Promise<A2mClient> {
    const certificate = context.start.certificates.get(A2M_SERVER.name);
    if (certificate === undefined) {
      throw new TnicError('cluster-start-failed', "the vendor's start message has no certificate of the A2M server");
    }
    const problem =
      certificate.deviceId === A2M_SERVER.device
        ? await checkClientKeyChain(certificate, context.start.roots)
        : { detail: `the certificate names device ${certificate.deviceId}, not ${A2M_SERVER.device}` };
    if (problem !== undefined) {
      throw new TnicError('cluster-start-failed', `the A2M server's client key certificate is invalid: ${problem.detail}`);
    }
    return new A2mClient(context, certificate.clientKey);
  }

  /** Appends and lookups of the whole workload. */
  get operations(): number {
    return 2 * this.#entries.length * (this.#entries[0]?.length ?? 0);
  }

  get completed(): number {
    return this.#next.reduce((a, b) => a + b, 0);
  }

  get failures(): number {
    return Object.values(this.failed).reduce((a, b) => a + b, 0);
  }

  start(): Promise<void> {
    return this.#serial.run(async () => {
      for (let p = 0; p < this.#entries.length; p++) await this.#issue(p);
    });
  }

  /** Send process `p`'s next operation: its appends first, then a lookup of each appended index. */
  async #issue(p: number): Promise<void> {
    const entries = this.#entries[p]!;
    const step = this.#next[p]!;
    if (step >= 2 * entries.length) return;
    const id = step;
    const entry = entries[step % entries.length]!;
    const appending = step < entries.length;
    if (!appending && entry.index === undefined) {
      // The append failed, so there is no index to look up; the lookup counts as failed too.
      this.failed.missing += 1;
      this.#next[p] = step + 1;
      await this.#issue(p);
      return;
    }
    const op: Operation = { kind: appending ? 'append' : 'lookup', process: p, id, ctx: entry.ctx, index: entry.index };
    this.#pending.set(p, op);
    const request = appending
      ? { t: 'append', process: p, id, ctx: toBase64(entry.ctx) }
      : { t: 'lookup', process: p, id, index: entry.index };
    if (!this.#connection.error) await this.#connection.authSend(encodeJson(request));
  }

  async #receive(channel: Channel): Promise<void> {
    for (const bytes of channel.receive()) {
      const reply = decodeJson(bytes);
      const op = isRecord(reply) && isCount(reply.process) ? this.#pending.get(reply.process) : undefined;
      if (!isRecord(reply) || op === undefined || reply.id !== op.id) {
        this.failed.malformed += 1;
        continue;
      }
      const failure = await this.#check(op, reply);
      if (failure === undefined) this.verified += 1;
      else this.failed[failure] += 1;
      this.#pending.delete(op.process);
      this.#next[op.process] = op.id + 1;
      await this.#issue(op.process);
    }
  }

  /** Check a reply to `op`; returns why it fails, or undefined when the entry is verified. */
  async #check(op: Operation, reply: Record<string, unknown>): Promise<A2mFailure | undefined> {
    if (reply.t === 'missing') return 'missing';
    if (reply.t !== 'entry' || typeof reply.reply !== 'string') return 'malformed';
    let decoded;
    try {
      decoded = decodeSignedReply(Buffer.from(reply.reply, 'base64'));
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      return 'malformed';
    }
    if (decoded.reply.signer !== A2M_SERVER.device) return 'unknown-signer';
    if (!(await checkSignedReply(decoded.reply, this.serverKey))) return 'bad-signature';
    return this.#checkEntry(op, decoded.message);
  }

  #checkEntry(op: Operation, m: AttestedMessage): A2mFailure | undefined {
    if (m.device !== A2M_SERVER.device || m.session !== LOG_SESSION) return 'wrong-log';
    if (Buffer.compare(m.msg, op.ctx) !== 0) return 'wrong-entry';
    const index = Number(m.counter);
    if (op.kind === 'lookup') return index === op.index ? undefined : 'wrong-entry';
    if (this.#taken.has(index)) return 'duplicate-index';
    this.#taken.add(index);
    this.#entries[op.process]![op.id]!.index = index;
    this.appended += 1;
    return undefined;
  }
}

function a2mDriver(context: RoleContext, client: A2mClient): SystemRole {
  const progress = new ProgressLog(context.output);
  let started = 0;
  let done = false;

  const finish = (finished: boolean): void => {
    done = true;
    const wallMs = Math.round(performance.now() - started);
    const { operations } = client;
    writeSummary(context, {
      system: 'a2m',
      process: context.name,
      finished,
      operations,
      completed: client.completed,
      wallMs,
      line:
        `${client.completed} of ${operations} appends and lookups completed in ${wallMs} ms: ` +
        `${client.verified} verified, ${client.failures} failed`,
      appended: client.appended,
      verified: client.verified,
      failed: { ...client.failed },
    });
  };

  return {
    start: async () => {
      started = performance.now();
      const { processes, operations } = context.system.workload;
      context.output.log(`running ${processes} processes x ${operations} appends, then a lookup of each`);
      await client.start();
    },
    tick: async () => {
      if (done) return;
      if (client.completed >= client.operations) {
        finish(true);
        return;
      }
      const line = `${client.completed} of ${client.operations} appends and lookups completed`;
      progress.report(line, { completed: client.completed, operations: client.operations });
    },
    stats: () => ({ completed: client.completed, verified: client.verified, failed: { ...client.failed } }),
    stop: async () => {
      if (!done) finish(false);
    },
  };
}

/** Build the context of append `id` of process `p`: readable ids, then seeded random bytes. */
function entryContext(p: number, id: number, random: SeededRandom): Uint8Array {
  const label = new TextEncoder().encode(`a2m process ${p} entry ${id} `);
  return concatBytes(label, random.bytes(CTX_RANDOM_BYTES));
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export const A2M_SYSTEM: SystemDefinition = {
  kind: 'a2m',
  processes,
  driver: A2M_CLIENT.name,
  history: false,
  createRole,
};

/**
 * A queue pair: a TNIC connection over a network channel, plus the classic
 * RDMA verbs on the same channel. Attested messages go through the
 * Connection (authSend, poll), which verifies each on the device. Reads and
 * writes of registered memory are one-sided: the queue pair serves them as
 * they arrive, without the application, and they are not attested.
 */

import { InputError, TnicError } from '../sim/errors.ts';
import { MAX_FRAME_PAYLOAD } from '../stack/frame.ts';
import type { Clock, MessageChannel, ReadableHandler, TransportError } from '../stack/transport.ts';
import { decodeVerb, encodeVerb, type RegionInfo, type ResponseStatus, type VerbMessage } from '../stack/verbs_wire.ts';
import { Connection, type ConnectionOptions, type ReceivedMessage } from './connection.ts';
import type { Tnic } from './tnic_api.ts';

/** Host memory registered for DMA; `key` is set once initLqueue registers it with a queue pair. */
export interface MemoryRegion {
  readonly buffer: Uint8Array;
  key: number | undefined;
}

/** The peer's queue pair number, device id and memory regions, as ibvSync received them. */
export interface PeerInfo {
  queuePair: number;
  device: number;
  regions: RegionInfo[];
}

export interface QueuePairOptions extends ConnectionOptions {
  session: number;
  peerDeviceId: number;
  /** This queue pair's number, sent to the peer by ibvSync (default: the next free one in this process). */
  queuePair?: number;
  /** RDMA reads and writes awaiting a response before another throws (default 64). */
  maxOutstanding?: number;
  /** Attested messages received and not yet polled before more are dropped (default 4096). */
  maxInbox?: number;
}

/** Counters of messages the queue pair dropped before they reached the Connection. */
export interface QueuePairStats {
  malformed: number;
  inboxFull: number;
  unknownResponse: number;
  served: number;
}

/** A one-sided read or write that the peer refused. */
export class RemoteAccessError extends TnicError {
  constructor(
    readonly status: ResponseStatus,
    message: string,
  ) {
    super(`remote-${status}`, message);
    this.name = 'RemoteAccessError';
  }
}

interface Outstanding {
  resolve: (data: Uint8Array) => void;
  reject: (error: Error) => void;
  what: string;
}

let nextQueuePairNumber = 1;

export class QueuePair {
  readonly connection: Connection;
  readonly number: number;
  readonly stats: QueuePairStats = { malformed: 0, inboxFull: 0, unknownResponse: 0, served: 0 };
  /**
   * Called after attested messages arrive or the queue pair fails; poll() then
   * delivers them. A call starts only after the previous one settled.
   */
  onReadable: ReadableHandler | undefined;

  #attested: Uint8Array[] = [];
  #regions = new Map<number, Uint8Array>();
  #peer: PeerInfo | undefined;
  #syncWaiters: { resolve: (peer: PeerInfo) => void; reject: (error: Error) => void }[] = [];
  #outstanding = new Map<number, Outstanding>();
  #nextRequest = 0;
  #maxOutstanding: number;
  #maxInbox: number;
  #lastNotify: Promise<void> = Promise.resolve();

  constructor(
    readonly tnic: Tnic,
    readonly channel: MessageChannel,
    options: QueuePairOptions,
  ) {
    this.number = options.queuePair ?? nextQueuePairNumber++;
    this.#maxOutstanding = positiveInteger('maxOutstanding', options.maxOutstanding ?? 64);
    this.#maxInbox = positiveInteger('maxInbox', options.maxInbox ?? 4096);
    this.connection = new Connection(tnic, new AttestedChannel(this), options.session, options.peerDeviceId, options);
    channel.onReadable = () => this.#onArrival();
  }

  get peer(): PeerInfo | undefined {
    return this.#peer;
  }

  get error(): TransportError | Error | undefined {
    return this.connection.error;
  }

  /** Register `region` with this queue pair so the peer may read and write it; returns its key. */
  register(region: MemoryRegion): number {
    if (region.key !== undefined && this.#regions.get(region.key) === region.buffer) return region.key;
    const key = this.#regions.size + 1;
    this.#regions.set(key, region.buffer);
    region.key = key;
    return key;
  }

  /** Send this side's queue pair number, device id and regions; resolves with the peer's. */
  async sync(): Promise<PeerInfo> {
    this.#throwIfFailed();
    const regions = [...this.#regions].map(([key, buffer]) => ({ key, length: buffer.length }));
    this.channel.send(encodeVerb({ op: 'sync', queuePair: this.number, device: this.tnic.deviceId, regions }));
    if (this.#peer) return this.#peer;
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
  }

  async authSend(msg: Uint8Array): Promise<Uint8Array> {
    return this.connection.authSend(msg);
  }

  /** Verify the received attested messages; returns the accepted ones, in counter order. */
  async poll(): Promise<ReceivedMessage[]> {
    return this.connection.poll();
  }

  /** Write `data` into the peer's region `key` at `offset`; resolves once the peer wrote it. */
  async remWrite(key: number, offset: number, data: Uint8Array): Promise<void> {
    this.#checkRemote(key, offset, data.length, 13);
    const id = this.#nextRequest++ >>> 0;
    const done = this.#await(id, `write of ${data.length} bytes at offset ${offset} of region ${key}`);
    this.channel.send(encodeVerb({ op: 'write', id, key, offset, data }));
    await done;
  }

  /** Read `length` bytes of the peer's region `key` at `offset`. */
  async remRead(key: number, offset: number, length: number): Promise<Uint8Array> {
    this.#checkRemote(key, offset, length, 6);
    const id = this.#nextRequest++ >>> 0;
    const done = this.#await(id, `read of ${length} bytes at offset ${offset} of region ${key}`);
    this.channel.send(encodeVerb({ op: 'read', id, key, offset, length }));
    return done;
  }

  /** Messages taken by the Connection; called through AttestedChannel. */
  takeAttested(): Uint8Array[] {
    return this.#attested.splice(0);
  }

  #checkRemote(key: number, offset: number, length: number, header: number): void {
    this.#throwIfFailed();
    if (!this.#peer) throw new InputError('the peer regions are unknown; call ibvSync first');
    const region = this.#peer.regions.find((r) => r.key === key);
    if (!region) throw new InputError(`the peer registered no region with key ${key}`);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
      throw new InputError(`offset ${offset} and length ${length} must be integers of 0 or more`);
    }
    if (offset + length > region.length) {
      throw new InputError(`${length} bytes at offset ${offset} exceed region ${key} of ${region.length} bytes`);
    }
    if (length > MAX_FRAME_PAYLOAD - header) {
      throw new InputError(`${length} bytes exceed the ${MAX_FRAME_PAYLOAD - header} bytes of one RDMA message`);
    }
    if (this.#outstanding.size >= this.#maxOutstanding) {
      throw new TnicError(
        'rdma-outstanding-full',
        `${this.#outstanding.size} reads and writes await responses on ${this.channel.name}; await some first`,
      );
    }
  }

  #await(id: number, what: string): Promise<Uint8Array> {
    return new Promise((resolve, reject) => this.#outstanding.set(id, { resolve, reject, what }));
  }

  #throwIfFailed(): void {
    const error = this.channel.error;
    if (error) throw error;
  }

  #onArrival(): void | Promise<void> {
    let attested = false;
    for (const bytes of this.channel.receive()) {
      let m: VerbMessage;
      try {
        m = decodeVerb(bytes);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        this.stats.malformed += 1;
        continue;
      }
      if (m.op === 'attested') attested = this.#queueAttested(m.bytes) || attested;
      else this.#handle(m);
    }

    const error = this.channel.error;
    if (error) this.#failAll(error);
    if (attested || error) return this.#notify();
  }

  /** Run the readable handler after the previous call settled, so calls never overlap. */
  #notify(): Promise<void> {
    const run = this.#lastNotify.then(() => this.onReadable?.());
    this.#lastNotify = run.catch(() => undefined);
    return run;
  }

  #queueAttested(bytes: Uint8Array): boolean {
    if (this.#attested.length >= this.#maxInbox) {
      this.stats.inboxFull += 1;
      return false;
    }
    this.#attested.push(bytes);
    return true;
  }

  #handle(m: Exclude<VerbMessage, { op: 'attested' }>): void {
    switch (m.op) {
      case 'sync':
        this.#onSync(m);
        return;
      case 'write':
      case 'read':
        this.#serve(m);
        return;
      case 'response':
        this.#onResponse(m.id, m.status, m.data);
        return;
    }
  }

  #onSync(m: { queuePair: number; device: number; regions: RegionInfo[] }): void {
    const waiters = this.#syncWaiters.splice(0);
    if (m.device !== this.connection.peerDeviceId) {
      const error = new TnicError(
        'sync-wrong-peer',
        `ibvSync on ${this.channel.name}: the peer names device ${m.device}, ` +
          `not the expected device ${this.connection.peerDeviceId}`,
      );
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    this.#peer = { queuePair: m.queuePair, device: m.device, regions: m.regions };
    for (const waiter of waiters) waiter.resolve(this.#peer);
  }

  #serve(m: Extract<VerbMessage, { op: 'write' | 'read' }>): void {
    const region = this.#regions.get(m.key);
    const length = m.op === 'write' ? m.data.length : m.length;
    let status: ResponseStatus = 'ok';
    if (!region) status = 'unknown-region';
    else if (m.offset + length > region.length || length > MAX_FRAME_PAYLOAD - 6) status = 'out-of-bounds';

    let data = new Uint8Array(0);
    if (status === 'ok' && m.op === 'write') region!.set(m.data, m.offset);
    if (status === 'ok' && m.op === 'read') data = region!.slice(m.offset, m.offset + m.length);
    this.stats.served += 1;
    if (!this.channel.error) this.channel.send(encodeVerb({ op: 'response', id: m.id, status, data }));
  }

  #onResponse(id: number, status: ResponseStatus, data: Uint8Array): void {
    const outstanding = this.#outstanding.get(id);
    if (!outstanding) {
      this.stats.unknownResponse += 1;
      return;
    }
    this.#outstanding.delete(id);
    if (status === 'ok') outstanding.resolve(data);
    else outstanding.reject(new RemoteAccessError(status, `the peer rejected the ${outstanding.what}: ${status}`));
  }

  #failAll(error: Error): void {
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(error);
    for (const outstanding of this.#outstanding.values()) outstanding.reject(error);
    this.#outstanding.clear();
  }
}

/** The attested messages of a queue pair, as the channel its Connection reads and writes. */
class AttestedChannel implements MessageChannel {
  constructor(private readonly queuePair: QueuePair) {}

  get name(): string {
    return this.queuePair.channel.name;
  }

  get clock(): Clock {
    return this.queuePair.channel.clock;
  }

  get error(): TransportError | undefined {
    return this.queuePair.channel.error;
  }

  get onReadable(): ReadableHandler | undefined {
    return this.queuePair.onReadable;
  }

  set onReadable(handler: ReadableHandler | undefined) {
    this.queuePair.onReadable = handler;
  }

  send(bytes: Uint8Array): void {
    this.queuePair.channel.send(encodeVerb({ op: 'attested', bytes }));
  }

  receive(): Uint8Array[] {
    return this.queuePair.takeAttested();
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InputError(`${name} ${value} must be an integer of 1 or more`);
  return value;
}

/**
 * A two-device link in memory, in place of the RoCE transport between two
 * TNIC devices. `authSend` attests on the sender's device and puts the wire
 * bytes in the peer's inbox, in FIFO order.
 *
 * Everything between the two kernels is untrusted, so the link has hooks for
 * a Byzantine host or network: an interceptor is called with every packet
 * as it is sent, and the fault methods of `Inbox` change packets that wait
 * to be received.
 */

import { InputError, TnicError } from '../sim/errors.ts';
import type { TnicDevice } from './tnic_device.ts';
import { WALL_CLOCK, type Clock, type MessageChannel, type ReadableHandler } from './transport.ts';

export type EndName = 'a' | 'b';

/** A packet in flight: wire bytes from one endpoint to the other. */
export interface Packet {
  from: EndName;
  to: EndName;
  bytes: Uint8Array;
}

/**
 * A network hook, called with every packet at transmission, that returns
 * what reaches the peer's inbox: [] drops the packet, [bytes] passes or replaces
 * it, and more entries duplicate it or inject others.
 */
export type Interceptor = (packet: Packet) => readonly Uint8Array[];

/** Packets an inbox can hold before a send fails; the receiver drains it with poll. */
export const DEFAULT_INBOX_CAPACITY = 4096;

export interface MemoryLinkOptions {
  interceptor?: Interceptor;
  inboxCapacity?: number;
}

/**
 * Receive queue of one endpoint, in untrusted host memory. Packets leave it
 * in FIFO order through `take`. The fault methods act as the host or the
 * network would: they change, remove, copy or reorder waiting packets.
 */
export class Inbox {
  #packets: Uint8Array[] = [];

  constructor(
    readonly owner: EndName,
    readonly capacity: number,
  ) {}

  get length(): number {
    return this.#packets.length;
  }

  /** Return the packet at `index` (0 is the oldest) without removing it. */
  peek(index: number): Uint8Array {
    return this.#packets[this.#checkIndex(index)]!;
  }

  /** Called after each packet arrives; the link neither awaits nor times anything. */
  onPush: (() => void) | undefined;

  push(bytes: Uint8Array): void {
    if (this.#packets.length >= this.capacity) {
      throw new TnicError(
        'link-inbox-full',
        `inbox of endpoint ${this.owner} is full at ${this.capacity} packets; ` +
          'poll the receiver before sending more, or raise inboxCapacity',
      );
    }
    this.#packets.push(bytes.slice());
    this.onPush?.();
  }

  /** Remove and return every waiting packet, oldest first. */
  take(): Uint8Array[] {
    return this.#packets.splice(0);
  }

  // Fault injection: a Byzantine host or network.

  drop(index: number): Uint8Array {
    return this.#packets.splice(this.#checkIndex(index), 1)[0]!;
  }

  /** XOR the byte at `offset` of packet `index` with `mask` (non-zero). */
  tamper(index: number, offset: number, mask = 0x01): void {
    const packet = this.peek(index);
    if (!Number.isInteger(offset) || offset < 0 || offset >= packet.length) {
      throw new InputError(`offset ${offset} is outside packet ${index} of ${packet.length} bytes`);
    }
    if (!Number.isInteger(mask) || mask < 1 || mask > 0xff) {
      throw new InputError(`mask ${mask} must be a byte in 1..255, or the packet stays unchanged`);
    }
    packet[offset]! ^= mask;
  }

  /** Insert a copy of packet `index` right after it. */
  duplicate(index: number): void {
    const copy = this.peek(index).slice();
    this.#packets.splice(index + 1, 0, copy);
  }

  /** Append bytes that the network recorded earlier, e.g. to replay an old packet. */
  inject(bytes: Uint8Array): void {
    this.push(bytes);
  }

  swap(i: number, j: number): void {
    const first = this.peek(i);
    this.#packets[i] = this.peek(j);
    this.#packets[j] = first;
  }

  #checkIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.#packets.length) {
      throw new InputError(
        `packet index ${index} is out of range; the inbox of endpoint ${this.owner} ` +
          `holds ${this.#packets.length} packets`,
      );
    }
    return index;
  }
}

/**
 * One end of the link: a device, its inbox, and the way to its peer. As a
 * `MessageChannel` it delivers in inbox order, which the fault methods may
 * change, and it never fails.
 */
export class LinkEndpoint implements MessageChannel {
  readonly inbox: Inbox;
  readonly clock: Clock = WALL_CLOCK;
  readonly error = undefined;
  onReadable: ReadableHandler | undefined;

  constructor(
    readonly name: EndName,
    readonly device: TnicDevice,
    private readonly link: MemoryLink,
    inboxCapacity: number,
  ) {
    this.inbox = new Inbox(name, inboxCapacity);
    this.inbox.onPush = () => this.#notify();
  }

  get peer(): LinkEndpoint {
    return this.name === 'a' ? this.link.b : this.link.a;
  }

  /** Attest `msg` on `session` with this endpoint's device and send it; returns the wire bytes. */
  async authSend(session: number, msg: Uint8Array): Promise<Uint8Array> {
    const bytes = await this.device.localSend(session, msg);
    this.transmit(bytes);
    return bytes;
  }

  /** Send wire bytes as they are, e.g. to retransmit an earlier message. */
  transmit(bytes: Uint8Array): void {
    this.link.deliver({ from: this.name, to: this.peer.name, bytes: bytes.slice() });
  }

  /** The `MessageChannel` name of transmit. */
  send(bytes: Uint8Array): void {
    this.transmit(bytes);
  }

  /** The last error that the readable handler raised; the link does not await the handler. */
  handlerError: unknown;

  #notify(): void {
    const result = this.onReadable?.();
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        this.handlerError = error;
      });
    }
  }

  /** Remove and return the received packets, oldest first; nothing is verified here. */
  receive(): Uint8Array[] {
    return this.inbox.take();
  }
}

/**
 * Two endpoints joined in memory. The link does not own the devices: the
 * caller that opened them closes them.
 */
export class MemoryLink {
  readonly a: LinkEndpoint;
  readonly b: LinkEndpoint;
  /** Replaceable at any time, e.g. to drop only the next packet. */
  interceptor: Interceptor | undefined;

  constructor(deviceA: TnicDevice, deviceB: TnicDevice, options: MemoryLinkOptions = {}) {
    const capacity = options.inboxCapacity ?? DEFAULT_INBOX_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new InputError(`inboxCapacity ${capacity} must be an integer of 1 or more`);
    }
    this.a = new LinkEndpoint('a', deviceA, this, capacity);
    this.b = new LinkEndpoint('b', deviceB, this, capacity);
    this.interceptor = options.interceptor;
  }

  endpoint(name: EndName): LinkEndpoint {
    return name === 'a' ? this.a : this.b;
  }

  /** Pass a packet through the interceptor into the inbox of `packet.to`. */
  deliver(packet: Packet): void {
    const arriving = this.interceptor ? this.interceptor(packet) : [packet.bytes];
    const inbox = this.endpoint(packet.to).inbox;
    for (const bytes of arriving) inbox.push(bytes);
  }
}

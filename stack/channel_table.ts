/**
 * The channels of one network endpoint, keyed by peer address and
 * connection id, and the demultiplexer that hands each arriving datagram to
 * its channel. A datagram that does not parse, or that names no open
 * channel, is dropped and counted by reason. Nothing malformed reaches a
 * channel, and no input makes dispatch throw.
 */

import { InputError } from '../sim/errors.ts';
import { decodeFrame, emptyDropCounts, type DropReason } from './frame.ts';
import { ReliableChannel, type ChannelHost, type ReliableOptions } from './reliable_channel.ts';
import type { Clock } from './transport.ts';

export interface EndpointStats {
  /** Datagrams that arrived, valid or not. */
  datagrams: number;
  dropped: Record<DropReason, number>;
}

/** The transport's send function and clock, through which channels reach their peers. */
export interface ChannelLink {
  clock: Clock;
  output(peer: string, frame: Uint8Array): void;
  settle(result: void | Promise<void>): void;
}

export class ChannelTable {
  readonly stats: EndpointStats = { datagrams: 0, dropped: emptyDropCounts() };
  #channels = new Map<string, ReliableChannel>();

  constructor(
    /** This endpoint's address, used in channel names. */
    readonly local: string,
    private readonly link: ChannelLink,
  ) {}

  /** Open the channel to `peer` with `connection`; both ends must open it with the same id. */
  open(peer: string, connection: number, options: ReliableOptions = {}): ReliableChannel {
    if (!Number.isInteger(connection) || connection < 0 || connection > 0xffff_ffff) {
      throw new InputError(`connection id ${connection} must be an integer in 0..2^32-1`);
    }
    const key = channelKey(peer, connection);
    if (this.#channels.has(key)) {
      throw new InputError(`connection ${connection} to ${peer} is already open on ${this.local}`);
    }
    const host: ChannelHost = {
      clock: this.link.clock,
      output: (frame) => this.link.output(peer, frame),
      drop: (reason) => this.#count(reason),
      settle: (result) => this.link.settle(result),
    };
    const channel = new ReliableChannel(`${this.local} -> ${peer} #${connection}`, connection, host, options);
    this.#channels.set(key, channel);
    return channel;
  }

  channels(): ReliableChannel[] {
    return [...this.#channels.values()];
  }

  /** Hand a datagram from `peer` to its channel, or drop and count it. */
  dispatch(peer: string, bytes: Uint8Array): void {
    this.stats.datagrams += 1;
    const frame = decodeFrame(bytes);
    if (typeof frame === 'string') {
      this.#count(frame);
      return;
    }
    const channel = this.#channels.get(channelKey(peer, frame.connection));
    if (!channel) {
      this.#count('unknown-connection');
      return;
    }
    channel.handleFrame(frame);
  }

  closeAll(): void {
    for (const channel of this.#channels.values()) channel.close();
  }

  #count(reason: DropReason): void {
    this.stats.dropped[reason] += 1;
  }
}

function channelKey(peer: string, connection: number): string {
  return `${peer}#${connection}`;
}

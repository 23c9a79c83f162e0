/**
 * Real UDP (node:dgram, IPv4) under the reliable channel. One socket per
 * endpoint carries any number of channels, distinguished by the peer's address
 * and port and the connection id in each frame. Timers are wall-clock.
 *
 * Arriving datagrams go through the same demultiplexer as on the simulated
 * network: malformed ones are dropped and counted by reason in `stats`.
 */

import { createSocket, type Socket } from 'node:dgram';

import { InputError, TnicError } from '../sim/errors.ts';
import { ChannelTable, type EndpointStats } from './channel_table.ts';
import type { ReliableChannel, ReliableOptions } from './reliable_channel.ts';
import { WALL_CLOCK } from './transport.ts';

export interface UdpTransportOptions {
  /** IPv4 address to bind (default 127.0.0.1). */
  address?: string;
  /** UDP port to bind; 0 (the default) lets the OS pick one. */
  port?: number;
  /** Called with each error that a readable handler or a socket send raised. */
  onError?: (error: unknown) => void;
}

export interface UdpPeer {
  address: string;
  port: number;
}

export class UdpTransport {
  readonly table: ChannelTable;
  /** Socket send failures, e.g. an unreachable address; the channel retransmits. */
  sendErrors = 0;
  #closed = false;

  private constructor(
    readonly socket: Socket,
    readonly address: string,
    readonly port: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.table = new ChannelTable(`${address}:${port}`, {
      clock: WALL_CLOCK,
      output: (peer, frame) => this.#output(peer, frame),
      settle: (result) => {
        if (result instanceof Promise) result.catch((error: unknown) => this.onError(error));
      },
    });
    socket.on('message', (message, remote) => {
      const bytes = new Uint8Array(message.buffer, message.byteOffset, message.length);
      this.table.dispatch(`${remote.address}:${remote.port}`, bytes);
    });
  }

  /** Bind a UDP socket; the transport is ready when this resolves. */
  static async open(options: UdpTransportOptions = {}): Promise<UdpTransport> {
    const address = options.address ?? '127.0.0.1';
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InputError(`UDP port ${port} must be an integer in 0..65535`);
    }
    const socket = await bindUdpSocket(address, port);
    const onError =
      options.onError ?? ((error: unknown) => console.error(`udp transport ${address}: ${String(error)}`));
    socket.on('error', onError);
    return new UdpTransport(socket, address, socket.address().port, onError);
  }

  /** "address:port" of this endpoint. */
  get local(): string {
    return this.table.local;
  }

  get stats(): EndpointStats {
    return this.table.stats;
  }

  /** Open the channel to `peer`; the peer opens its end to this endpoint with the same connection id. */
  channel(peer: UdpPeer | string, connection = 0, options: ReliableOptions = {}): ReliableChannel {
    if (this.#closed) throw new TnicError('transport-closed', `UDP transport ${this.local} is closed`);
    return this.table.open(peerKey(peer), connection, options);
  }

  /** Send one raw datagram, bypassing every channel, e.g. to test malformed input. */
  sendDatagram(peer: UdpPeer | string, bytes: Uint8Array): Promise<void> {
    const { address, port } = parsePeer(peerKey(peer));
    return new Promise((resolve, reject) => {
      this.socket.send(bytes, port, address, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Close every channel and the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.table.closeAll();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  #output(peer: string, frame: Uint8Array): void {
    if (this.#closed) return;
    const { address, port } = parsePeer(peer);
    this.socket.send(frame, port, address, (error) => {
      if (!error) return;
      this.sendErrors += 1;
      this.onError(error);
    });
  }
}

/**
 * Receive buffer asked of the OS for every socket, in bytes. Linux caps it at
 * net.core.rmem_max (often 208 KiB), and every datagram also costs about
 * 1 KiB of overhead, so a burst of small datagrams can overflow the default
 * buffer before the event loop reads it. The reliable channel resends what
 * is lost, but a larger buffer loses less.
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Bind a new IPv4 UDP socket to `address` and `port` (0 lets the OS pick the port). */
export async function bindUdpSocket(address: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

function peerKey(peer: UdpPeer | string): string {
  const key = typeof peer === 'string' ? peer : `${peer.address}:${peer.port}`;
  parsePeer(key);
  return key;
}

function parsePeer(key: string): UdpPeer {
  const colon = key.lastIndexOf(':');
  const address = key.slice(0, colon);
  const port = Number(key.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InputError(`peer '${key}' must be "address:port" with a port in 1..65535`);
  }
  return { address, port };
}

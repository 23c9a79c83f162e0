/**
 * The TNIC programming API under the names of its reference table, as free
 * functions over Tnic and QueuePair:
 *
 *   ibvQpConn     create a queue pair to a peer over a transport
 *   allocMem      allocate host memory for DMA
 *   initLqueue    register local memory with a queue pair
 *   ibvSync       exchange queue pair numbers, device ids and regions
 *   localSend     attest a message locally, without sending it
 *   localVerify   verify an attested message locally
 *   authSend      attest a message and send it reliably
 *   poll          verify received messages; returns only the accepted ones
 *   remRead, remWrite   classic one-sided RDMA read and write (not attested)
 */

import { InputError } from '../sim/errors.ts';
import type { Transport } from '../stack/transport.ts';
import type { ReceivedMessage } from './connection.ts';
import { QueuePair, type MemoryRegion, type PeerInfo, type QueuePairOptions } from './queue_pair.ts';
import type { Tnic, VerifyResult } from './tnic_api.ts';

export { QueuePair, RemoteAccessError } from './queue_pair.ts';
export type { MemoryRegion, PeerInfo, QueuePairOptions, QueuePairStats } from './queue_pair.ts';

export interface QpConnOptions extends QueuePairOptions {
  /** The peer: a node name on the simulated network, or "address:port" on UDP. */
  peer: string;
  /** Connection id that both ends use for this queue pair (default 0). */
  connection?: number;
}

/** Largest region allocMem hands out: offsets and lengths on the wire are u32. */
export const MAX_REGION_BYTES = 0xffff_ffff;

export function ibvQpConn(tnic: Tnic, transport: Transport, options: QpConnOptions): QueuePair {
  const channel = transport.channel(options.peer, options.connection ?? 0);
  return new QueuePair(tnic, channel, options);
}

export function allocMem(bytes: number): MemoryRegion {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_REGION_BYTES) {
    throw new InputError(`memory region of ${bytes} bytes must be 1..${MAX_REGION_BYTES} bytes`);
  }
  return { buffer: new Uint8Array(bytes), key: undefined };
}

/** Returns the key under which the peer reaches `region`. */
export function initLqueue(qp: QueuePair, region: MemoryRegion): number {
  return qp.register(region);
}

export function ibvSync(qp: QueuePair): Promise<PeerInfo> {
  return qp.sync();
}

export function localSend(tnic: Tnic, session: number, msg: Uint8Array): Promise<Uint8Array> {
  return tnic.localSend(session, msg);
}

export function localVerify(tnic: Tnic, bytes: Uint8Array): Promise<VerifyResult> {
  return tnic.localVerify(bytes);
}

export function authSend(qp: QueuePair, msg: Uint8Array): Promise<Uint8Array> {
  return qp.authSend(msg);
}

/**
 * Verify the received messages and return the accepted ones. The number of
 * completed receives is the returned length, so rejected messages never count.
 */
export function poll(qp: QueuePair): Promise<ReceivedMessage[]> {
  return qp.poll();
}

export function remRead(qp: QueuePair, key: number, offset: number, length: number): Promise<Uint8Array> {
  return qp.remRead(key, offset, length);
}

export function remWrite(qp: QueuePair, key: number, offset: number, data: Uint8Array): Promise<void> {
  return qp.remWrite(key, offset, data);
}

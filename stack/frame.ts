/**
 * Datagram format of the reliable channel, the same on the simulated
 * network and on UDP. All fields are big-endian:
 *
 *   magic u16 = 0x544e ("TN") | version u8 = 1 | type u8 | connection u32
 *   | sequence u32 | length u16 | payload (length bytes) | crc32 u32
 *
 * DATA carries a payload with its sequence number. ACK carries the next
 * sequence number the receiver expects (a cumulative acknowledgement), NAK
 * the sequence number that is missing. The CRC-32 (zlib polynomial) covers
 * every byte before it, as the ICRC does in RoCE v2: random corruption is
 * caught here and repaired by retransmission, while deliberate tampering
 * that recomputes the CRC is left to the TNIC device to reject.
 */

import { crc32 } from 'node:zlib';

export const FRAME_MAGIC = 0x544e;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 14;
export const FRAME_OVERHEAD = FRAME_HEADER_BYTES + 4;
/** Largest UDP payload over IPv4: 65,535 - 20 (IP header) - 8 (UDP header). */
export const MAX_DATAGRAM_BYTES = 65507;
export const MAX_FRAME_PAYLOAD = MAX_DATAGRAM_BYTES - FRAME_OVERHEAD;

export const FRAME_TYPES = { data: 1, ack: 2, nak: 3 } as const;
export type FrameType = keyof typeof FRAME_TYPES;

export interface Frame {
  type: FrameType;
  connection: number;
  sequence: number;
  payload: Uint8Array;
}

/** Reason for dropping a datagram before it reached a channel. */
export type DropReason =
  | 'too-short'
  | 'oversized'
  | 'bad-magic'
  | 'bad-version'
  | 'bad-type'
  | 'bad-length' // the length field disagrees with the datagram size
  | 'bad-checksum'
  | 'unknown-connection'
  | 'bad-ack' // an ACK or NAK for a sequence number never sent
  | 'window-full' // arrived too far ahead of the expected sequence number
  | 'channel-failed'; // arrived after the channel had failed or closed

export const DROP_REASONS: readonly DropReason[] = [
  'too-short',
  'oversized',
  'bad-magic',
  'bad-version',
  'bad-type',
  'bad-length',
  'bad-checksum',
  'unknown-connection',
  'bad-ack',
  'window-full',
  'channel-failed',
];

export function emptyDropCounts(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

export function encodeFrame(frame: Frame): Uint8Array {
  const out = new Uint8Array(FRAME_OVERHEAD + frame.payload.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, FRAME_MAGIC);
  view.setUint8(2, FRAME_VERSION);
  view.setUint8(3, FRAME_TYPES[frame.type]);
  view.setUint32(4, frame.connection);
  view.setUint32(8, frame.sequence);
  view.setUint16(12, frame.payload.length);
  out.set(frame.payload, FRAME_HEADER_BYTES);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)));
  return out;
}

/** Recompute the CRC of an encoded frame in place, as a tampering host would. */
export function resealFrame(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  view.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)));
}

/** Parse a datagram; returns the reason instead of throwing, because bad datagrams are routine. */
export function decodeFrame(bytes: Uint8Array): Frame | DropReason {
  if (bytes.length < FRAME_OVERHEAD) return 'too-short';
  if (bytes.length > MAX_DATAGRAM_BYTES) return 'oversized';

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint16(0) !== FRAME_MAGIC) return 'bad-magic';
  if (view.getUint8(2) !== FRAME_VERSION) return 'bad-version';
  const type = frameTypeOf(view.getUint8(3));
  if (type === undefined) return 'bad-type';
  const length = view.getUint16(12);
  if (length !== bytes.length - FRAME_OVERHEAD) return 'bad-length';
  if (type !== 'data' && length !== 0) return 'bad-length';
  if (view.getUint32(bytes.length - 4) !== crc32(bytes.subarray(0, bytes.length - 4))) {
    return 'bad-checksum';
  }

  return {
    type,
    connection: view.getUint32(4),
    sequence: view.getUint32(8),
    payload: bytes.slice(FRAME_HEADER_BYTES, bytes.length - 4),
  };
}

function frameTypeOf(code: number): FrameType | undefined {
  for (const [name, value] of Object.entries(FRAME_TYPES)) {
    if (value === code) return name as FrameType;
  }
  return undefined;
}

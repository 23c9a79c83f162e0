/**
 * fast-check arbitraries of datagrams that a node must drop: noise, too
 * short, oversized, truncated, one bit flipped, each header field broken
 * with the checksum recomputed, and well-formed frames on a connection the
 * node does not have. Every case is a frame of the reliable channel's
 * format (stack/frame.ts) or a corruption of one.
 */

import fc from 'fast-check';

import { Prng } from '../sim/prng.ts';
import { encodeFrame, FRAME_OVERHEAD, FRAME_TYPES, MAX_DATAGRAM_BYTES, type FrameType } from '../stack/frame.ts';
import { crc32 } from 'node:zlib';

/** Larger than any Ethernet jumbo frame (9,000 B) and up to the largest IPv4 UDP payload. */
const OVERSIZED_MIN_BYTES = 9001;

const frameType = fc.constantFrom<FrameType>('data', 'ack', 'nak');

/** A well-formed frame: DATA with a payload of up to 200 B, or an empty ACK or NAK. */
export const validFrame = fc
  .record({
    type: frameType,
    connection: fc.nat(),
    sequence: fc.nat(),
    payload: fc.uint8Array({ maxLength: 200 }),
  })
  .map((f) => encodeFrame({ ...f, payload: f.type === 'data' ? f.payload : new Uint8Array(0) }));

/** Recompute the trailing CRC-32, so only the broken field is wrong. */
function resealed(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  view.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)));
  return bytes;
}

/** Write `value` into the header of a copy of `frame` at `offset`, with `width` bytes, and reseal it. */
function withField(frame: Uint8Array, offset: number, width: 1 | 2, value: number): Uint8Array {
  const copy = frame.slice();
  const view = new DataView(copy.buffer);
  if (width === 1) view.setUint8(offset, value);
  else view.setUint16(offset, value);
  return resealed(copy);
}

const typeCodes = new Set<number>(Object.values(FRAME_TYPES));

export const malformedDatagram: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: FRAME_OVERHEAD - 1 }) },
  { weight: 3, arbitrary: fc.uint8Array({ minLength: FRAME_OVERHEAD, maxLength: 600 }) },
  {
    weight: 1,
    // fast-check draws big arrays byte by byte, which is slow; a seeded PRNG fills them instead.
    arbitrary: fc
      .tuple(fc.integer({ min: OVERSIZED_MIN_BYTES, max: MAX_DATAGRAM_BYTES }), fc.nat())
      .map(([length, seed]) => new Prng(seed).bytes(length)),
  },
  {
    weight: 3,
    arbitrary: validFrame.chain((f) => fc.nat(f.length - 1).map((keep) => f.slice(0, keep))),
  },
  {
    weight: 4,
    arbitrary: validFrame.chain((f) =>
      fc.nat(f.length * 8 - 1).map((bit) => {
        const copy = f.slice();
        copy[bit >> 3]! ^= 1 << (bit & 7);
        return copy;
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(validFrame, fc.integer({ min: 0, max: 0xffff }).filter((m) => m !== 0x544e))
      .map(([f, magic]) => withField(f, 0, 2, magic)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(validFrame, fc.integer({ min: 0, max: 255 }).filter((v) => v !== 1))
      .map(([f, version]) => withField(f, 2, 1, version)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(validFrame, fc.integer({ min: 0, max: 255 }).filter((t) => !typeCodes.has(t)))
      .map(([f, type]) => withField(f, 3, 1, type)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(validFrame, fc.integer({ min: 0, max: 0xffff }))
      .filter(([f, length]) => length !== f.length - FRAME_OVERHEAD)
      .map(([f, length]) => withField(f, 12, 2, length)),
  },
  { weight: 2, arbitrary: validFrame },
);

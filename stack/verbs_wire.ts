/**
 * Messages of a queue pair on its channel: attested messages, the
 * ibvSync exchange, and one-sided RDMA reads and writes with their
 * responses. Each begins with a one-byte opcode; integers are big-endian
 * u32 unless stated.
 *
 *   ATTESTED  op=1 | attested wire bytes (alpha || header || msg)
 *   SYNC      op=2 | queue pair number | device id | region count u16
 *                  | per region: key, length in bytes
 *   WRITE     op=3 | request id | region key | offset | data
 *   READ      op=4 | request id | region key | offset | length
 *   RESPONSE  op=5 | request id | status u8 | data (READ only)
 *
 * RDMA reads and writes are the classic, unattested operations: nothing in
 * them is verified by a TNIC device.
 */

import { InputError } from '../sim/errors.ts';

export const VERB_OPS = { attested: 1, sync: 2, write: 3, read: 4, response: 5 } as const;

/** Offset of the attested wire bytes inside an ATTESTED message. */
export const ATTESTED_PAYLOAD_OFFSET = 1;

export const RESPONSE_STATUS = ['ok', 'unknown-region', 'out-of-bounds'] as const;
export type ResponseStatus = (typeof RESPONSE_STATUS)[number];

export interface RegionInfo {
  key: number;
  length: number;
}

export type VerbMessage =
  | { op: 'attested'; bytes: Uint8Array }
  | { op: 'sync'; queuePair: number; device: number; regions: RegionInfo[] }
  | { op: 'write'; id: number; key: number; offset: number; data: Uint8Array }
  | { op: 'read'; id: number; key: number; offset: number; length: number }
  | { op: 'response'; id: number; status: ResponseStatus; data: Uint8Array };

export function encodeVerb(m: VerbMessage): Uint8Array {
  switch (m.op) {
    case 'attested':
      return withOp(VERB_OPS.attested, [], m.bytes);
    case 'sync': {
      if (m.regions.length > 0xffff) throw new InputError(`${m.regions.length} regions exceed 65535`);
      const words = [m.queuePair, m.device];
      const body = new Uint8Array(2 + 8 * m.regions.length);
      const view = new DataView(body.buffer);
      view.setUint16(0, m.regions.length);
      m.regions.forEach((r, i) => {
        view.setUint32(2 + 8 * i, r.key);
        view.setUint32(6 + 8 * i, r.length);
      });
      return withOp(VERB_OPS.sync, words, body);
    }
    case 'write':
      return withOp(VERB_OPS.write, [m.id, m.key, m.offset], m.data);
    case 'read':
      return withOp(VERB_OPS.read, [m.id, m.key, m.offset, m.length], new Uint8Array(0));
    case 'response': {
      const status = Uint8Array.of(RESPONSE_STATUS.indexOf(m.status));
      return withOp(VERB_OPS.response, [m.id], concat(status, m.data));
    }
  }
}

/** Parse one message; throws InputError naming what is wrong. */
export function decodeVerb(bytes: Uint8Array): VerbMessage {
  if (bytes.length < 1) throw new InputError('queue pair message is empty');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const need = (n: number, what: string): void => {
    if (bytes.length < n) throw new InputError(`${what} message of ${bytes.length} bytes is shorter than ${n}`);
  };
  switch (bytes[0]) {
    case VERB_OPS.attested:
      return { op: 'attested', bytes: bytes.slice(1) };
    case VERB_OPS.sync: {
      need(11, 'sync');
      const count = view.getUint16(9);
      if (bytes.length !== 11 + 8 * count) {
        throw new InputError(`sync message of ${bytes.length} bytes does not hold its ${count} regions`);
      }
      const regions = Array.from({ length: count }, (_, i) => ({
        key: view.getUint32(11 + 8 * i),
        length: view.getUint32(15 + 8 * i),
      }));
      return { op: 'sync', queuePair: view.getUint32(1), device: view.getUint32(5), regions };
    }
    case VERB_OPS.write:
      need(13, 'write');
      return {
        op: 'write',
        id: view.getUint32(1),
        key: view.getUint32(5),
        offset: view.getUint32(9),
        data: bytes.slice(13),
      };
    case VERB_OPS.read:
      if (bytes.length !== 17) throw new InputError(`read message of ${bytes.length} bytes must be 17 bytes`);
      return {
        op: 'read',
        id: view.getUint32(1),
        key: view.getUint32(5),
        offset: view.getUint32(9),
        length: view.getUint32(13),
      };
    case VERB_OPS.response: {
      need(6, 'response');
      const status = RESPONSE_STATUS[bytes[5]!];
      if (status === undefined) throw new InputError(`response status ${bytes[5]} is not defined`);
      return { op: 'response', id: view.getUint32(1), status, data: bytes.slice(6) };
    }
    default:
      throw new InputError(`queue pair opcode ${bytes[0]} is not defined`);
  }
}

function withOp(op: number, words: readonly number[], tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + 4 * words.length + tail.length);
  const view = new DataView(out.buffer);
  out[0] = op;
  words.forEach((word, i) => view.setUint32(1 + 4 * i, word));
  out.set(tail, 1 + 4 * words.length);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

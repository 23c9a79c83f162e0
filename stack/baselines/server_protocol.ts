/**
 * Messages between the ssl-server device and its server process: one JSON
 * object per line over a Unix socket. Byte fields are base64, counters are
 * decimal strings. Frames from the device:
 *
 *   {"id":N,"kind":"run","requests":[request, ...]}
 *   {"id":N,"kind":"reset"}
 *
 * and replies, in the order of the frames:
 *
 *   {"id":N,"results":[result, ...]}    (reset: an empty list)
 *   {"id":N,"error":"what failed"}
 *
 * A load-key request carries the key to the server. No reply carries a key.
 */

import { STATUS_NAMES, type KernelRequest, type KernelResult, type KernelStatus } from '../../sim/kernel_port.ts';
import { InputError } from '../../sim/errors.ts';

export type DeviceFrame =
  | { id: number; kind: 'run'; requests: KernelRequest[] }
  | { id: number; kind: 'reset' };

export type ServerReply = { id: number; results: KernelResult[] } | { id: number; error: string };

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function encodeFrame(frame: DeviceFrame): string {
  if (frame.kind === 'reset') return JSON.stringify(frame);
  return JSON.stringify({ id: frame.id, kind: 'run', requests: frame.requests.map(encodeRequest) });
}

function encodeRequest(req: KernelRequest): Record<string, unknown> {
  switch (req.op) {
    case 'load-key':
      return { op: req.op, session: req.session, key: b64(req.key) };
    case 'set-id':
      return { op: req.op, device: req.device };
    case 'lock':
      return { op: req.op };
    case 'attest':
      return { op: req.op, session: req.session, msg: b64(req.msg) };
    case 'verify':
    case 'check':
      return {
        op: req.op,
        session: req.session,
        device: req.device,
        counter: req.counter.toString(),
        tag: b64(req.tag),
        msg: b64(req.msg),
      };
  }
}

export function encodeReply(reply: ServerReply): string {
  if ('error' in reply) return JSON.stringify(reply);
  const results = reply.results.map((r) => ({ status: r.status, tag: b64(r.tag), counter: r.counter.toString() }));
  return JSON.stringify({ id: reply.id, results });
}

/** Parse a frame from the device. Throws InputError that names the bad field. */
export function decodeFrame(line: string): DeviceFrame {
  const frame = parseObject(line, 'frame');
  const id = integerField(frame, 'id', 'frame');
  if (frame.kind === 'reset') return { id, kind: 'reset' };
  if (frame.kind !== 'run' || !Array.isArray(frame.requests)) {
    throw new InputError(`frame ${id}: kind must be "run" with a "requests" array, or "reset"`);
  }
  return { id, kind: 'run', requests: frame.requests.map((r, i) => decodeRequest(r, `frame ${id} request ${i}`)) };
}

function decodeRequest(raw: unknown, where: string): KernelRequest {
  if (!isObject(raw)) throw new InputError(`${where} is not an object`);
  switch (raw.op) {
    case 'load-key':
      return { op: 'load-key', session: integerField(raw, 'session', where), key: bytesField(raw, 'key', where) };
    case 'set-id':
      return { op: 'set-id', device: integerField(raw, 'device', where) };
    case 'lock':
      return { op: 'lock' };
    case 'attest':
      return { op: 'attest', session: integerField(raw, 'session', where), msg: bytesField(raw, 'msg', where) };
    case 'verify':
    case 'check':
      return {
        op: raw.op,
        session: integerField(raw, 'session', where),
        device: integerField(raw, 'device', where),
        counter: counterField(raw, where),
        tag: bytesField(raw, 'tag', where),
        msg: bytesField(raw, 'msg', where),
      };
    default:
      throw new InputError(`${where}: op ${JSON.stringify(raw.op)} is not a kernel operation`);
  }
}

/** Parse a reply from the server. Throws InputError that names the bad field. */
export function decodeReply(line: string): ServerReply {
  const reply = parseObject(line, 'reply');
  const id = integerField(reply, 'id', 'reply');
  if (typeof reply.error === 'string') return { id, error: reply.error };
  if (!Array.isArray(reply.results)) throw new InputError(`reply ${id} has neither "results" nor "error"`);
  const results = reply.results.map((raw, i): KernelResult => {
    const where = `reply ${id} result ${i}`;
    if (!isObject(raw) || !(STATUS_NAMES as readonly unknown[]).includes(raw.status)) {
      throw new InputError(`${where} has no valid status`);
    }
    return { status: raw.status as KernelStatus, tag: bytesField(raw, 'tag', where), counter: counterField(raw, where), cycles: 0 };
  });
  return { id, results };
}

function parseObject(line: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new InputError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new InputError(`${what} is not a JSON object`);
  return value;
}

function integerField(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new InputError(`${where}: ${key} must be an integer`);
  return v;
}

function bytesField(obj: Record<string, unknown>, key: string, where: string): Uint8Array {
  const v = obj[key];
  if (typeof v !== 'string') throw new InputError(`${where}: ${key} must be a base64 string`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

function counterField(obj: Record<string, unknown>, where: string): bigint {
  const v = obj.counter;
  if (typeof v !== 'string' || !/^[0-9]{1,20}$/.test(v)) {
    throw new InputError(`${where}: counter must be a decimal string`);
  }
  return BigInt(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

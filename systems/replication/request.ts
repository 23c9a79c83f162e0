/**
 * Client requests and the per-request results that replicas report, with
 * checks for every field: an authenticated sender can still be Byzantine,
 * so decoded values are validated before they reach a state machine.
 */

import { isRecord } from './wire.ts';
import type { Operation, Output } from './state_machine.ts';

/** One operation of one client process; (process, id) names it uniquely. */
export interface ClientRequest {
  process: number;
  id: number;
  op: Operation;
}

/** The output a replica computed for one request. */
export interface RequestResult {
  process: number;
  id: number;
  output: Output;
}

export function requestKey(r: { process: number; id: number }): string {
  return `${r.process}/${r.id}`;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isValue = (v: unknown): v is number => Number.isSafeInteger(v);

export function parseOperation(value: unknown): Operation | undefined {
  if (!isRecord(value)) return undefined;
  switch (value.f) {
    case 'increment':
      return { f: 'increment' };
    case 'get':
      return typeof value.key === 'string' ? { f: 'get', key: value.key } : undefined;
    case 'put':
      return typeof value.key === 'string' && isValue(value.value)
        ? { f: 'put', key: value.key, value: value.value }
        : undefined;
    case 'cas':
      return typeof value.key === 'string' && isValue(value.from) && isValue(value.to)
        ? { f: 'cas', key: value.key, from: value.from, to: value.to }
        : undefined;
    default:
      return undefined;
  }
}

export function isOutput(value: unknown): value is Output {
  return value === null || typeof value === 'boolean' || isValue(value);
}

export function parseRequest(value: unknown): ClientRequest | undefined {
  if (!isRecord(value) || !isCount(value.process) || !isCount(value.id)) return undefined;
  const op = parseOperation(value.op);
  return op === undefined ? undefined : { process: value.process, id: value.id, op };
}

/** Parse a list of requests; undefined if any entry is invalid. */
export function parseRequests(value: unknown): ClientRequest[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: ClientRequest[] = [];
  for (const item of value) {
    const request = parseRequest(item);
    if (request === undefined) return undefined;
    out.push(request);
  }
  return out;
}

/** Parse a list of outputs of exactly `length` entries; undefined otherwise. */
export function parseOutputs(value: unknown, length: number): Output[] | undefined {
  if (!Array.isArray(value) || value.length !== length) return undefined;
  return value.every(isOutput) ? (value as Output[]) : undefined;
}

/**
 * Return a wrong output of the same shape as `output`, as a Byzantine
 * replica reports one: numbers are off by 100, booleans negated, null becomes 100.
 */
export function falsifyOutput(output: Output): Output {
  if (typeof output === 'boolean') return !output;
  if (output === null) return 100;
  return output + 100;
}

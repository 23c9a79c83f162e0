/**
 * Chain replication messages, carried as JSON inside attested messages.
 * Node j of the chain sends
 *   {t: 'chain', seq, request, outputs, previous}
 * where outputs[k] is node k's output for k = 0..j, and `previous` is the
 * hex wire bytes of the attested message node j received from node j-1
 * (empty at the head): a proof of execution that any holder of the chain's
 * session keys can check with checkForwarded, back to the head.
 */

import { isOutput, parseRequest, type ClientRequest, type RequestResult } from '../replication/request.ts';
import type { Output } from '../replication/state_machine.ts';
import { isRecord } from '../replication/wire.ts';

export interface ChainMessage {
  t: 'chain';
  /** Position in the head's order, from 1. */
  seq: number;
  request: ClientRequest;
  outputs: Output[];
  /** Hex of the predecessor's attested message; '' at the head. */
  previous: string;
}

export function parseChainMessage(value: unknown): ChainMessage | undefined {
  if (!isRecord(value) || value.t !== 'chain') return undefined;
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 1) return undefined;
  const request = parseRequest(value.request);
  if (request === undefined) return undefined;
  if (!Array.isArray(value.outputs) || value.outputs.length === 0 || !value.outputs.every(isOutput)) return undefined;
  if (typeof value.previous !== 'string' || !/^([0-9a-f]{2})*$/.test(value.previous)) return undefined;
  const outputs = value.outputs as Output[];
  return { t: 'chain', seq: value.seq as number, request, outputs, previous: value.previous };
}

/** Extract the sender's own result, which is the last output of the message. */
export function chainResults(payload: unknown): RequestResult[] {
  const m = parseChainMessage(payload);
  if (m === undefined) return [];
  return [{ process: m.request.process, id: m.request.id, output: m.outputs.at(-1)! }];
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

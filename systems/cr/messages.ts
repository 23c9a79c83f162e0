/**
 * Chain replication messages, carried as JSON inside attested messages.
 *
 * Node j of the chain of epoch `epoch` sends its successor
 *   {t: 'chain', epoch, seq, request, outputs, previous}
 * where outputs[k] is the output of the chain's k-th node for k = 0..j, and
 * `previous` is the hex wire bytes of the attested message node j received
 * from node j-1 (empty at the head): a proof of execution that any holder
 * of the link session keys can check with checkForwarded, back to the head.
 * The sender's own output is always the last entry.
 *
 * After a reconfiguration, each node sends its new predecessor
 *   {t: 'ready', epoch, seq}
 * once its successor did. It means that every node from it to the tail
 * applied every request up to `seq`, so the predecessor re-sends from
 * seq + 1. A node
 * also sends its new successor a ready message with its own applied seq,
 * which the successor ignores; it only makes a down successor's channel fail.
 */

import { isOutput, parseRequest, type ClientRequest, type RequestResult } from '../replication/request.ts';
import type { Output } from '../replication/state_machine.ts';
import { isRecord } from '../replication/wire.ts';

export interface ChainMessage {
  t: 'chain';
  /** The configuration the sender forwarded it in, from 1. */
  epoch: number;
  /** Position in the head's order, from 1. */
  seq: number;
  request: ClientRequest;
  outputs: Output[];
  /** Hex of the predecessor's attested message; '' at the head. */
  previous: string;
}

export interface ReadyMessage {
  t: 'ready';
  epoch: number;
  /** Every node from the sender to the tail applied every request up to this one. */
  seq: number;
}

const isEpoch = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

export function parseChainMessage(value: unknown): ChainMessage | undefined {
  if (!isRecord(value) || value.t !== 'chain' || !isEpoch(value.epoch)) return undefined;
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 1) return undefined;
  const request = parseRequest(value.request);
  if (request === undefined) return undefined;
  if (!Array.isArray(value.outputs) || value.outputs.length === 0 || !value.outputs.every(isOutput)) return undefined;
  if (typeof value.previous !== 'string' || !isHex(value.previous)) return undefined;
  const outputs = value.outputs as Output[];
  return { t: 'chain', epoch: value.epoch, seq: value.seq as number, request, outputs, previous: value.previous };
}

export function parseReadyMessage(value: unknown): ReadyMessage | undefined {
  if (!isRecord(value) || value.t !== 'ready' || !isEpoch(value.epoch)) return undefined;
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 0) return undefined;
  return { t: 'ready', epoch: value.epoch, seq: value.seq as number };
}

/** Extract the sender's own result, which is the last output of the message. */
export function chainResults(payload: unknown): RequestResult[] {
  const m = parseChainMessage(payload);
  if (m === undefined) return [];
  return [{ process: m.request.process, id: m.request.id, output: m.outputs.at(-1)! }];
}

export function isHex(value: string): boolean {
  return /^([0-9a-f]{2})*$/.test(value);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

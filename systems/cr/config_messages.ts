/**
 * Messages between chain nodes and the configuration service, as JSON
 * inside attested messages on each node's service session.
 *
 * Node to service:
 *   accuse    {id, suspect, kind, epoch, seq?, session?, counter?, parts}; then
 *   evidence  {id, index, message}, `parts` times: one attested message each, in hex
 *   alive     {nonce}: the reply to a probe
 *   produce   {nonce, message}: the attested message a challenge asked for
 * Service to node:
 *   config    {epoch, chain}: the new configuration, node names head first
 *   probe     {nonce}: reply with alive
 *   challenge {nonce, session, counter, to}: retransmit that attested message to `to` and produce it
 * The service also sends `config` to the client, as a signed reply.
 *
 * Counters travel as decimal strings, because JSON numbers lose precision above 2^53.
 */

import { isRecord } from '../replication/wire.ts';
import { isHex } from './messages.ts';

/** Misbehaviour a node can accuse another of: the DetectionKinds that the service acts on. */
export type AccusationKind = 'output' | 'equivocation' | 'counter-gap' | 'unreachable';

export const ACCUSATION_KINDS: readonly AccusationKind[] = ['output', 'equivocation', 'counter-gap', 'unreachable'];

/** Evidence parts of one accusation; the wrong-output evidence has one per seq from 1. */
export const MAX_EVIDENCE_PARTS = 65_536;

export interface AccuseMessage {
  t: 'accuse';
  id: number;
  suspect: string;
  kind: AccusationKind;
  /** The accuser's epoch when it accused. */
  epoch: number;
  /** output: the seq of the wrong output; equivocation: the seq both messages claim. */
  seq?: number;
  /** counter-gap: the link session and the counter that never arrived. */
  session?: number;
  counter?: string;
  parts: number;
}

export interface EvidenceMessage {
  t: 'evidence';
  id: number;
  index: number;
  /** Hex of one attested message. */
  message: string;
}

export interface ConfigMessage {
  t: 'config';
  epoch: number;
  /** Node names, head first. */
  chain: string[];
}

export type NodeToService =
  | AccuseMessage
  | EvidenceMessage
  | { t: 'alive'; nonce: number }
  | { t: 'produce'; nonce: number; message: string };

export type ServiceToNode =
  | ConfigMessage
  | { t: 'probe'; nonce: number }
  | { t: 'challenge'; nonce: number; session: number; counter: string; to: string };

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;
const isCounter = (v: unknown): v is string => typeof v === 'string' && /^[0-9]{1,20}$/.test(v);
const isHexString = (v: unknown): v is string => typeof v === 'string' && isHex(v);

export function parseNodeToService(value: unknown): NodeToService | undefined {
  if (!isRecord(value)) return undefined;
  switch (value.t) {
    case 'accuse':
      return parseAccuse(value);
    case 'evidence':
      if (!isCount(value.id) || !isCount(value.index) || !isHexString(value.message)) return undefined;
      return { t: 'evidence', id: value.id, index: value.index, message: value.message };
    case 'alive':
      return isCount(value.nonce) ? { t: 'alive', nonce: value.nonce } : undefined;
    case 'produce':
      if (!isCount(value.nonce) || !isHexString(value.message)) return undefined;
      return { t: 'produce', nonce: value.nonce, message: value.message };
    default:
      return undefined;
  }
}

function parseAccuse(value: Record<string, unknown>): AccuseMessage | undefined {
  const kind = ACCUSATION_KINDS.find((k) => k === value.kind);
  if (!isCount(value.id) || !isName(value.suspect) || kind === undefined || !isCount(value.epoch)) return undefined;
  if (!isCount(value.parts) || value.parts > MAX_EVIDENCE_PARTS) return undefined;
  if (value.seq !== undefined && !isCount(value.seq)) return undefined;
  if (value.session !== undefined && !isCount(value.session)) return undefined;
  if (value.counter !== undefined && !isCounter(value.counter)) return undefined;
  return {
    t: 'accuse',
    id: value.id,
    suspect: value.suspect,
    kind,
    epoch: value.epoch,
    seq: value.seq as number | undefined,
    session: value.session as number | undefined,
    counter: value.counter as string | undefined,
    parts: value.parts,
  };
}

export function parseServiceToNode(value: unknown): ServiceToNode | undefined {
  if (!isRecord(value)) return undefined;
  switch (value.t) {
    case 'config':
      return parseConfig(value);
    case 'probe':
      return isCount(value.nonce) ? { t: 'probe', nonce: value.nonce } : undefined;
    case 'challenge':
      if (!isCount(value.nonce) || !isCount(value.session) || !isCounter(value.counter) || !isName(value.to)) {
        return undefined;
      }
      return { t: 'challenge', nonce: value.nonce, session: value.session, counter: value.counter, to: value.to };
    default:
      return undefined;
  }
}

/** Parse a configuration: a positive epoch and a non-empty chain of distinct names. */
export function parseConfig(value: unknown): ConfigMessage | undefined {
  if (!isRecord(value) || value.t !== 'config') return undefined;
  if (!Number.isSafeInteger(value.epoch) || (value.epoch as number) < 1) return undefined;
  if (!Array.isArray(value.chain) || value.chain.length === 0 || !value.chain.every(isName)) return undefined;
  const chain = value.chain as string[];
  if (new Set(chain).size !== chain.length) return undefined;
  return { t: 'config', epoch: value.epoch as number, chain: [...chain] };
}

/**
 * Accusations that a Byzantine chain node makes against a correct one, to
 * get it removed from the chain. Each is built from what such a node really
 * has: the target's genuine attested messages, copies it changes, or no
 * evidence at all. The configuration service must reject every one.
 */

import { decodeAttested, encodeAttested } from '../../api/tnic_api.ts';
import { decodeJson, encodeJson } from '../replication/wire.ts';
import type { AccusationKind } from './config_messages.ts';
import { parseChainMessage } from './messages.ts';

export interface FalseAccusation {
  kind: AccusationKind;
  seq?: number;
  messages: Uint8Array[];
  /** The reason the accusation is false, for logs and tests. */
  flaw: string;
}

/**
 * Build false accusations against a target whose genuine messages for
 * seq 1..n are `genuine` (empty when the accuser has none). They are a
 * wrong output with genuine evidence, a wrong output with a changed copy,
 * equivocation with one message twice and, last, unreachable while the
 * target is up.
 */
export function falseAccusations(genuine: readonly Uint8Array[]): FalseAccusation[] {
  const unreachable: FalseAccusation = { kind: 'unreachable', messages: [], flaw: 'the target answers probes' };
  const last = genuine.at(-1);
  if (last === undefined) return [unreachable];

  const seq = genuine.length;
  return [
    { kind: 'output', seq, messages: [...genuine], flaw: 'every output matches re-execution' },
    {
      kind: 'output',
      seq,
      messages: [...genuine.slice(0, -1), withChangedOutput(last)],
      flaw: 'the last message was changed after attestation, so its tag fails',
    },
    { kind: 'equivocation', seq, messages: [last, last], flaw: 'both messages are the same' },
    unreachable,
  ];
}

/** Replace the sender's own output in attested chain message `bytes`, keeping the old tag. */
function withChangedOutput(bytes: Uint8Array): Uint8Array {
  const attested = decodeAttested(bytes);
  const message = parseChainMessage(decodeJson(attested.msg));
  if (message === undefined) return bytes;
  let own = message.outputs.at(-1)!;
  if (typeof own === 'number') own += 1;
  else if (own === null) own = 1;
  else own = !own;
  const outputs = [...message.outputs.slice(0, -1), own];
  return encodeAttested({ ...attested, msg: encodeJson({ ...message, outputs }) });
}

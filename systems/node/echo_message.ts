/**
 * Messages of the node's built-in echo protocol, carried inside attested
 * messages: a node sends numbered requests to a peer, and the peer returns
 * each payload in a reply. Both directions are attested and verified.
 *
 *   kind u8 (1 request, 2 reply) | index u32 big-endian | payload
 */

import { InputError } from '../../sim/errors.ts';
import { ECHO_HEADER_BYTES } from '../../stack/node/node_config.ts';

export type EchoKind = 'request' | 'reply';

export interface EchoMessage {
  kind: EchoKind;
  index: number;
  payload: Uint8Array;
}

const KIND_CODES: Record<EchoKind, number> = { request: 1, reply: 2 };

export function encodeEcho(m: EchoMessage): Uint8Array {
  const out = new Uint8Array(ECHO_HEADER_BYTES + m.payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, KIND_CODES[m.kind]);
  view.setUint32(1, m.index);
  out.set(m.payload, ECHO_HEADER_BYTES);
  return out;
}

/** Parse a verified message; throws InputError when it is not an echo message. */
export function decodeEcho(bytes: Uint8Array): EchoMessage {
  if (bytes.length < ECHO_HEADER_BYTES) {
    throw new InputError(`echo message of ${bytes.length} bytes is shorter than its ${ECHO_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const code = view.getUint8(0);
  let kind: EchoKind;
  if (code === KIND_CODES.request) kind = 'request';
  else if (code === KIND_CODES.reply) kind = 'reply';
  else throw new InputError(`echo message kind ${code} is neither 1 (request) nor 2 (reply)`);
  return { kind, index: view.getUint32(1), payload: bytes.slice(ECHO_HEADER_BYTES) };
}

/** Build the payload of request `index` from device `device`: a pattern the sender checks in the reply. */
export function requestPayload(device: number, index: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (device * 31 + index * 7 + i) & 0xff;
  return out;
}

/**
 * A Byzantine BFT client: a fixed script of valid and invalid requests to
 * the leader. The client's device is correct, so everything it attests
 * carries a valid tag and counter. Its host is not: it sends content that
 * does not parse, reuses request ids, names the main client's processes,
 * forges tags, replays its own messages and claims the main client's session.
 *
 * Every request that a correct leader must reject puts FORBIDDEN_VALUE,
 * so a caller can check that no applied batch contains one.
 */

import { decodeAttested, encodeAttested, type Tnic } from '../../api/tnic_api.ts';
import type { History } from '../replication/history.ts';
import type { Channel } from '../replication/network.ts';
import type { SeededRandom } from '../replication/prng.ts';
import type { ClientRequest } from '../replication/request.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { encodeJson } from '../replication/wire.ts';
import type { BftClient } from './replica.ts';

/** Value written by every request that the leader must reject; workload values are 0..4. */
export const FORBIDDEN_VALUE = 777;

/** Invalid messages the script sends, by the reason a correct leader must discard each. */
export interface ByzantineClientAttempts {
  /** Attested, but the content is not a valid request. */
  malformed: number;
  /** Attested, reusing the id of an earlier request with another operation. */
  duplicateId: number;
  /** Attested, naming a process of the main client. */
  foreignProcess: number;
  /** A valid header with a random tag. */
  forged: number;
  /** An earlier attested message sent again. */
  replayed: number;
  /** A forgery that claims the main client's session and device. */
  impersonated: number;
}

export interface ByzantineClientReport {
  /** Valid requests on its own processes, which a correct leader applies once each. */
  valid: ClientRequest[];
  attempts: ByzantineClientAttempts;
}

export interface ByzantineClientOptions {
  identity: BftClient;
  tnic: Tnic;
  /** Channel from this client's node to the leader. */
  leader: Channel;
  /** The correct client whose session the script claims in an impersonation attempt. */
  mainClient: ReplicaIdentity;
  /** The shared history: valid requests are invoked and, as no result returns, end as `:info`. */
  history: History;
  random: SeededRandom;
}

/** Send the script to the leader; returns what was sent, for the caller's checks. */
export async function runByzantineClient(options: ByzantineClientOptions): Promise<ByzantineClientReport> {
  const { identity, tnic, leader, history, random } = options;
  const attest = (payload: unknown): Promise<Uint8Array> => tnic.localSend(identity.session, encodeJson(payload));
  const request = (r: ClientRequest): unknown => ({ t: 'request', ...r });
  const first = identity.firstProcess;
  const attempts: ByzantineClientAttempts = {
    malformed: 0,
    duplicateId: 0,
    foreignProcess: 0,
    forged: 0,
    replayed: 0,
    impersonated: 0,
  };

  const valid: ClientRequest = { process: first, id: 0, op: { f: 'put', key: 'a', value: 3 } };
  history.invoke(valid.process, valid.op);
  const validBytes = await attest(request(valid));
  leader.send(validBytes);

  const duplicate: ClientRequest = { ...valid, op: { f: 'put', key: 'a', value: FORBIDDEN_VALUE } };
  leader.send(await attest(request(duplicate)));
  attempts.duplicateId += 1;

  // Id 1 of process 0 is one the main client has not used yet, so accepting it would make
  // the leader drop the main client's own request later.
  const foreign: ClientRequest = { process: 0, id: 1, op: { f: 'put', key: 'b', value: FORBIDDEN_VALUE } };
  leader.send(await attest(request(foreign)));
  attempts.foreignProcess += 1;

  leader.send(await tnic.localSend(identity.session, new TextEncoder().encode('not json')));
  leader.send(await attest({ t: 'request', process: first, id: -1, op: { f: 'put', key: 'a' } }));
  attempts.malformed += 2;

  // The forgery takes the counter of the genuine message behind it, so only its tag is wrong.
  const read: ClientRequest = { process: first + 1, id: 0, op: { f: 'get', key: 'a' } };
  history.invoke(read.process, read.op);
  const readBytes = await attest(request(read));
  const forgedMsg = encodeJson(request({ ...read, op: { f: 'put', key: 'a', value: FORBIDDEN_VALUE } } as ClientRequest));
  leader.send(encodeAttested({ ...decodeAttested(readBytes), msg: forgedMsg, alpha: random.bytes(32) }));
  attempts.forged += 1;
  leader.send(readBytes);

  leader.send(validBytes);
  attempts.replayed += 1;

  const main = options.mainClient;
  const claimed = { ...decodeAttested(validBytes), session: main.session, device: main.device };
  leader.send(encodeAttested({ ...claimed, msg: forgedMsg, alpha: random.bytes(32) }));
  attempts.impersonated += 1;

  return { valid: [valid, read], attempts };
}

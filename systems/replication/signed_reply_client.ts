/**
 * The client side of signed replies. A client is Byzantine and is never
 * given session keys, so it checks results without a TNIC device. It has
 * the IP vendor's trust roots and each replica's client key certificate,
 * checks every certificate chain once, then checks each reply's Ed25519
 * signature with the certified C_pub of the device that signed it.
 *
 * A reply's vote belongs to the replica that attested it (the header's
 * device and session). The signer is that replica for kind 'attested', or
 * any certified replica whose kernel checked the tag for kind 'checked'.
 * An operation completes once `quorum` distinct replicas reported the same
 * output, with the `required` replica among them when one is named. Every
 * reply or result that is not counted is rejected and counted by reason.
 */

import { InputError, TnicError } from '../../api/errors.ts';
import {
  checkClientKeyChain,
  checkSignedReply,
  decodeSignedReply,
  type AttestedMessage,
  type ClientKeyCertificate,
  type ClientKeyChainFailure,
  type SignedReply,
  type TrustRoots,
} from '../../api/tnic_api.ts';
import { CountedMessages } from './counted_messages.ts';
import { OperationTally, type Decision, type PendingOperation } from './operation_tally.ts';
import { requestKey, type ClientRequest, type RequestResult } from './request.ts';
import { decodeJson } from './wire.ts';

export interface ReplicaIdentity {
  name: string;
  device: number;
  /** The session on which this replica attests everything it sends. */
  session: number;
}

export interface CertifiedReplica {
  identity: ReplicaIdentity;
  /** The certificate of the replica device's client key, from its bootstrap. */
  certificate: ClientKeyCertificate;
}

export interface SignedReplyClientOptions {
  roots: TrustRoots;
  replicas: readonly CertifiedReplica[];
  quorum: number;
  /** Device id of a replica whose result must be among the matching ones. */
  required?: number;
  /** Extracts the per-request results from a replica's decoded message; [] if it carries none. */
  resultsOf(payload: unknown): RequestResult[];
  /** Called with the author and decoded content of every reply whose signature and tag checks pass. */
  onVerified?(author: ReplicaIdentity, payload: unknown): void;
}

/**
 * Counts of rejected replies and results by reason. The first five reasons
 * count replies, and the last two count single results inside a valid reply.
 */
export interface ReplyRejections {
  /** Not a signed reply, or its content carries no result. */
  malformed: number;
  /** Signed by a device with no certified client key here (no certificate, or its chain failed). */
  'unknown-signer': number;
  /** The signature does not verify with the signer's certified client key. */
  'bad-signature': number;
  /** Attested by a device or on a session that is not one of the replicas'. */
  'unknown-replica': number;
  /** The same attested message (device, session, counter) was counted before. */
  replayed: number;
  /** A second result from one replica for one pending request; only the first one counts. */
  duplicate: number;
  /** A result for a request that already completed with this output or was never issued. */
  stale: number;
}

export interface CertificateFailure {
  replica: string;
  reason: ClientKeyChainFailure;
  detail: string;
}

export type { Decision } from './operation_tally.ts';

/** The reason a signed reply failed before its content was read. */
export type OpenFailure = 'malformed' | 'unknown-signer' | 'bad-signature';

/**
 * Decode a signed reply and check its signature with the signer's certified
 * client key from `keys` (by device id). Returns the reply and its attested
 * message, or the reason it failed.
 */
export async function openSignedReply(
  bytes: Uint8Array,
  keys: ReadonlyMap<number, Uint8Array>,
): Promise<{ reply: SignedReply; message: AttestedMessage } | OpenFailure> {
  let opened: { reply: SignedReply; message: AttestedMessage };
  try {
    opened = decodeSignedReply(bytes);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return 'malformed';
  }
  const key = keys.get(opened.reply.signer);
  if (key === undefined) return 'unknown-signer';
  if (!(await checkSignedReply(opened.reply, key))) return 'bad-signature';
  return opened;
}

export class SignedReplyClient {
  readonly rejected: ReplyRejections = {
    malformed: 0,
    'unknown-signer': 0,
    'bad-signature': 0,
    'unknown-replica': 0,
    replayed: 0,
    duplicate: 0,
    stale: 0,
  };

  #byDevice: Map<number, ReplicaIdentity>;
  /** Certified client keys by device id; replicas whose chain failed have none. */
  #keys: ReadonlyMap<number, Uint8Array>;
  #seen = new CountedMessages();
  #tally = new OperationTally();

  private constructor(
    private readonly options: SignedReplyClientOptions,
    keys: ReadonlyMap<number, Uint8Array>,
    readonly certificateFailures: readonly CertificateFailure[],
  ) {
    this.#byDevice = new Map(options.replicas.map((r) => [r.identity.device, r.identity]));
    this.#keys = keys;
  }

  /** Check every replica's certificate chain against `roots`; replicas that fail stay uncertified. */
  static async create(options: SignedReplyClientOptions): Promise<SignedReplyClient> {
    const count = options.replicas.length;
    if (!Number.isInteger(options.quorum) || options.quorum < 1 || options.quorum > count) {
      throw new InputError(`quorum ${options.quorum} must be 1..${count} replicas`);
    }
    const devices = new Set(options.replicas.map((r) => r.identity.device));
    if (devices.size !== count) throw new InputError('two replicas share a device id; give each its own');
    if (options.required !== undefined && !devices.has(options.required)) {
      throw new InputError(`required device ${options.required} is not one of the replicas`);
    }

    const failures: CertificateFailure[] = [];
    const keys = new Map<number, Uint8Array>();
    for (const { identity, certificate } of options.replicas) {
      const problem =
        certificate.deviceId !== identity.device
          ? {
              reason: 'wrong-device-id' as const,
              detail: `replica ${identity.name} is device ${identity.device}, but its certificate names device ${certificate.deviceId}`,
            }
          : await checkClientKeyChain(certificate, options.roots);
      if (problem === undefined) keys.set(identity.device, certificate.clientKey.slice());
      else failures.push({ replica: identity.name, ...problem });
    }
    return new SignedReplyClient(options, keys, failures);
  }

  get pending(): number {
    return this.#tally.size;
  }

  /** Results that disagreed with the output the operation completed with, per replica device. */
  get conflicting(): Map<number, number> {
    return this.#tally.conflicting;
  }

  /** Throw for the first replica whose certificate chain failed, for callers that bootstrapped every replica. */
  expectAllCertified(): void {
    const failure = this.certificateFailures[0];
    if (failure !== undefined) {
      throw new TnicError(
        `certificate-${failure.reason}`,
        `replica ${failure.replica} has no valid client key certificate: ${failure.detail}; bootstrap it again`,
      );
    }
  }

  /** Start collecting results for `request`. */
  expect(request: ClientRequest): void {
    this.#tally.expect(request);
  }

  /** Check one signed reply and count its results; returns the operations it completed. */
  async receive(bytes: Uint8Array): Promise<Decision[]> {
    const checked = await this.#check(bytes);
    if (checked === undefined) return [];

    const payload = decodeJson(checked.msg);
    const author = this.#byDevice.get(checked.device);
    if (author !== undefined) this.options.onVerified?.(author, payload);
    const results = payload === undefined ? [] : this.options.resultsOf(payload);
    if (results.length === 0) {
      this.rejected.malformed += 1;
      return [];
    }
    const decisions: Decision[] = [];
    for (const result of results) {
      const decision = this.#record(checked.device, result);
      if (decision !== undefined) decisions.push(decision);
    }
    return decisions;
  }

  /** Return the attested message of a reply that passes every check, else count the reason. */
  async #check(bytes: Uint8Array): Promise<AttestedMessage | undefined> {
    const opened = await openSignedReply(bytes, this.#keys);
    if (typeof opened === 'string') {
      this.rejected[opened] += 1;
      return undefined;
    }
    const message = opened.message;
    const author = this.#byDevice.get(message.device);
    if (author === undefined || author.session !== message.session) {
      this.rejected['unknown-replica'] += 1;
      return undefined;
    }
    if (!this.#seen.add(message)) {
      this.rejected.replayed += 1;
      return undefined;
    }
    return message;
  }

  #record(device: number, result: RequestResult): Decision | undefined {
    const output = JSON.stringify(result.output);
    const pending = this.#tally.lookUp(requestKey(result), device, output);
    if (pending === 'stale') this.rejected.stale += 1;
    if (typeof pending === 'string') return undefined;
    if (pending.results.has(device)) {
      this.rejected.duplicate += 1;
      return undefined;
    }
    pending.results.set(device, output);
    const decided = this.#decided(pending);
    return decided === undefined ? undefined : this.#tally.close(pending, decided);
  }

  /** The output, as JSON text, that `quorum` replicas (with the required one) agree on, if any. */
  #decided(pending: PendingOperation): string | undefined {
    const votes = new Map<string, number[]>();
    for (const [device, output] of pending.results) votes.set(output, [...(votes.get(output) ?? []), device]);
    const required = this.options.required;
    for (const [output, devices] of votes) {
      if (devices.length < this.options.quorum) continue;
      if (required !== undefined && !devices.includes(required)) continue;
      return output;
    }
    return undefined;
  }
}

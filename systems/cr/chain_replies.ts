/**
 * The chain client's check of signed replies, for a chain whose membership
 * changes. A chain of f + 1 nodes tolerates f Byzantine ones, so an
 * operation completes once every node of the current chain, the tail
 * among them, reported the same output. Results are kept per node across
 * reconfigurations: a node's output for a request never changes, so a
 * result a node of the new chain sent in an earlier epoch still counts,
 * and a removed node's results no longer do.
 *
 * Replies are checked as in signed_reply_client.ts: each replica's client
 * key certificate once against the vendor's trust roots, then each reply's
 * Ed25519 signature with the certified key of its signer. A reply's vote
 * belongs to the node whose device attested it, on any session that node
 * attests chain messages on (its links and its tail session). The
 * configuration service's announcements are signed replies of the
 * service's own certified device.
 */

import { InputError, TnicError } from '../../api/errors.ts';
import {
  checkClientKeyChain,
  type AttestedMessage,
  type ClientKeyCertificate,
  type TrustRoots,
} from '../../api/tnic_api.ts';
import { requestKey, type ClientRequest, type RequestResult } from '../replication/request.ts';
import { CountedMessages } from '../replication/counted_messages.ts';
import { OperationTally, type PendingOperation } from '../replication/operation_tally.ts';
import {
  openSignedReply,
  type CertificateFailure,
  type CertifiedReplica,
  type Decision,
  type ReplyRejections,
} from '../replication/signed_reply_client.ts';
import { decodeJson } from '../replication/wire.ts';
import { parseConfig, type ConfigMessage } from './config_messages.ts';
import { chainResults } from './messages.ts';
import type { ChainSessions } from './sessions.ts';

export interface ChainRepliesOptions {
  roots: TrustRoots;
  /** Every node of the original chain, in order, with its client key certificate. */
  members: readonly CertifiedReplica[];
  sessions: ChainSessions;
  /** The configuration service's device and certificate; without it the chain never changes. */
  service?: { device: number; certificate: ClientKeyCertificate };
}


export class ChainReplies {
  readonly rejected: ReplyRejections = {
    malformed: 0,
    'unknown-signer': 0,
    'bad-signature': 0,
    'unknown-replica': 0,
    replayed: 0,
    duplicate: 0,
    stale: 0,
  };
  /** Announcements that were not signed by the service or not newer than the current configuration. */
  rejectedAnnouncements = 0;

  #keys: ReadonlyMap<number, Uint8Array>;
  #seen = new CountedMessages();
  #tally = new OperationTally();
  #epoch = 1;
  /** Devices of the current chain's nodes. */
  #chain: number[];

  private constructor(
    private readonly options: ChainRepliesOptions,
    keys: ReadonlyMap<number, Uint8Array>,
    readonly certificateFailures: readonly CertificateFailure[],
  ) {
    this.#keys = keys;
    this.#chain = options.members.map((m) => m.identity.device);
  }

  /** Check every certificate chain against `roots`; nodes whose chain fails stay uncertified. */
  static async create(options: ChainRepliesOptions): Promise<ChainReplies> {
    const devices = new Set(options.members.map((m) => m.identity.device));
    if (devices.size !== options.members.length) throw new InputError('two chain nodes share a device id; give each its own');
    if (options.service !== undefined && devices.has(options.service.device)) {
      throw new InputError(
        `the configuration service's device ${options.service.device} is also a chain node's; give the service its own device id`,
      );
    }
    const certified = [...options.members.map((m) => ({ name: m.identity.name, device: m.identity.device, certificate: m.certificate }))];
    if (options.service !== undefined) certified.push({ name: 'configuration service', ...options.service });

    const failures: CertificateFailure[] = [];
    const keys = new Map<number, Uint8Array>();
    for (const { name, device, certificate } of certified) {
      const problem =
        certificate.deviceId !== device
          ? { reason: 'wrong-device-id' as const, detail: `${name} is device ${device}, but its certificate names device ${certificate.deviceId}` }
          : await checkClientKeyChain(certificate, options.roots);
      if (problem === undefined) keys.set(device, certificate.clientKey.slice());
      else failures.push({ replica: name, ...problem });
    }
    return new ChainReplies(options, keys, failures);
  }

  get pending(): number {
    return this.#tally.size;
  }

  /** Results that disagreed with the output the operation completed with, per node device. */
  get conflicting(): Map<number, number> {
    return this.#tally.conflicting;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Node names of the chain whose results complete an operation, head first. */
  get chain(): string[] {
    return this.#chain.map((device) => this.options.members.find((m) => m.identity.device === device)!.identity.name);
  }

  /** Throw for the first node whose certificate chain failed, for callers that bootstrapped every node. */
  expectAllCertified(): void {
    const failure = this.certificateFailures[0];
    if (failure !== undefined) {
      throw new TnicError(
        `certificate-${failure.reason}`,
        `${failure.replica} has no valid client key certificate: ${failure.detail}; bootstrap it again`,
      );
    }
  }

  /** Start collecting results for `request`. */
  expect(request: ClientRequest): void {
    this.#tally.expect(request);
  }

  /** Check one signed reply of a node and count its result; returns the operations it completed. */
  async receive(bytes: Uint8Array): Promise<Decision[]> {
    const message = await this.#check(bytes);
    if (message === undefined) return [];
    const author = this.options.members.findIndex((m) => m.identity.device === message.device);
    if (author < 0 || !this.options.sessions.attestedBy(author).includes(message.session)) {
      this.rejected['unknown-replica'] += 1;
      return [];
    }
    const payload = decodeJson(message.msg);
    const results = payload === undefined ? [] : chainResults(payload);
    if (results.length === 0) {
      this.rejected.malformed += 1;
      return [];
    }
    return results.flatMap((result) => this.#record(message.device, result) ?? []);
  }

  /**
   * Check a signed announcement of the configuration service. A genuine
   * announcement of a newer epoch becomes the current configuration;
   * returns it with the operations it completed, else undefined.
   */
  async announcement(bytes: Uint8Array): Promise<{ config: ConfigMessage; decisions: Decision[] } | undefined> {
    const config = await this.#checkAnnouncement(bytes);
    if (config === undefined) {
      this.rejectedAnnouncements += 1;
      return undefined;
    }
    this.#epoch = config.epoch;
    this.#chain = config.chain.map((name) => this.options.members.find((m) => m.identity.name === name)!.identity.device);
    const decisions: Decision[] = [];
    for (const pending of this.#tally.waiting()) {
      const decision = this.#decideAndClose(pending);
      if (decision !== undefined) decisions.push(decision);
    }
    return { config, decisions };
  }

  /** Return the configuration in `bytes` if the service signed it, it is newer and it names only chain nodes. */
  async #checkAnnouncement(bytes: Uint8Array): Promise<ConfigMessage | undefined> {
    const service = this.options.service;
    if (service === undefined) return undefined;
    const message = await this.#check(bytes);
    if (message === undefined || message.device !== service.device) return undefined;

    const config = parseConfig(decodeJson(message.msg));
    if (config === undefined || config.epoch <= this.#epoch) return undefined;
    const known = config.chain.every((name) => this.options.members.some((m) => m.identity.name === name));
    return known ? config : undefined;
  }

  /** Return the attested message of a reply with a valid signature that was not counted before, else count the reason. */
  async #check(bytes: Uint8Array): Promise<AttestedMessage | undefined> {
    const opened = await openSignedReply(bytes, this.#keys);
    if (typeof opened === 'string') {
      this.rejected[opened] += 1;
      return undefined;
    }
    if (!this.#seen.add(opened.message)) {
      this.rejected.replayed += 1;
      return undefined;
    }
    return opened.message;
  }

  #record(device: number, result: RequestResult): Decision | undefined {
    const output = JSON.stringify(result.output);
    const pending = this.#tally.lookUp(requestKey(result), device, output);
    if (pending === 'stale') this.rejected.stale += 1;
    if (typeof pending === 'string') return undefined;
    if (pending.results.get(device) === output) {
      // A node re-sends its result after a reconfiguration; only the first one counts.
      this.rejected.duplicate += 1;
      return undefined;
    }
    if (pending.results.has(device)) {
      // The same node reported two outputs: keep the first, count the second as a conflict.
      this.#tally.countConflict(device);
      return undefined;
    }
    pending.results.set(device, output);
    return this.#decideAndClose(pending);
  }

  /** Complete `pending` if every node of the current chain reported the same output. */
  #decideAndClose(pending: PendingOperation): Decision | undefined {
    const outputs = this.#chain.map((device) => pending.results.get(device));
    const decided = outputs[0];
    if (decided === undefined || outputs.some((o) => o !== decided)) return undefined;
    return this.#tally.close(pending, decided);
  }
}

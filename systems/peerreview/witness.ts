/**
 * The PeerReview witness: audits the source and both children over their
 * audit sessions. To audit a node it sends (n, nonce), where n is the first
 * log index not yet audited, and receives the entries from n on. It hands
 * each exchange to the node's LogAuditor. When a page announces more
 * entries, the witness sends the next request at once. The witness's device holds the
 * keys of every stream session, so it checks each entry's tag with
 * checkForwarded. The first finding against a node ends its audits and
 * becomes evidence.
 *
 * With attestations the witness needs no all-to-all exchange of signed log
 * heads, as classic PeerReview does: counters already show every omitted
 * message, and a node cannot attest two versions of one message.
 *
 * NOTE: a node that never answers is only listed in `unanswered`; that is
 * a suspicion, and it yields no evidence.
 */

import { Connection, type ReceivedMessage } from '../../api/connection.ts';
import { InputError } from '../../api/errors.ts';
import type { Tnic } from '../../api/tnic_api.ts';
import type { Network } from '../replication/network.ts';
import { SeededRandom } from '../replication/prng.ts';
import { SerialQueue } from '../replication/serial.ts';
import { encodeJson } from '../replication/wire.ts';
import { LogAuditor } from './auditor.ts';
import { buildEvidence, type Evidence } from './evidence.ts';
import type { AuditRequest } from './messages.ts';
import { deviceTagChecker } from './tag_checker.ts';
import { auditSession, nodeOf, type Topology } from './topology.ts';

const NONCE_BYTES = 16;

export interface WitnessOptions {
  topology: Topology;
  tnic: Tnic;
  network: Network;
  /** Seeds the nonces. */
  seed: number;
}

/** Audit traffic, for comparing a run with audits against one without. */
export interface AuditStats {
  requests: number;
  responses: number;
  /** Wire bytes of the attested requests and responses. */
  requestBytes: number;
  responseBytes: number;
  /** Log entries that passed every check. */
  entriesAudited: number;
}

interface AuditTarget {
  name: string;
  connection: Connection;
  auditor: LogAuditor;
  /** The attested request awaiting its response. */
  pending: Uint8Array | undefined;
  failed: boolean;
}

export class Witness {
  readonly evidence: Evidence[] = [];
  readonly stats: AuditStats = { requests: 0, responses: 0, requestBytes: 0, responseBytes: 0, entriesAudited: 0 };
  /** Verified messages on an audit session that match no pending request. */
  unsolicited = 0;

  readonly #serial = new SerialQueue();
  readonly #targets: AuditTarget[] = [];
  readonly #random: SeededRandom;

  constructor(private readonly options: WitnessOptions) {
    const { topology, tnic, network } = options;
    this.#random = new SeededRandom(options.seed);
    const host = network.node(topology.witness);
    const checker = deviceTagChecker(tnic);
    for (const audit of topology.audits) {
      const channel = host.channel(audit.node);
      const device = nodeOf(topology, audit.node).device;
      const target: AuditTarget = {
        name: audit.node,
        connection: new Connection(tnic, channel, auditSession(topology, audit.node), device),
        auditor: new LogAuditor(topology, audit.node, checker),
        pending: undefined,
        failed: false,
      };
      this.#targets.push(target);
      channel.onReadable = () => this.#serial.run(() => this.#receive(target));
    }
  }

  /** Return the auditor of `node`; its `next` is the number of entries audited so far. */
  auditor(node: string): LogAuditor {
    const target = this.#targets.find((t) => t.name === node);
    if (target === undefined) throw new InputError(`the witness audits no node named '${node}'`);
    return target.auditor;
  }

  /** Nodes with an audit request that has no response yet. */
  get unanswered(): string[] {
    return this.#targets.filter((t) => t.pending !== undefined).map((t) => t.name);
  }

  /** Start an audit of every node that is not exposed and has no audit in progress. */
  auditAll(): Promise<void> {
    return this.#serial.run(async () => {
      for (const target of this.#targets) {
        if (target.pending === undefined && target.auditor.finding === undefined) await this.#request(target);
      }
    });
  }

  async #request(target: AuditTarget): Promise<void> {
    if (target.failed || target.connection.error) return;
    const nonce = Buffer.from(this.#random.bytes(NONCE_BYTES)).toString('hex');
    const request: AuditRequest = { t: 'audit', from: target.auditor.next, nonce };
    target.pending = await target.connection.authSend(encodeJson(request));
    this.stats.requests += 1;
    this.stats.requestBytes += target.pending.length;
  }

  async #receive(target: AuditTarget): Promise<void> {
    for (const m of await this.#poll(target)) {
      const request = target.pending;
      if (request === undefined || target.auditor.finding !== undefined) {
        // NOTE: such a response is left out of any later evidence, whose
        // response counters then skip it, so that evidence fails its check.
        this.unsolicited += 1;
        continue;
      }
      target.pending = undefined;
      this.stats.responses += 1;
      this.stats.responseBytes += m.bytes.length;

      const audited = target.auditor.next;
      const { finding, more } = await target.auditor.apply(request, m.bytes);
      this.stats.entriesAudited += target.auditor.next - audited;
      if (finding !== undefined) {
        this.evidence.push(buildEvidence(this.options.topology, target.auditor));
      } else if (more) {
        await this.#request(target);
      }
    }
  }

  async #poll(target: AuditTarget): Promise<ReceivedMessage[]> {
    if (target.failed) return [];
    try {
      return await target.connection.poll();
    } catch {
      // The channel to the node failed; its pending audit stays unanswered.
      target.failed = true;
      return [];
    }
  }
}

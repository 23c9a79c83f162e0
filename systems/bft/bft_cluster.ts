/**
 * A BFT cluster on one network: 2f+1 replicas named r0 (the leader of view
 * 0) to r2f, and one client node whose logical processes run a seeded
 * workload.
 *
 * Sessions: replica i attests on session i, and the client shares session
 * 2f+1+i with replica i alone, so that after a view change it can reach any
 * new leader. Every replica device has the keys of all replicas' sessions,
 * so any replica can check any other's message and any view change. The
 * client's device has only its own sessions' keys. It attests requests, and
 * the client checks replica results as signed replies with the replicas'
 * certified client keys (signed_reply_client.ts). Replica devices are
 * bootstrapped by an IP vendor to get those certificates. Device ids are 1 +
 * the replica index, and 100 for the client.
 *
 * Extra clients (e.g. a Byzantine one) get device 101, 102, ... and sessions
 * 4f+2, 4f+3, ...; only r0 and the extra client's own device hold its
 * session. Client k (the main client is 0) may name only the processes
 * k * PROCESSES_PER_CLIENT up to the next client's first process.
 */

import { Connection } from '../../api/connection.ts';
import { InputError } from '../../api/errors.ts';
import { MAX_SESSIONS, type Backend, type Tnic } from '../../api/tnic_api.ts';
import { drawSessionKeys, openProvisioned } from '../replication/devices.ts';
import { History } from '../replication/history.ts';
import type { Network } from '../replication/network.ts';
import { QuorumClient, type ReplicaIdentity } from '../replication/quorum_client.ts';
import { SignedReplyClient } from '../replication/signed_reply_client.ts';
import { openCertified } from '../replication/signed_reply_devices.ts';
import type { MachineKind } from '../replication/state_machine.ts';
import { bftResults, parseBftMessage } from './messages.ts';
import {
  BATCH_SIZES,
  BftReplica,
  PROCESSES_PER_CLIENT,
  type BatchSize,
  type BftBehavior,
  type BftClient,
} from './replica.ts';
import { leaderOf } from './view_change.ts';

export const CLIENT_NAME = 'client';
export const CLIENT_DEVICE = 100;

export interface BftClusterOptions {
  network: Network;
  backend: Backend;
  /** Byzantine replicas tolerated; the cluster has 2f+1 (default 1). */
  f?: number;
  machine: MachineKind;
  batchSize: BatchSize;
  batchTimeoutMs?: number;
  gapTimeoutMs?: number;
  /** See BftReplicaOptions.viewChangeTimeoutMs; also the client's first resend timeout. */
  viewChangeTimeoutMs?: number;
  /** Client processes, each with one operation outstanding at a time. */
  processes: number;
  operationsPerProcess: number;
  /** Seeds the client workload. */
  seed: number;
  /** Misbehaviour per replica name; unnamed replicas are correct. */
  behaviors?: Record<string, BftBehavior>;
  /** Node names of further clients that the leader accepts requests from; none by default. */
  extraClients?: readonly string[];
}

/** A further client's identity and its provisioned device, for a caller that drives it. */
export interface ExtraClient {
  identity: BftClient;
  tnic: Tnic;
}

export const DEFAULT_BATCH_TIMEOUT_MS = 5;
export const DEFAULT_GAP_TIMEOUT_MS = 500;
/** Long against a batch's round trip on every transport here, so a slow leader is not taken for a silent one. */
export const DEFAULT_VIEW_CHANGE_TIMEOUT_MS = 200;
/** Resends of one client operation; with doubling timeouts they span about 6 s at the default timeout. */
export const CLIENT_MAX_RETRIES = 5;

export class BftCluster {
  private constructor(
    readonly replicas: BftReplica[],
    readonly client: QuorumClient,
    readonly history: History,
    readonly f: number,
    readonly extraClients: ExtraClient[],
    private readonly devices: Tnic[],
  ) {}

  static async open(options: BftClusterOptions): Promise<BftCluster> {
    const f = options.f ?? 1;
    const n = 2 * f + 1;
    const extraNames = options.extraClients ?? [];
    if (!Number.isInteger(f) || f < 1 || 2 * n + extraNames.length > MAX_SESSIONS) {
      const maxF = Math.floor((MAX_SESSIONS - 2 - extraNames.length) / 4);
      throw new InputError(
        `f ${f} must be 1..${maxF}: 2f+1 replicas, a client session per replica and ${extraNames.length} ` +
          `extra clients need 4f+${2 + extraNames.length} of ${MAX_SESSIONS} sessions`,
      );
    }
    if (options.processes > PROCESSES_PER_CLIENT) {
      throw new InputError(
        `processes ${options.processes} is more than the ${PROCESSES_PER_CLIENT} a client may use; use fewer`,
      );
    }
    if (!BATCH_SIZES.includes(options.batchSize)) {
      throw new InputError(`batch size ${options.batchSize} is not one of ${BATCH_SIZES.join(', ')}`);
    }
    const replicas: ReplicaIdentity[] = Array.from({ length: n }, (_, i) => ({
      name: `r${i}`,
      device: i + 1,
      session: i,
    }));
    const client: BftClient = {
      name: CLIENT_NAME,
      device: CLIENT_DEVICE,
      session: n,
      firstProcess: 0,
      processCount: PROCESSES_PER_CLIENT,
    };
    const clientSessions = replicas.map((_, i) => n + i);
    const extras: BftClient[] = extraNames.map((name, i) => ({
      name,
      device: CLIENT_DEVICE + 1 + i,
      session: 2 * n + i,
      firstProcess: (i + 1) * PROCESSES_PER_CLIENT,
      processCount: PROCESSES_PER_CLIENT,
    }));
    for (const name of Object.keys(options.behaviors ?? {})) {
      if (!replicas.some((r) => r.name === name)) throw new InputError(`behavior for unknown replica '${name}'`);
    }
    const taken = [...replicas.map((r) => r.name), CLIENT_NAME];
    for (const name of extraNames) {
      if (taken.includes(name)) throw new InputError(`extra client name '${name}' is already used by another node`);
      taken.push(name);
    }

    const replicaSessions = replicas.map((r) => r.session);
    const extraSessions = extras.map((c) => c.session);
    const keys = drawSessionKeys([...replicaSessions, ...clientSessions, ...extraSessions]);
    const certified = await openCertified(
      options.backend,
      replicas.map((r, i) => ({
        device: r.device,
        sessions: [...replicaSessions, clientSessions[i]!, ...(i === 0 ? extraSessions : [])],
      })),
      keys,
    );
    const devices: Tnic[] = [...certified.devices];
    let replies: SignedReplyClient;
    let followLeader: ((author: ReplicaIdentity, payload: unknown) => void) | undefined;
    try {
      for (const extra of extras) {
        devices.push(await openProvisioned(options.backend, extra.device, [extra.session], keys));
      }
      devices.push(await openProvisioned(options.backend, client.device, clientSessions, keys));
      replies = await SignedReplyClient.create({
        roots: certified.roots,
        replicas: replicas.map((identity, i) => ({ identity, certificate: certified.certificates[i]! })),
        quorum: f + 1,
        resultsOf: bftResults,
        onVerified: (author, payload) => followLeader?.(author, payload),
      });
      replies.expectAllCertified();
    } catch (error) {
      await Promise.all(devices.map((d) => d.close()));
      throw error;
    }

    const viewChangeTimeoutMs = options.viewChangeTimeoutMs ?? DEFAULT_VIEW_CHANGE_TIMEOUT_MS;
    const built = replicas.map(
      (_, index) =>
        new BftReplica({
          index,
          replicas,
          client,
          extraClients: extras,
          tnic: devices[index]!,
          network: options.network,
          machine: options.machine,
          batchSize: options.batchSize,
          batchTimeoutMs: options.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS,
          gapTimeoutMs: options.gapTimeoutMs ?? DEFAULT_GAP_TIMEOUT_MS,
          viewChangeTimeoutMs,
          clientSession: clientSessions[index]!,
          behavior: options.behaviors?.[replicas[index]!.name] ?? { kind: 'correct' },
        }),
    );

    const clientNode = options.network.node(CLIENT_NAME);
    const channels = replicas.map((r) => clientNode.channel(r.name));
    const clientDevice = devices.at(-1)!;
    const history = new History();
    const entries = replicas.map(
      (r, i) => new Connection(clientDevice, channels[i]!, clientSessions[i]!, r.device),
    );
    const quorumClient = new QuorumClient({
      machine: options.machine,
      entry: entries[0]!,
      retry: { entries, timeoutMs: viewChangeTimeoutMs, maxRetries: CLIENT_MAX_RETRIES },
      resultChannels: channels,
      replies,
      processes: options.processes,
      operationsPerProcess: options.operationsPerProcess,
      seed: options.seed,
      history,
    });
    // A verified proposal of a later view names its sender as that view's leader: send there next.
    // NOTE: a Byzantine replica can claim a later view this way; it only delays the client, which
    // resends to every replica after its timeout.
    let knownView = 0;
    followLeader = (author, payload) => {
      const message = parseBftMessage(payload);
      if (message?.t !== 'propose' || message.view <= knownView) return;
      const leader = leaderOf(message.view, replicas);
      if (replicas[leader]!.device !== author.device) return;
      knownView = message.view;
      quorumClient.useEntry(leader);
    };
    const extraClients = extras.map((identity, i) => ({ identity, tnic: devices[n + i]! }));
    return new BftCluster(built, quorumClient, history, f, extraClients, devices);
  }

  replica(name: string): BftReplica {
    const replica = this.replicas.find((r) => r.identity.name === name);
    if (replica === undefined) throw new InputError(`no replica named '${name}'`);
    return replica;
  }

  /** The client's device, which attests its requests and has the key of the client's session only. */
  get clientDevice(): Tnic {
    return this.devices.at(-1)!;
  }

  async close(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.close()));
  }
}

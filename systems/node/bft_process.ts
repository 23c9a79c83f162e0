/**
 * BFT replication as OS processes: 2f+1 replica processes r0 to r2f and
 * one client process, with the layout of bft_cluster.ts so the protocol is
 * the same as in one process. Replica i is device i + 1 and attests on
 * session i; every replica device holds all replicas' sessions. The client
 * (device 100) shares session 2f+1+i with replica i alone, so it can send
 * to any new leader after a view change. The client checks results as
 * signed replies with the replicas' certified client keys, which the
 * vendor's start message carries, and completes an operation once f+1
 * replicas agree.
 */

import { Connection } from '../../api/connection.ts';
import { CLIENT_DEVICE, CLIENT_MAX_RETRIES, CLIENT_NAME, DEFAULT_BATCH_TIMEOUT_MS, DEFAULT_GAP_TIMEOUT_MS } from '../bft/bft_cluster.ts';
import { bftResults } from '../bft/messages.ts';
import { BftReplica, PROCESSES_PER_CLIENT, type BftClient } from '../bft/replica.ts';
import { History } from '../replication/history.ts';
import { QuorumClient, type ReplicaIdentity } from '../replication/quorum_client.ts';
import { quorumDriver, signedReplies } from './quorum_driver.ts';
import type { ProcessSpec, RoleContext, SystemDefinition, SystemRole } from './system_role.ts';

/** Requests per leader batch; a partial batch goes out after DEFAULT_BATCH_TIMEOUT_MS. */
const BATCH_SIZE = 8;
/**
 * Milliseconds a follower waits for the leader to propose a request the
 * client resent to it, and the client's first resend timeout. Longer than
 * the in-process default, because a process on a loaded machine may pause
 * for longer than a batch's round trip and would otherwise set off view
 * changes that no fault caused.
 */
const VIEW_CHANGE_TIMEOUT_MS = 1000;

interface BftLayout {
  replicas: ReplicaIdentity[];
  client: BftClient;
  /** The session the client shares with each replica, by replica index. */
  clientSessions: number[];
}

/** Return the replicas and the client of `size` = 2f+1 replicas, named as in bft_cluster.ts. */
export function bftLayout(size: number): BftLayout {
  const replicas = Array.from({ length: size }, (_, i) => ({ name: `r${i}`, device: i + 1, session: i }));
  const client: BftClient = {
    name: CLIENT_NAME,
    device: CLIENT_DEVICE,
    session: size,
    firstProcess: 0,
    processCount: PROCESSES_PER_CLIENT,
  };
  return { replicas, client, clientSessions: replicas.map((_, i) => size + i) };
}

function processes(size: number): ProcessSpec[] {
  const { replicas, client, clientSessions } = bftLayout(size);
  const replicaSessions = replicas.map((r) => r.session);
  const specs: ProcessSpec[] = replicas.map((r, i) => ({
    name: r.name,
    device: r.device,
    role: 'replica',
    sessions: [...replicaSessions, clientSessions[i]!],
    certificatesOf: [],
  }));
  const names = replicas.map((r) => r.name);
  specs.push({ name: client.name, device: client.device, role: 'client', sessions: clientSessions, certificatesOf: names });
  return specs;
}

async function createRole(context: RoleContext, spec: ProcessSpec): Promise<SystemRole> {
  const { replicas, client, clientSessions } = bftLayout(context.system.size);
  if (spec.role === 'replica') {
    const index = replicas.findIndex((r) => r.name === spec.name);
    const replica = new BftReplica({
      index,
      replicas,
      client,
      clientSession: clientSessions[index]!,
      tnic: context.tnic,
      network: context.network,
      machine: 'kv',
      batchSize: BATCH_SIZE,
      batchTimeoutMs: DEFAULT_BATCH_TIMEOUT_MS,
      gapTimeoutMs: DEFAULT_GAP_TIMEOUT_MS,
      viewChangeTimeoutMs: VIEW_CHANGE_TIMEOUT_MS,
      behavior: { kind: 'correct' },
    });
    return {
      start: async () => {},
      tick: async () => {},
      stats: () => ({
        view: replica.view,
        appliedSeq: replica.appliedSeq,
        detections: replica.detections,
        requestRejections: { ...replica.requestRejections },
      }),
      stop: async () => {},
    };
  }

  const f = (replicas.length - 1) / 2;
  const replies = await signedReplies(context, replicas, { quorum: f + 1, resultsOf: bftResults });
  const host = context.network.node(client.name);
  const channels = replicas.map((r) => host.channel(r.name));
  const entries = replicas.map((r, i) => new Connection(context.tnic, channels[i]!, clientSessions[i]!, r.device));
  const history = new History();
  const { processes: count, operations, seed } = context.system.workload;
  const quorumClient = new QuorumClient({
    machine: 'kv',
    entry: entries[0]!,
    retry: { entries, timeoutMs: VIEW_CHANGE_TIMEOUT_MS, maxRetries: CLIENT_MAX_RETRIES },
    resultChannels: channels,
    replies,
    processes: count,
    operationsPerProcess: operations,
    seed,
    history,
  });
  return quorumDriver(context, quorumClient, history, count * operations);
}

export const BFT_SYSTEM: SystemDefinition = {
  kind: 'bft',
  processes,
  driver: CLIENT_NAME,
  history: true,
  createRole,
};

/**
 * Chain replication as OS processes: chain nodes n0 (head) to n{N-1}
 * (tail), each in its own process, and one client process. The layout is
 * the one of cr_cluster.ts: node i is device i + 1 and attests on session
 * i, the client is device 100 on session N. Every chain device gets the
 * keys of the chain's sessions, and the head also the client's. The
 * client's device gets only its own. The client checks results as signed replies with the chain
 * nodes' certified client keys, which the vendor's start message carries,
 * and completes an operation once all N nodes, the tail among them, agree.
 */

import { Connection } from '../../api/connection.ts';
import { ChainNode } from '../cr/chain_node.ts';
import { CR_CLIENT_DEVICE, CR_CLIENT_NAME } from '../cr/cr_cluster.ts';
import { chainResults } from '../cr/messages.ts';
import { History } from '../replication/history.ts';
import { QuorumClient, type ReplicaIdentity } from '../replication/quorum_client.ts';
import { quorumDriver, signedReplies } from './quorum_driver.ts';
import type { ProcessSpec, RoleContext, SystemDefinition, SystemRole } from './system_role.ts';

/** Return the chain of `size` nodes and its client, named as in cr_cluster.ts. */
export function chainIdentities(size: number): { chain: ReplicaIdentity[]; client: ReplicaIdentity } {
  const chain = Array.from({ length: size }, (_, i) => ({ name: `n${i}`, device: i + 1, session: i }));
  return { chain, client: { name: CR_CLIENT_NAME, device: CR_CLIENT_DEVICE, session: size } };
}

function processes(size: number): ProcessSpec[] {
  const { chain, client } = chainIdentities(size);
  const chainSessions = chain.map((r) => r.session);
  const roleOf = (i: number): string => {
    if (i === 0) return 'head';
    return i === size - 1 ? 'tail' : 'middle';
  };
  const nodes = chain.map((r, i) => ({
    name: r.name,
    device: r.device,
    role: roleOf(i),
    sessions: i === 0 ? [...chainSessions, client.session] : chainSessions,
    certificatesOf: [],
  }));
  const names = chain.map((r) => r.name);
  return [...nodes, { ...client, role: 'client', sessions: [client.session], certificatesOf: names }];
}

async function createRole(context: RoleContext, spec: ProcessSpec): Promise<SystemRole> {
  const { chain, client } = chainIdentities(context.system.size);
  if (spec.role !== 'client') {
    const node = new ChainNode({
      index: chain.findIndex((r) => r.name === spec.name),
      chain,
      client,
      tnic: context.tnic,
      network: context.network,
      behavior: { kind: 'correct' },
    });
    return {
      start: async () => {},
      tick: async () => {},
      stats: () => ({ appliedSeq: node.appliedSeq, detections: node.detections }),
      stop: async () => {},
    };
  }

  const replies = await signedReplies(context, chain, {
    quorum: chain.length,
    required: chain.at(-1)!.device,
    resultsOf: chainResults,
  });
  const host = context.network.node(client.name);
  const channels = chain.map((r) => host.channel(r.name));
  const history = new History();
  const { processes: count, operations, seed } = context.system.workload;
  const quorumClient = new QuorumClient({
    machine: 'kv',
    entry: new Connection(context.tnic, channels[0]!, client.session, chain[0]!.device),
    resultChannels: channels,
    replies,
    processes: count,
    operationsPerProcess: operations,
    seed,
    history,
  });
  return quorumDriver(context, quorumClient, history, count * operations);
}

export const CR_SYSTEM: SystemDefinition = {
  kind: 'cr',
  processes,
  driver: CR_CLIENT_NAME,
  history: true,
  createRole,
};

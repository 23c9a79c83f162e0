/**
 * A chain-replicated key-value store on one network: nodes n0 (head) to
 * n{N-1} (tail) and one client node. A chain of N nodes tolerates f = N - 1
 * Byzantine nodes, so the client waits for f + 1 = N matching results, the
 * tail's among them.
 *
 * Sessions: node i attests on session i and the client on session N. Every
 * node's device has the keys of the chain's sessions, so each node can
 * check the proof of every earlier node. Only the head and the client have
 * the key of the client's session, and the client's device has no other:
 * it checks results as signed replies with the nodes' certified client
 * keys (signed_reply_client.ts), which the nodes get at bootstrap.
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
import { ChainNode, type ChainBehavior } from './chain_node.ts';
import { chainResults } from './messages.ts';

export const CR_CLIENT_NAME = 'client';
export const CR_CLIENT_DEVICE = 100;

export interface CrClusterOptions {
  network: Network;
  backend: Backend;
  /** Chain length (default 3). */
  nodes?: number;
  processes: number;
  operationsPerProcess: number;
  seed: number;
  behaviors?: Record<string, ChainBehavior>;
}

export class CrCluster {
  private constructor(
    readonly nodes: ChainNode[],
    readonly client: QuorumClient,
    readonly history: History,
    private readonly devices: Tnic[],
  ) {}

  static async open(options: CrClusterOptions): Promise<CrCluster> {
    const n = options.nodes ?? 3;
    if (!Number.isInteger(n) || n < 2 || n + 1 > MAX_SESSIONS) {
      throw new InputError(
        `chain length ${n} must be 2..${MAX_SESSIONS - 1}: the nodes and a client need one session each`,
      );
    }
    const chain: ReplicaIdentity[] = Array.from({ length: n }, (_, i) => ({
      name: `n${i}`,
      device: i + 1,
      session: i,
    }));
    const client: ReplicaIdentity = { name: CR_CLIENT_NAME, device: CR_CLIENT_DEVICE, session: n };
    for (const name of Object.keys(options.behaviors ?? {})) {
      if (!chain.some((r) => r.name === name)) throw new InputError(`behavior for unknown chain node '${name}'`);
    }

    const chainSessions = chain.map((r) => r.session);
    const keys = drawSessionKeys([...chainSessions, client.session]);
    const certified = await openCertified(
      options.backend,
      chain.map((r, i) => ({ device: r.device, sessions: i === 0 ? [...chainSessions, client.session] : chainSessions })),
      keys,
    );
    const devices: Tnic[] = [...certified.devices];
    let replies: SignedReplyClient;
    try {
      devices.push(await openProvisioned(options.backend, client.device, [client.session], keys));
      replies = await SignedReplyClient.create({
        roots: certified.roots,
        replicas: chain.map((identity, i) => ({ identity, certificate: certified.certificates[i]! })),
        quorum: n,
        required: chain.at(-1)!.device,
        resultsOf: chainResults,
      });
      replies.expectAllCertified();
    } catch (error) {
      await Promise.all(devices.map((d) => d.close()));
      throw error;
    }

    const nodes = chain.map(
      (r, index) =>
        new ChainNode({
          index,
          chain,
          client,
          tnic: devices[index]!,
          network: options.network,
          behavior: options.behaviors?.[r.name] ?? { kind: 'correct' },
        }),
    );
    const clientNode = options.network.node(CR_CLIENT_NAME);
    const channels = chain.map((r) => clientNode.channel(r.name));
    const clientDevice = devices.at(-1)!;
    const history = new History();
    const quorumClient = new QuorumClient({
      machine: 'kv',
      entry: new Connection(clientDevice, channels[0]!, client.session, chain[0]!.device),
      resultChannels: channels,
      replies,
      processes: options.processes,
      operationsPerProcess: options.operationsPerProcess,
      seed: options.seed,
      history,
    });
    return new CrCluster(nodes, quorumClient, history, devices);
  }

  node(name: string): ChainNode {
    const node = this.nodes.find((r) => r.identity.name === name);
    if (node === undefined) throw new InputError(`no chain node named '${name}'`);
    return node;
  }

  /** The client's device, which attests its requests and has the key of the client's session only. */
  get clientDevice(): Tnic {
    return this.devices.at(-1)!;
  }

  async close(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.close()));
  }
}

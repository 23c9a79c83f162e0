/**
 * A chain-replicated key-value store on one network: nodes n0 (head) to
 * n{N-1} (tail), the configuration service and one client node. A chain of
 * N nodes tolerates f = N - 1 Byzantine nodes, so the client waits for
 * f + 1 = N matching results, the tail's among them; after a node is
 * removed, for every node of the shorter chain.
 *
 * Sessions follow ChainSessions.withService(N): a link session for every
 * pair of nodes that may become neighbours, a client session per node (any
 * node may become head), and a session between each node and the service.
 * Every node's device has every link session, so each node can check the
 * proof of every earlier node, and so does the service's, to check
 * evidence. The client's device has the client sessions and no other: it
 * checks results and announcements as signed replies with the certified
 * client keys of the nodes and the service, which all bootstrap with one
 * vendor.
 */

import { InputError } from '../../api/errors.ts';
import type { Backend, Tnic } from '../../api/tnic_api.ts';
import { drawSessionKeys, openProvisioned } from '../replication/devices.ts';
import { History } from '../replication/history.ts';
import type { Network } from '../replication/network.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';
import { openCertified } from '../replication/signed_reply_devices.ts';
import { ChainClient } from './chain_client.ts';
import { ChainNode, type ChainBehavior } from './chain_node.ts';
import { ChainReplies } from './chain_replies.ts';
import { CONFIG_SERVICE_DEVICE, CONFIG_SERVICE_NAME, ConfigService } from './config_service.ts';
import { ChainSessions } from './sessions.ts';

export const CR_CLIENT_NAME = 'client';
export const CR_CLIENT_DEVICE = 100;

export interface CrClusterOptions {
  network: Network;
  backend: Backend;
  /** Chain length, 2..MAX_RECONFIGURABLE_NODES (default 3). */
  nodes?: number;
  processes: number;
  operationsPerProcess: number;
  seed: number;
  behaviors?: Record<string, ChainBehavior>;
  /** Receives the configuration service's decisions. */
  log?(line: string): void;
}

export class CrCluster {
  private constructor(
    readonly nodes: ChainNode[],
    readonly service: ConfigService,
    readonly client: ChainClient,
    readonly history: History,
    readonly sessions: ChainSessions,
    private readonly devices: Tnic[],
  ) {}

  static async open(options: CrClusterOptions): Promise<CrCluster> {
    const n = options.nodes ?? 3;
    const sessions = ChainSessions.withService(n);
    const chain: ReplicaIdentity[] = Array.from({ length: n }, (_, i) => ({ name: `n${i}`, device: i + 1, session: i }));
    const client: ReplicaIdentity = { name: CR_CLIENT_NAME, device: CR_CLIENT_DEVICE, session: sessions.client(0) };
    for (const name of Object.keys(options.behaviors ?? {})) {
      if (!chain.some((r) => r.name === name)) throw new InputError(`behavior for unknown chain node '${name}'`);
    }

    const keys = drawSessionKeys(sessions.all());
    const certified = await openCertified(
      options.backend,
      [
        ...chain.map((r, i) => ({ device: r.device, sessions: sessions.ofNode(i) })),
        { device: CONFIG_SERVICE_DEVICE, sessions: sessions.ofService() },
      ],
      keys,
    );
    const devices: Tnic[] = [...certified.devices];
    let replies: ChainReplies;
    try {
      devices.push(await openProvisioned(options.backend, client.device, sessions.ofClient(), keys));
      replies = await ChainReplies.create({
        roots: certified.roots,
        members: chain.map((identity, i) => ({ identity, certificate: certified.certificates[i]! })),
        sessions,
        service: { device: CONFIG_SERVICE_DEVICE, certificate: certified.certificates[n]! },
      });
      replies.expectAllCertified();
    } catch (error) {
      await Promise.all(devices.map((d) => d.close()));
      throw error;
    }

    const service = { name: CONFIG_SERVICE_NAME, device: CONFIG_SERVICE_DEVICE };
    const nodes = chain.map(
      (r, index) =>
        new ChainNode({
          index,
          chain,
          client,
          tnic: devices[index]!,
          network: options.network,
          behavior: options.behaviors?.[r.name] ?? { kind: 'correct' },
          sessions,
          service,
        }),
    );
    const configService = new ConfigService({
      name: CONFIG_SERVICE_NAME,
      tnic: devices[n]!,
      network: options.network,
      members: chain,
      sessions,
      client: CR_CLIENT_NAME,
      machine: 'kv',
      log: options.log,
    });
    const history = new History();
    const chainClient = new ChainClient({
      machine: 'kv',
      name: CR_CLIENT_NAME,
      tnic: devices.at(-1)!,
      network: options.network,
      members: chain,
      sessions,
      replies,
      service: CONFIG_SERVICE_NAME,
      processes: options.processes,
      operationsPerProcess: options.operationsPerProcess,
      seed: options.seed,
      history,
    });
    return new CrCluster(nodes, configService, chainClient, history, sessions, devices);
  }

  node(name: string): ChainNode {
    const node = this.nodes.find((r) => r.identity.name === name);
    if (node === undefined) throw new InputError(`no chain node named '${name}'`);
    return node;
  }

  /** The client's device, which attests its requests and has the client sessions only. */
  get clientDevice(): Tnic {
    return this.devices.at(-1)!;
  }

  /** The configuration service's device. */
  get serviceDevice(): Tnic {
    return this.devices[this.nodes.length]!;
  }

  async close(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.close()));
  }
}

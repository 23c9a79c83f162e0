/**
 * A PeerReview deployment on one network: the source s, children c1 and
 * c2, and the witness w (see topology.ts for devices and sessions). Each
 * device is provisioned with the keys of its sessions and locked; the
 * witness's device holds every key, so it can check any logged message.
 */

import { InputError } from '../../api/errors.ts';
import type { Backend, Tnic } from '../../api/tnic_api.ts';
import { drawSessionKeys, openProvisioned } from '../replication/devices.ts';
import type { Network } from '../replication/network.ts';
import { CHILD_BEHAVIORS, ChildNode, type ChildBehavior } from './child.ts';
import { DEFAULT_MAX_PAGE_BYTES, checkPageBytes } from './node.ts';
import { SourceNode, type StreamPlan } from './source.ts';
import { PEERREVIEW_TOPOLOGY, sessionsOf, type Topology } from './topology.ts';
import { Witness } from './witness.ts';

export interface PeerReviewClusterOptions {
  network: Network;
  backend: Backend;
  /** Seeds the witness's nonces. */
  seed: number;
  /** Misbehaviour per child name; unnamed children are correct. */
  behaviors?: Record<string, ChildBehavior>;
  /** Wire bytes of log entries per audit response (default 16384). */
  maxPageBytes?: number;
}

export class PeerReviewCluster {
  private constructor(
    readonly topology: Topology,
    readonly source: SourceNode,
    readonly children: ChildNode[],
    readonly witness: Witness,
    /** The session keys, as the IP vendor provisioned them; an offline checker needs them. */
    readonly keys: ReadonlyMap<number, Uint8Array>,
    private readonly devices: Tnic[],
  ) {}

  static async open(options: PeerReviewClusterOptions): Promise<PeerReviewCluster> {
    const topology = PEERREVIEW_TOPOLOGY;
    const behaviors = options.behaviors ?? {};
    for (const [name, behavior] of Object.entries(behaviors)) {
      if (!topology.children.includes(name)) throw new InputError(`behavior for '${name}', which is not a child`);
      if (!CHILD_BEHAVIORS.includes(behavior.kind)) {
        throw new InputError(`behavior '${behavior.kind}' of ${name} is not one of ${CHILD_BEHAVIORS.join(', ')}`);
      }
    }

    const maxPageBytes = options.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
    checkPageBytes(maxPageBytes);

    const keys = drawSessionKeys([...topology.links.map((l) => l.session), ...topology.audits.map((a) => a.session)]);
    const devices = new Map<string, Tnic>();
    try {
      for (const node of topology.nodes) {
        devices.set(node.name, await openProvisioned(options.backend, node.device, sessionsOf(topology, node.name), keys));
      }
    } catch (error) {
      await Promise.all([...devices.values()].map((d) => d.close()));
      throw error;
    }

    const common = {
      topology,
      network: options.network,
      maxPageBytes,
    };
    const source = new SourceNode({ ...common, name: topology.source, tnic: devices.get(topology.source)! });
    const children = topology.children.map(
      (name) =>
        new ChildNode({ ...common, name, tnic: devices.get(name)!, behavior: behaviors[name] ?? { kind: 'correct' } }),
    );
    const witness = new Witness({
      topology,
      tnic: devices.get(topology.witness)!,
      network: options.network,
      seed: options.seed,
    });
    return new PeerReviewCluster(topology, source, children, witness, keys, [...devices.values()]);
  }

  child(name: string): ChildNode {
    const child = this.children.find((c) => c.name === name);
    if (child === undefined) throw new InputError(`no child named '${name}'`);
    return child;
  }

  /** Start the stream; see SourceNode.start. */
  start(plan: StreamPlan): void {
    this.source.start(plan);
  }

  async close(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.close()));
  }
}

/**
 * The layouts that `tnic cluster up` starts: for each system, its processes
 * with their devices, sessions and roles, and the config each process
 * reads. A system's layout comes from its process file, which the node
 * process reads too, so the cluster and every process agree on which
 * device gets which session key.
 */

import { InputError } from '../../api/errors.ts';
import { CLUSTER_ADDRESS, MAX_CLUSTER_NODES, type ClusterLayout, type ProcessPlan } from '../../stack/node/cluster.ts';
import type { PeerConfig } from '../../stack/node/node_config.ts';
import { A2M_SYSTEM } from './a2m_process.ts';
import { BFT_SYSTEM } from './bft_process.ts';
import { CR_SYSTEM } from './cr_process.ts';
import { PEERREVIEW_SYSTEM } from './peerreview_process.ts';
import { SYSTEMS, sizeProblem, type SystemKind, type Workload } from './system_config.ts';
import type { SystemDefinition } from './system_role.ts';

/** Everything `cluster up --system` accepts: the echo protocol and the four systems. */
export const CLUSTER_SYSTEMS = ['echo', ...SYSTEMS] as const;
export type ClusterSystem = (typeof CLUSTER_SYSTEMS)[number];

export const SYSTEM_DEFINITIONS: Record<SystemKind, SystemDefinition> = {
  bft: BFT_SYSTEM,
  cr: CR_SYSTEM,
  peerreview: PEERREVIEW_SYSTEM,
  a2m: A2M_SYSTEM,
};

/** Size of each system when `--nodes` is not given. */
export const DEFAULT_SIZES: Record<ClusterSystem, number> = { echo: 3, bft: 3, cr: 3, peerreview: 3, a2m: 1 };

export const SUMMARY_FILE = 'summary.json';
export const HISTORY_FILE = 'history.jepsen';

/**
 * Lay out the echo protocol on `nodes` processes n0, n1, ... Every pair of
 * nodes shares one session, numbered (i + j) mod N, which gives each node
 * N - 1 distinct sessions. Each node sends `messages` echo requests to each peer.
 */
export function echoLayout(nodes: number, messages: number): ClusterLayout {
  if (!Number.isInteger(nodes) || nodes < 2 || nodes > MAX_CLUSTER_NODES) {
    throw new InputError(`--nodes ${nodes} does not fit echo: it needs 2 to ${MAX_CLUSTER_NODES} nodes; use 3`);
  }
  const names = Array.from({ length: nodes }, (_, i) => `n${i}`);
  const sessionOf = (i: number, j: number): number => (i + j) % nodes;
  const keyOf = (i: number, j: number): string => (i < j ? `${i},${j}` : `${j},${i}`);
  return {
    system: 'echo',
    names,
    plan: (ports) =>
      names.map((name, i): ProcessPlan => {
        const others = names.map((_, j) => j).filter((j) => j !== i);
        const peers: PeerConfig[] = others.map((j) => ({
          name: names[j]!,
          address: CLUSTER_ADDRESS,
          port: ports.get(names[j]!)!,
          device: j + 1,
          session: sessionOf(i, j),
          send: messages,
        }));
        return {
          name,
          device: i + 1,
          role: 'echo',
          sessions: others.map((j) => ({ session: sessionOf(i, j), key: keyOf(i, j) })),
          awaitStart: false,
          certificatesOf: [],
          config: { peers },
        };
      }),
  };
}

/**
 * Lay out system `kind` with `size` servers (replicas, chain nodes, stream nodes or
 * A2M servers) and its driver, which runs `workload` and writes
 * SUMMARY_FILE, and HISTORY_FILE for the replicated systems.
 */
export function systemLayout(kind: SystemKind, size: number, workload: Workload): ClusterLayout {
  const problem = sizeProblem(kind, size);
  if (problem !== undefined) throw new InputError(`--nodes ${size} does not fit ${kind}: ${problem}`);
  const definition = SYSTEM_DEFINITIONS[kind];
  const specs = definition.processes(size);
  const history = definition.history ? HISTORY_FILE : undefined;
  return {
    system: kind,
    names: specs.map((spec) => spec.name),
    driver: { name: definition.driver, summary: SUMMARY_FILE, history },
    plan: (ports) => {
      const nodes = specs.map((spec) => ({ name: spec.name, address: CLUSTER_ADDRESS, port: ports.get(spec.name)! }));
      return specs.map((spec): ProcessPlan => {
        const driver = spec.name === definition.driver;
        const system = {
          kind,
          role: spec.role,
          size,
          nodes,
          workload,
          ...(driver ? { summary: SUMMARY_FILE, history } : {}),
        };
        return {
          name: spec.name,
          device: spec.device,
          role: spec.role,
          // Every holder of a session gets the same key, so the label is the session number.
          sessions: spec.sessions.map((session) => ({ session, key: `session ${session}` })),
          awaitStart: true,
          certificatesOf: spec.certificatesOf,
          config: { system },
        };
      });
    },
  };
}

/**
 * The `system` field of a node config: which distributed system the node
 * process runs and its place in it. `tnic cluster up` writes it. A node
 * checks it field by field before it opens a device, and every error
 * names the file, the field and the fix (InputError, exit code 2).
 *
 *   kind      bft | cr | peerreview | a2m
 *   role      the role of this process, e.g. "replica" or "client"
 *   size      BFT replicas, chain length, stream nodes or A2M servers
 *   nodes     every process of the cluster: name, address, port
 *   workload  processes, operations and seed of the client's workload
 *   summary   the driver's JSON summary file (relative to the config)
 *   history   the driver's Jepsen history file (BFT and chain replication)
 */

import { dirname, resolve } from 'node:path';

import { InputError } from '../../api/errors.ts';
import { MAX_SESSIONS } from '../../api/tnic_api.ts';
import { Fields, type NodeConfig } from '../../stack/node/node_config.ts';

export const SYSTEMS = ['bft', 'cr', 'peerreview', 'a2m'] as const;
export type SystemKind = (typeof SYSTEMS)[number];

/** Client processes of one driver, each with one operation outstanding at a time. */
export const MAX_PROCESSES = 64;
/** Operations per client process, or chunks for PeerReview. */
export const MAX_OPERATIONS = 10_000;

export interface Workload {
  /** Client processes; PeerReview has none and ignores it. */
  processes: number;
  /** Operations per process; for PeerReview, the chunks the source streams. */
  operations: number;
  /** Seeds the operations, the chunk bytes and the witness's nonces. */
  seed: number;
}

export interface Endpoint {
  name: string;
  address: string;
  port: number;
}

export interface SystemConfig {
  kind: SystemKind;
  role: string;
  size: number;
  /** Every process of the cluster, this one included. */
  nodes: Endpoint[];
  workload: Workload;
  /** Absolute path of the driver's summary; undefined for other roles. */
  summary: string | undefined;
  /** Absolute path of the driver's Jepsen history; undefined for other roles and systems. */
  history: string | undefined;
}

/**
 * Explain why `size` does not fit system `kind`, with the values that do;
 * undefined when it fits. Every replica, chain node and client takes a
 * session of its own, and a device has MAX_SESSIONS sessions.
 */
export function sizeProblem(kind: SystemKind, size: number): string | undefined {
  const maxReplicas = MAX_SESSIONS - 1;
  // Each BFT replica takes a session for itself and one it shares with the client alone.
  const maxBft = Math.floor(MAX_SESSIONS / 2) - (Math.floor(MAX_SESSIONS / 2) % 2 === 0 ? 1 : 0);
  switch (kind) {
    case 'bft':
      if (Number.isInteger(size) && size >= 3 && size <= maxBft && size % 2 === 1) return undefined;
      return (
        `BFT runs 2f+1 replicas for f >= 1, an odd number from 3 to ${maxBft} ` +
        `(each replica takes 2 of the ${MAX_SESSIONS} sessions: its own and one shared with the client); use 3`
      );
    case 'cr':
      if (Number.isInteger(size) && size >= 2 && size <= maxReplicas) return undefined;
      return (
        `a chain has 2 to ${maxReplicas} nodes ` +
        `(the nodes and the client take one of ${MAX_SESSIONS} sessions each); use 3`
      );
    case 'peerreview':
      if (size === 3) return undefined;
      return 'PeerReview runs a fixed tree of 3 stream nodes (source and two children) plus a witness; use 3';
    case 'a2m':
      if (size === 1) return undefined;
      return 'A2M runs one server that holds the log, plus a client; use 1';
  }
}

/** Check the `system` field of `config`; throws InputError naming the field and the fix. */
export function readSystemConfig(config: NodeConfig): SystemConfig {
  const where = `config ${config.file}: system`;
  const known = ['kind', 'role', 'size', 'nodes', 'workload', 'summary', 'history'];
  const fields = new Fields(where, config.system, known);
  const kind = fields.choice('kind', SYSTEMS);
  const role = fields.name('role');
  const size = fields.integer('size', 1, MAX_SESSIONS);
  const problem = sizeProblem(kind, size);
  if (problem !== undefined) throw new InputError(`${where}: field 'size' is ${size}; ${problem}`);

  const nodes = fields.list('nodes', 2, MAX_SESSIONS).map((value, i) => readEndpoint(value, `${where}.nodes[${i}]`));
  const names = new Set(nodes.map((n) => n.name));
  if (names.size !== nodes.length) throw new InputError(`${where}.nodes names a process twice; list each once`);
  if (!names.has(config.name)) {
    throw new InputError(`${where}.nodes does not list this node '${config.name}'; add it with its port`);
  }

  const workloadValue = fields.optionalObject('workload') ?? {};
  const workload = new Fields(`${where}.workload`, workloadValue, ['processes', 'operations', 'seed']);
  const base = dirname(config.file);
  const optionalPath = (field: string): string | undefined => {
    const value = fields.optionalString(field);
    return value === undefined ? undefined : resolve(base, value);
  };
  return {
    kind,
    role,
    size,
    nodes,
    workload: {
      processes: workload.integer('processes', 1, MAX_PROCESSES, 4),
      operations: workload.integer('operations', 1, MAX_OPERATIONS, 8),
      seed: workload.integer('seed', 0, 0xffff_ffff, 1),
    },
    summary: optionalPath('summary'),
    history: optionalPath('history'),
  };
}

function readEndpoint(value: unknown, where: string): Endpoint {
  const fields = new Fields(where, value, ['name', 'address', 'port']);
  return {
    name: fields.name('name'),
    address: fields.address('address', '127.0.0.1'),
    port: fields.integer('port', 1, 65535),
  };
}

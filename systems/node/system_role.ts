/**
 * The interface of every system's process file. A system lists its
 * processes with their devices, sessions and roles. The same table drives
 * `tnic cluster up` and each process, so both agree. A system also builds
 * the one role a process plays on that process's UDP network.
 *
 * The driver is the process that runs the workload (the client, or the
 * PeerReview witness). It logs progress and, once done, writes a JSON
 * summary and, for BFT and chain replication, its Jepsen history.
 */

import { writeFileSync } from 'node:fs';

import type { Tnic } from '../../api/tnic_api.ts';
import type { ClusterStart } from '../../stack/node/bootstrap_link.ts';
import type { ReliableOptions } from '../../stack/reliable_channel.ts';
import type { UdpNetwork } from '../../stack/udp_network.ts';
import type { Network } from '../replication/network.ts';
import type { SystemConfig, SystemKind } from './system_config.ts';
import type { NodeOutput } from './tnic_node.ts';

/** One process of a system, as the layout and the process itself see it. */
export interface ProcessSpec {
  name: string;
  device: number;
  role: string;
  /** Sessions whose keys the vendor loads into the device. */
  sessions: number[];
  /** Processes whose client key certificates this one needs to check their signed replies. */
  certificatesOf: string[];
}

export interface SystemDefinition {
  kind: SystemKind;
  /** The processes of a cluster of `size`, in start order. */
  processes(size: number): ProcessSpec[];
  /** Name of the process that runs the workload and writes the summary. */
  driver: string;
  /** Whether the driver writes a Jepsen history. */
  history: boolean;
  /** Build the role of `spec` on the context's network; it starts work in SystemRole.start. */
  createRole(context: RoleContext, spec: ProcessSpec): Promise<SystemRole>;
}

export interface RoleContext {
  /** This process's name. */
  name: string;
  system: SystemConfig;
  tnic: Tnic;
  /** The process's UDP network, with every other process named as a remote node. */
  network: Network;
  /** The vendor's start message: trust roots and the certificates of `certificatesOf`. */
  start: ClusterStart;
  output: NodeOutput;
}

export interface SystemRole {
  /** Begin the role's work; runs once every process of the cluster is provisioned. */
  start(): Promise<void>;
  /** Runs every TICK_MS while the process runs, e.g. for progress, audits or the summary. */
  tick(): Promise<void>;
  /** Counters for the stats event. */
  stats(): Record<string, unknown>;
  /** Runs before the process exits; a driver that did not finish writes what it has. */
  stop(): Promise<void>;
}

/** Milliseconds between two ticks of a role. */
export const TICK_MS = 50;
/** Milliseconds between two progress lines of a driver. */
export const PROGRESS_INTERVAL_MS = 2000;

/**
 * Retransmission of the reliable channels between processes: 50 ms doubling
 * up to 400 ms, 30 times, so a peer may stall for about 11 s (a process
 * paused on a loaded machine) before its channel fails. The default budget
 * of about 1.1 s suits the simulated network, where nothing stalls.
 */
export const PROCESS_CHANNEL_OPTIONS: ReliableOptions = { rtoMs: 50, maxRetries: 30, gapTimeoutMs: 15_000 };

/** Wrap `network` so every channel a role opens uses PROCESS_CHANNEL_OPTIONS. */
export function processNetwork(network: UdpNetwork): Network {
  return {
    clock: network.clock,
    node: (name) => {
      const node = network.node(name);
      return { channel: (peer, connection = 0) => node.channel(peer, connection, PROCESS_CHANNEL_OPTIONS) };
    },
  };
}

/** The fields a driver reports at the end of its run; writeSummary adds the workload seed. */
export interface SummaryFields {
  system: SystemKind;
  process: string;
  /** True when the workload ran to its end; false when the process stopped first. */
  finished: boolean;
  /** Units of work planned and completed: operations, or log entries audited for PeerReview. */
  operations: number;
  completed: number;
  /** Wall-clock milliseconds from the role's start to the summary. */
  wallMs: number;
  /** One line that states the outcome. */
  line: string;
  [detail: string]: unknown;
}

/** The end of a driver's run, written as its summary file. */
export interface Summary extends SummaryFields {
  /** Seed of the workload (the config's system.workload.seed), to replay the run. */
  seed: number;
}

/**
 * Write `fields` and the workload seed to the file the config names, log
 * the summary's line and emit it as a `summary` event.
 */
export function writeSummary(context: RoleContext, fields: SummaryFields): void {
  const { system, process: processName, ...details } = fields;
  const summary: Summary = { system, process: processName, seed: context.system.workload.seed, ...details };
  const path = context.system.summary;
  if (path === undefined) {
    context.output.log(`summary (no summary file configured): ${summary.line}`);
  } else {
    writeFileSync(path, `${JSON.stringify(summary, null, 2)}\n`);
    context.output.log(`summary written to ${path}: ${summary.line}`);
  }
  context.output.event({ event: 'summary', ...summary });
}

/** Logs a driver's progress at most every PROGRESS_INTERVAL_MS, and only when it changed. */
export class ProgressLog {
  #last = '';
  #lastAt = 0;

  constructor(private readonly output: NodeOutput) {}

  report(line: string, event: Record<string, unknown>): void {
    const now = Date.now();
    if (line === this.#last || now - this.#lastAt < PROGRESS_INTERVAL_MS) return;
    this.#last = line;
    this.#lastAt = now;
    this.output.log(line);
    this.output.event({ event: 'progress', ...event });
  }
}

/**
 * PeerReview as OS processes: the source s, the children c1 and c2, and
 * the witness w, each in its own process, with the devices and sessions
 * of topology.ts (the layout of peerreview_cluster.ts). The source streams
 * the workload's chunks once the cluster starts. The witness is the
 * driver: it audits every stream node each tick until each node's audited
 * log reaches the length a correct run of that many chunks produces, or a
 * finding ends in evidence, and then writes the summary.
 *
 * A complete audit shows that every chunk arrived: the auditor replays each
 * log on the reference implementation, so a child's log of the expected
 * length holds every chunk of its own and every forward of its sibling.
 */

import { InputError } from '../../api/errors.ts';
import { ChildNode } from '../peerreview/child.ts';
import { DEFAULT_MAX_PAGE_BYTES, type StreamNode } from '../peerreview/node.ts';
import { SourceNode } from '../peerreview/source.ts';
import { PEERREVIEW_TOPOLOGY, primaryChild, siblingOf, sessionsOf, type Topology } from '../peerreview/topology.ts';
import { Witness } from '../peerreview/witness.ts';
import {
  ProgressLog,
  writeSummary,
  type ProcessSpec,
  type RoleContext,
  type SystemDefinition,
  type SystemRole,
} from './system_role.ts';

/** Wall-clock milliseconds between two chunks of the stream. */
const CHUNK_INTERVAL_MS = 5;

function processes(size: number): ProcessSpec[] {
  if (size !== PEERREVIEW_TOPOLOGY.children.length + 1) {
    throw new InputError(`PeerReview has 3 stream nodes, not ${size}`);
  }
  return PEERREVIEW_TOPOLOGY.nodes.map((node) => ({
    name: node.name,
    device: node.device,
    role: node.role,
    sessions: sessionsOf(PEERREVIEW_TOPOLOGY, node.name),
    certificatesOf: [],
  }));
}

/** Return the log length of each stream node after a correct run of `chunks` chunks. */
export function expectedLogLengths(topology: Topology, chunks: number): Map<string, number> {
  const lengths = new Map<string, number>([[topology.source, 0], ...topology.children.map((c) => [c, 0] as const)]);
  const add = (name: string, n: number): void => void lengths.set(name, lengths.get(name)! + n);
  for (let seq = 1; seq <= chunks; seq++) {
    const child = primaryChild(topology, seq);
    add(topology.source, 1); // send chunk
    add(child, 2); // receive chunk, send forward
    add(siblingOf(topology, child), 1); // receive forward
  }
  return lengths;
}

async function createRole(context: RoleContext, spec: ProcessSpec): Promise<SystemRole> {
  const topology = PEERREVIEW_TOPOLOGY;
  const common = { topology, name: spec.name, tnic: context.tnic, network: context.network };
  const { operations: chunks, seed } = context.system.workload;
  if (spec.role === 'witness') return witnessDriver(context, new Witness({ ...common, seed }), chunks);

  const options = { ...common, maxPageBytes: DEFAULT_MAX_PAGE_BYTES };
  if (spec.role === 'source') {
    const source = new SourceNode(options);
    return streamRole(source, () => source.start({ chunks, intervalMs: CHUNK_INTERVAL_MS, seed }), () => ({
      chunksSent: source.sent.size,
    }));
  }
  const child = new ChildNode({ ...options, behavior: { kind: 'correct' } });
  return streamRole(child, () => {}, () => ({ chunksOutput: child.outputs.length }));
}

function streamRole(node: StreamNode, begin: () => void, counters: () => Record<string, unknown>): SystemRole {
  return {
    start: async () => begin(),
    tick: async () => {},
    stats: () => ({
      ...counters(),
      logEntries: node.log.length,
      auditsAnswered: node.auditsAnswered,
      ignored: { ...node.ignored },
    }),
    stop: async () => {},
  };
}

function witnessDriver(context: RoleContext, witness: Witness, chunks: number): SystemRole {
  const topology = PEERREVIEW_TOPOLOGY;
  const expected = expectedLogLengths(topology, chunks);
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  const audited = (): Record<string, number> =>
    Object.fromEntries([...expected.keys()].map((name) => [name, witness.auditor(name).next]));
  const completed = (): number =>
    [...expected].reduce((sum, [name, n]) => sum + Math.min(witness.auditor(name).next, n), 0);
  const progress = new ProgressLog(context.output);
  let started = 0;
  let done = false;

  const finish = (finished: boolean): void => {
    done = true;
    const wallMs = Math.round(performance.now() - started);
    const evidence = witness.evidence.map((e) => `${e.accused}: ${e.finding.kind} at entry ${e.finding.index}`);
    const outcome = evidence.length === 0 ? 'no evidence' : `evidence against ${evidence.join('; ')}`;
    writeSummary(context, {
      system: 'peerreview',
      process: context.name,
      finished,
      operations: total,
      completed: completed(),
      wallMs,
      line: `${chunks} chunks: ${completed()} of ${total} log entries audited in ${wallMs} ms, ${outcome}`,
      chunks,
      audited: audited(),
      expected: Object.fromEntries(expected),
      evidence: witness.evidence,
      audit: { ...witness.stats },
      unanswered: witness.unanswered,
    });
  };

  return {
    start: async () => {
      started = performance.now();
      context.output.log(`auditing ${[...expected.keys()].join(', ')} until ${total} log entries of ${chunks} chunks pass`);
    },
    tick: async () => {
      if (done) return;
      const complete = [...expected].every(([name, n]) => witness.auditor(name).next >= n);
      if (complete || witness.evidence.length > 0) {
        finish(true);
        return;
      }
      const line = `${completed()} of ${total} log entries audited`;
      progress.report(line, { completed: completed(), operations: total });
      await witness.auditAll();
    },
    stats: () => ({ audited: audited(), evidence: witness.evidence.length, audit: { ...witness.stats } }),
    stop: async () => {
      if (!done) finish(false);
    },
  };
}

export const PEERREVIEW_SYSTEM: SystemDefinition = {
  kind: 'peerreview',
  processes,
  driver: PEERREVIEW_TOPOLOGY.witness,
  history: false,
  createRole,
};

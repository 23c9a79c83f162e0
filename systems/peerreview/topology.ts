/**
 * The PeerReview deployment: a one-level tree of a source and two children,
 * and one witness that audits all three. Every pair of stream nodes shares
 * one session, and each stream node shares one audit session with the
 * witness. A third party that checks evidence needs this table to know
 * which device and session belong to which node.
 *
 * Devices: the source is 1, the children 2 and 3, the witness 10.
 * Sessions: 0 is source-c1, 1 is source-c2, 2 is c1-c2, and 3, 4, 5 are
 * the audit sessions of the source, c1 and c2.
 */

import { InputError } from '../../api/errors.ts';

export type Role = 'source' | 'child' | 'witness';

export interface PeerNode {
  name: string;
  device: number;
  role: Role;
}

/** A session shared by two stream nodes; each sends on it with its own counters. */
export interface StreamLink {
  a: string;
  b: string;
  session: number;
}

/** The session on which the witness audits `node`. */
export interface AuditLink {
  node: string;
  session: number;
}

export interface Topology {
  source: string;
  children: readonly [string, string];
  witness: string;
  nodes: readonly PeerNode[];
  links: readonly StreamLink[];
  audits: readonly AuditLink[];
}

export const PEERREVIEW_TOPOLOGY: Topology = {
  source: 's',
  children: ['c1', 'c2'],
  witness: 'w',
  nodes: [
    { name: 's', device: 1, role: 'source' },
    { name: 'c1', device: 2, role: 'child' },
    { name: 'c2', device: 3, role: 'child' },
    { name: 'w', device: 10, role: 'witness' },
  ],
  links: [
    { a: 's', b: 'c1', session: 0 },
    { a: 's', b: 'c2', session: 1 },
    { a: 'c1', b: 'c2', session: 2 },
  ],
  audits: [
    { node: 's', session: 3 },
    { node: 'c1', session: 4 },
    { node: 'c2', session: 5 },
  ],
};

export function nodeOf(topology: Topology, name: string): PeerNode {
  const node = topology.nodes.find((n) => n.name === name);
  if (node === undefined) throw new InputError(`no PeerReview node named '${name}'`);
  return node;
}

/** Return the stream session between `a` and `b`, or undefined when they share none. */
export function linkSession(topology: Topology, a: string, b: string): number | undefined {
  const link = topology.links.find((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a));
  return link?.session;
}

/** Return the stream nodes that share a session with `name`. */
export function neighbours(topology: Topology, name: string): string[] {
  const out: string[] = [];
  for (const link of topology.links) {
    if (link.a === name) out.push(link.b);
    if (link.b === name) out.push(link.a);
  }
  return out;
}

export function auditSession(topology: Topology, name: string): number {
  const audit = topology.audits.find((a) => a.node === name);
  if (audit === undefined) throw new InputError(`PeerReview node '${name}' has no audit session`);
  return audit.session;
}

/** Return the child that receives chunk `seq` from the source: c1 for odd, c2 for even sequence numbers. */
export function primaryChild(topology: Topology, seq: number): string {
  return topology.children[(seq - 1) % 2]!;
}

/** Return the other child of the tree. */
export function siblingOf(topology: Topology, child: string): string {
  const [c1, c2] = topology.children;
  if (child === c1) return c2;
  if (child === c2) return c1;
  throw new InputError(`'${child}' is not a child in the PeerReview tree`);
}

/** Return the sessions the device of `name` needs: its stream links and its audit session, or all sessions for the witness. */
export function sessionsOf(topology: Topology, name: string): number[] {
  if (nodeOf(topology, name).role === 'witness') {
    return [...topology.links.map((l) => l.session), ...topology.audits.map((a) => a.session)];
  }
  const stream = topology.links.filter((l) => l.a === name || l.b === name).map((l) => l.session);
  return [...stream, auditSession(topology, name)];
}

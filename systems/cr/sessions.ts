/**
 * The session layout of a chain: which TNIC session carries each link,
 * each client connection and each connection to the configuration service.
 *
 * A session's receive counter lives in the receiving device, so a session
 * can carry the messages of one pair of devices only. If a node switched
 * to a new successor on its old session, the successor's device would
 * expect counter 0 and put everything later on hold as a gap. Devices are locked
 * after bootstrap, so every pair of nodes that may become neighbours gets
 * its own link session from the start. Nodes are only ever removed, so the
 * remaining nodes keep their original order, and node a can precede node b
 * only if a comes before b in the original chain.
 *
 * Layout of a chain of n nodes with a configuration service:
 *   0 .. n-2     link(i, i+1), the links of the original chain
 *   n-1          the original tail's reply session
 *   n            the head's client session
 *   then         link(a, b) for b >= a + 2, in order of a, then b
 *   then         the client sessions of nodes 1 .. n-1
 *   then         the service sessions of nodes 0 .. n-1
 *   last         the service's announcements to the client
 * Node i attests on session i in the original chain, and the head takes
 * requests on session n, as in the layout without a service.
 */

import { InputError } from '../../api/errors.ts';
import { MAX_SESSIONS } from '../../api/tnic_api.ts';
import type { ReplicaIdentity } from '../replication/quorum_client.ts';

/** Chain length whose layout with a configuration service still fits MAX_SESSIONS. */
export const MAX_RECONFIGURABLE_NODES = maxReconfigurableNodes();

export class ChainSessions {
  private constructor(
    readonly size: number,
    /** Whether the layout has the sessions a configuration service needs. */
    readonly reconfigurable: boolean,
    private readonly links: ReadonlyMap<string, number>,
    private readonly tails: ReadonlyMap<number, number>,
    private readonly clients: ReadonlyMap<number, number>,
    private readonly services: ReadonlyMap<number, number>,
    /** Session of the service's signed announcements to the client; undefined without a service. */
    readonly announcements: number | undefined,
  ) {}

  /** Sessions for a chain of `size` nodes with a configuration service (see the file header). */
  static withService(size: number): ChainSessions {
    if (!Number.isInteger(size) || size < 2 || size > MAX_RECONFIGURABLE_NODES) {
      throw new InputError(
        `chain length ${size} must be 2..${MAX_RECONFIGURABLE_NODES}: with a configuration service every ` +
          `pair of nodes, every node's client connection and every node's service connection need a ` +
          `session of their own, and a device holds ${MAX_SESSIONS}`,
      );
    }
    let next = 0;
    const links = new Map<string, number>();
    for (let i = 0; i + 1 < size; i++) links.set(linkKey(i, i + 1), next++);
    const tails = new Map([[size - 1, next++]]);
    const clients = new Map([[0, next++]]);
    for (let a = 0; a < size; a++) {
      for (let b = a + 2; b < size; b++) links.set(linkKey(a, b), next++);
    }
    for (let i = 1; i < size; i++) clients.set(i, next++);
    const services = new Map<number, number>();
    for (let i = 0; i < size; i++) services.set(i, next++);
    // A node that becomes the tail later attests its replies on its client session.
    for (let i = 0; i + 1 < size; i++) tails.set(i, clients.get(i)!);
    return new ChainSessions(size, true, links, tails, clients, services, next);
  }

  /**
   * Sessions of a chain that never changes: node i sends on `chain[i].session`
   * and the head takes requests on `client.session`. This is the layout of
   * chains built before the configuration service existed.
   */
  static fixed(chain: readonly ReplicaIdentity[], client: ReplicaIdentity): ChainSessions {
    const links = new Map<string, number>();
    for (let i = 0; i + 1 < chain.length; i++) links.set(linkKey(i, i + 1), chain[i]!.session);
    const tails = new Map([[chain.length - 1, chain.at(-1)!.session]]);
    const clients = new Map([[0, client.session]]);
    return new ChainSessions(chain.length, false, links, tails, clients, new Map(), undefined);
  }

  /** Sessions in use, one past the highest. */
  get count(): number {
    return Math.max(...this.all()) + 1;
  }

  hasLink(a: number, b: number): boolean {
    return this.links.has(linkKey(Math.min(a, b), Math.max(a, b)));
  }

  /** Return the session of the link between nodes `a` and `b` (original positions), in either direction. */
  link(a: number, b: number): number {
    const session = this.links.get(linkKey(Math.min(a, b), Math.max(a, b)));
    if (session === undefined) throw new InputError(`nodes ${a} and ${b} have no link session in this layout`);
    return session;
  }

  /** Return the session on which node `index` attests its replies while it is the tail. */
  tail(index: number): number {
    return this.#get(this.tails, index, 'tail');
  }

  hasClient(index: number): boolean {
    return this.clients.has(index);
  }

  /** Return the session on which node `index` takes client requests while it is the head. */
  client(index: number): number {
    return this.#get(this.clients, index, 'client');
  }

  /** Return the session between node `index` and the configuration service. */
  service(index: number): number {
    return this.#get(this.services, index, 'service');
  }

  /** Return every link session. Every chain device and the service have them all, to check forwarded proofs. */
  linkSessions(): number[] {
    return [...this.links.values()].sort((x, y) => x - y);
  }

  /** Sessions on which node `index` attests chain messages: its links and its tail session. */
  attestedBy(index: number): number[] {
    const own = [...this.links].filter(([key]) => key.split('-').map(Number).includes(index)).map(([, s]) => s);
    return [...own, this.tail(index)];
  }

  /** Sessions the device of node `index` needs. */
  ofNode(index: number): number[] {
    const own = [this.tails.get(this.size - 1)!, this.clients.get(index), this.services.get(index)];
    return unique([...this.linkSessions(), ...own.filter((s) => s !== undefined)]);
  }

  /** Sessions the client's device needs: every node's client session. */
  ofClient(): number[] {
    return unique([...this.clients.values()]);
  }

  /** Sessions the service's device needs: the links (to check evidence), its node sessions, its announcements. */
  ofService(): number[] {
    if (this.announcements === undefined) return [];
    return unique([...this.linkSessions(), ...this.services.values(), this.announcements]);
  }

  all(): number[] {
    const every = [...this.links.values(), ...this.tails.values(), ...this.clients.values(), ...this.services.values()];
    return unique(this.announcements === undefined ? every : [...every, this.announcements]);
  }

  #get(map: ReadonlyMap<number, number>, index: number, kind: string): number {
    const session = map.get(index);
    if (session === undefined) throw new InputError(`node ${index} has no ${kind} session in this layout`);
    return session;
  }
}

function linkKey(a: number, b: number): string {
  return `${a}-${b}`;
}

function unique(sessions: readonly number[]): number[] {
  return [...new Set(sessions)].sort((x, y) => x - y);
}

/** Links n(n-1)/2, the original tail 1, clients n, service n, announcements 1. */
function maxReconfigurableNodes(): number {
  let n = 2;
  while (((n + 1) * n) / 2 + 2 * (n + 1) + 2 <= MAX_SESSIONS) n += 1;
  return n;
}

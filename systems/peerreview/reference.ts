/**
 * Deterministic reference implementations of the stream protocol, which a
 * witness replays a node's log on. A correct node's log is exactly what its
 * reference produces from the same received messages.
 *
 * Source: sends chunk 1, 2, 3 ... in order, each to one child (odd to c1,
 * even to c2). The chunk's bytes are the source's own input, so any bytes
 * are valid; the order and the destination are not free.
 * Child: forwards every chunk it receives from the source to its sibling,
 * unchanged and before it handles its next received message, and sends
 * nothing else. A forward from the sibling is only output locally.
 */

import type { StreamMessage } from './messages.ts';
import { primaryChild, siblingOf, type Topology } from './topology.ts';

/** The protocol fields of a stream message; the log commitment is checked separately. */
export type StreamContent = Omit<StreamMessage, 'log'>;

export interface ReferenceNode {
  /**
   * Replay a received message (undefined when it did not parse). Returns a
   * description of the violation when this node should have sent something
   * first, else undefined.
   */
  receive(peer: string, message: StreamContent | undefined): string | undefined;
  /** Replay a sent message; returns a description of how it differs from the reference, else undefined. */
  send(peer: string, message: StreamContent | undefined): string | undefined;
  /** Sends the reference still owes, as descriptions; a complete log owes none. */
  owed(): string[];
}

export function createReference(topology: Topology, name: string): ReferenceNode {
  if (name === topology.source) return new SourceReference(topology);
  return new ChildReference(topology, name);
}

function describe(peer: string, m: StreamContent): string {
  return `${m.t} seq ${m.seq} to ${peer}`;
}

class SourceReference implements ReferenceNode {
  #nextSeq = 1;

  constructor(private readonly topology: Topology) {}

  receive(): string | undefined {
    // The source reacts to nothing; what a child sends it is that child's fault.
    return undefined;
  }

  send(peer: string, message: StreamContent | undefined): string | undefined {
    const seq = this.#nextSeq;
    const expected = `chunk seq ${seq} to ${primaryChild(this.topology, seq)}`;
    if (message === undefined) return `sent a message that is not a stream message; the reference sends ${expected}`;
    if (message.t !== 'chunk' || message.seq !== seq || peer !== primaryChild(this.topology, seq)) {
      return `sent ${describe(peer, message)}; the reference sends ${expected}`;
    }
    this.#nextSeq += 1;
    return undefined;
  }

  owed(): string[] {
    return [];
  }
}

class ChildReference implements ReferenceNode {
  readonly #sibling: string;
  /** Forwards the reference sends next, oldest first. */
  #owed: { peer: string; message: StreamContent }[] = [];

  constructor(
    private readonly topology: Topology,
    private readonly name: string,
  ) {
    this.#sibling = siblingOf(topology, name);
  }

  receive(peer: string, message: StreamContent | undefined): string | undefined {
    const owed = this.owed();
    if (owed.length > 0) return `received from ${peer} before sending ${owed.join(', ')}`;
    if (peer === this.topology.source && message?.t === 'chunk') {
      this.#owed.push({ peer: this.#sibling, message: { t: 'forward', seq: message.seq, data: message.data } });
    }
    return undefined;
  }

  send(peer: string, message: StreamContent | undefined): string | undefined {
    const next = this.#owed.shift();
    const sent = message === undefined ? `a message to ${peer} that is not a stream message` : describe(peer, message);
    if (next === undefined) return `sent ${sent}, which the reference never sends here`;
    const expected = describe(next.peer, next.message);
    if (message === undefined || peer !== next.peer || message.t !== next.message.t || message.seq !== next.message.seq) {
      return `sent ${sent}; the reference sends ${expected}`;
    }
    if (message.data !== next.message.data) {
      return `sent ${sent} with data that differs from the chunk ${this.name} received`;
    }
    return undefined;
  }

  owed(): string[] {
    return this.#owed.map((o) => describe(o.peer, o.message));
  }
}

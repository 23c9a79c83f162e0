/**
 * A PeerReview child: outputs every chunk it gets, from the source or as a
 * forward from its sibling, and forwards each chunk from the source to its
 * sibling unchanged, so both children output the whole stream.
 *
 * A Byzantine child alters the data of every third forward (the 2nd, 5th,
 * 8th ...) and may then hide it from its log in one of three ways.
 */

import { decodeAttested, encodeAttested } from '../../api/tnic_api.ts';
import { encodeJson } from '../replication/wire.ts';
import { fromBase64, toBase64, type StreamMessage } from './messages.ts';
import { StreamNode, type StreamNodeOptions } from './node.ts';
import { siblingOf } from './topology.ts';

export type ChildBehavior =
  | { kind: 'correct' }
  /** Alters forwards and logs them as sent. */
  | { kind: 'corrupt-forward' }
  /** Alters forwards, then overwrites the logged bytes with the unaltered forward, keeping the tag. */
  | { kind: 'tamper-entry' }
  /** Alters forwards and leaves both the forward and the chunk it came from out of its log. */
  | { kind: 'omit-entries' }
  /** Forwards correctly, but after its first audit swaps two audited entries and rehashes the log. */
  | { kind: 'fork-log' };

export const CHILD_BEHAVIORS = ['correct', 'corrupt-forward', 'tamper-entry', 'omit-entries', 'fork-log'] as const;

/** Every CORRUPT_EVERY-th forward, from the second on, is altered by a Byzantine child. */
export const CORRUPT_EVERY = 3;

export interface ChildOptions extends StreamNodeOptions {
  behavior: ChildBehavior;
}

export interface OutputChunk {
  seq: number;
  /** base64 of the chunk's bytes. */
  data: string;
  from: string;
}

export class ChildNode extends StreamNode {
  /** Chunks output to the local application, in arrival order. */
  readonly outputs: OutputChunk[] = [];
  /** Sequence numbers of the forwards this child altered. */
  readonly altered: number[] = [];
  readonly #sibling: string;
  readonly #behavior: ChildBehavior;
  #forwards = 0;
  #forked = false;

  constructor(options: ChildOptions) {
    super(options);
    this.#sibling = siblingOf(options.topology, options.name);
    this.#behavior = options.behavior;
  }

  protected override async onStreamMessage(peer: string, message: StreamMessage | undefined): Promise<void> {
    if (message === undefined) return;
    if (peer === this.topology.source && message.t === 'chunk') {
      this.outputs.push({ seq: message.seq, data: message.data, from: peer });
      await this.#forward(message.seq, message.data);
    } else if (peer === this.#sibling && message.t === 'forward') {
      this.outputs.push({ seq: message.seq, data: message.data, from: peer });
    } else {
      this.ignored['not-stream'] += 1;
    }
  }

  async #forward(seq: number, data: string): Promise<void> {
    const position = this.#forwards++;
    const kind = this.#behavior.kind;
    const alters = kind !== 'correct' && kind !== 'fork-log' && position % CORRUPT_EVERY === 1;
    if (!alters) {
      await this.sendStream(this.#sibling, { t: 'forward', seq, data });
      return;
    }

    this.altered.push(seq);
    if (kind === 'omit-entries') {
      // The chunk's receive entry is the last one; without it the reference owes no forward.
      this.log.truncate(this.log.length - 1);
    }
    const entry = await this.sendStream(this.#sibling, { t: 'forward', seq, data: alter(data) }, kind !== 'omit-entries');
    if (kind === 'tamper-entry' && entry !== undefined) {
      // Put the unaltered data into the logged bytes; the tag no longer matches them.
      const log = { index: entry.index, hash: toBase64(this.log.hashBefore(entry.index)) };
      const honest: StreamMessage = { t: 'forward', seq, data, log };
      const sent = decodeAttested(entry.wire);
      this.log.replace(entry.index, 'send', this.#sibling, encodeAttested({ ...sent, msg: encodeJson(honest) }));
    }
  }

  protected override async afterAuditResponse(next: number): Promise<void> {
    if (this.#behavior.kind !== 'fork-log' || this.#forked) return;
    const received = (from: string): number => {
      for (let i = 0; i < next; i++) {
        const e = this.log.entry(i);
        if (e.kind === 'recv' && e.peer === from) return i;
      }
      return -1;
    };
    const a = received(this.topology.source);
    const b = received(this.#sibling);
    if (a < 0 || b < 0) return;
    // Swapping entries of two different sessions keeps every tag and counter valid; only the hash chain changes.
    const [first, second] = [this.log.entry(a), this.log.entry(b)];
    this.log.replace(a, second.kind, second.peer, second.wire);
    this.log.replace(b, first.kind, first.peer, first.wire);
    this.#forked = true;
  }
}

/** Flip every bit of the first byte of base64 `data`. */
function alter(data: string): string {
  const bytes = fromBase64(data)!;
  bytes[0] = bytes[0]! ^ 0xff;
  return toBase64(bytes);
}

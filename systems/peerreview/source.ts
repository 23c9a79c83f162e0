/**
 * The PeerReview source: streams `chunks` chunks of seeded random bytes,
 * one every `intervalMs` of the network's clock, chunk seq to child c1 for
 * odd and c2 for even seq. Children send it nothing; anything it receives
 * is logged and otherwise ignored.
 */

import { InputError } from '../../api/errors.ts';
import { SeededRandom } from '../replication/prng.ts';
import { toBase64, type StreamMessage } from './messages.ts';
import { StreamNode } from './node.ts';
import { primaryChild } from './topology.ts';

export const CHUNK_BYTES = 32;
export const MAX_CHUNKS = 100_000;

export interface StreamPlan {
  chunks: number;
  intervalMs: number;
  /** Seeds the chunk bytes. */
  seed: number;
}

export class SourceNode extends StreamNode {
  /** The base64 data of every chunk sent, by seq. */
  readonly sent = new Map<number, string>();
  #planned = 0;

  /** True once every planned chunk went out. */
  get finished(): boolean {
    return this.sent.size === this.#planned;
  }

  /** Schedule the stream; chunk seq leaves at seq * intervalMs from now. */
  start(plan: StreamPlan): void {
    if (!Number.isInteger(plan.chunks) || plan.chunks < 1 || plan.chunks > MAX_CHUNKS) {
      throw new InputError(`chunks ${plan.chunks} must be 1..${MAX_CHUNKS}`);
    }
    if (!(Number.isFinite(plan.intervalMs) && plan.intervalMs > 0)) {
      throw new InputError(`intervalMs ${plan.intervalMs} must be a positive number of milliseconds`);
    }
    if (this.#planned > 0) throw new InputError(`the source ${this.name} already started its stream`);
    this.#planned = plan.chunks;
    const random = new SeededRandom(plan.seed);
    const clock = this.options.network.clock;
    for (let seq = 1; seq <= plan.chunks; seq++) {
      const data = toBase64(random.bytes(CHUNK_BYTES));
      clock.setTimer(seq * plan.intervalMs, () => this.serial.run(() => this.#sendChunk(seq, data)));
    }
  }

  async #sendChunk(seq: number, data: string): Promise<void> {
    this.sent.set(seq, data);
    await this.sendStream(primaryChild(this.topology, seq), { t: 'chunk', seq, data });
  }

  protected override async onStreamMessage(_peer: string, _message: StreamMessage | undefined): Promise<void> {}
}

/**
 * The record of one message the simulator carries: sizes, post and
 * completion time, Verify's verdict, and the latency split into the stages
 * of its critical path (the last packet).
 */

import type { VerifyStatus } from './attestation_unit.ts';

export type Stage = 'host' | 'dma' | 'kernel' | 'transport' | 'wire' | 'verify';
export const STAGES: readonly Stage[] = ['host', 'dma', 'kernel', 'transport', 'wire', 'verify'];

/**
 * One posted message. The network keeps it only until the receiver has it,
 * so callers that want it afterwards keep the object `post` returns or take
 * it in `onComplete`. The stage fields add up the critical path (the last
 * packet): each milestone closes an interval of its stage.
 */
export class MessageRecord {
  wireBytes = 0;
  completedAt: number | undefined = undefined;
  verify: VerifyStatus | undefined = undefined;
  /** The message the receiver's host got (only with `keepPayloads`). */
  received: Uint8Array | undefined = undefined;
  /** The next message posted on the same connection, while this one is in flight. */
  nextInFlight: MessageRecord | undefined = undefined;
  /** Time of the latest milestone, in ns, from which the next one is measured. */
  lastMarkAt: number;
  hostNs = 0;
  dmaNs = 0;
  kernelNs = 0;
  transportNs = 0;
  wireNs = 0;
  verifyNs = 0;

  constructor(
    readonly connection: number,
    /** Position of the message on its connection, from 0. */
    readonly index: number,
    readonly msgBytes: number,
    readonly postedAt: number,
  ) {
    this.lastMarkAt = postedAt;
  }

  /** Close an interval of `stage` at `time`. A time before the latest milestone is clamped, so no interval is negative. */
  mark(stage: Stage, time: number): void {
    const at = Math.max(time, this.lastMarkAt);
    const interval = at - this.lastMarkAt;
    this.lastMarkAt = at;
    switch (stage) {
      case 'host':
        this.hostNs += interval;
        break;
      case 'dma':
        this.dmaNs += interval;
        break;
      case 'kernel':
        this.kernelNs += interval;
        break;
      case 'transport':
        this.transportNs += interval;
        break;
      case 'wire':
        this.wireNs += interval;
        break;
      case 'verify':
        this.verifyNs += interval;
        break;
    }
  }
}

/** Latency split by stage, in ns; the stages add up to completedAt - postedAt, up to rounding. */
export function breakdown(record: MessageRecord): Record<Stage, number> {
  return {
    host: record.hostNs,
    dma: record.dmaNs,
    kernel: record.kernelNs,
    transport: record.transportNs,
    wire: record.wireNs,
    verify: record.verifyNs,
  };
}

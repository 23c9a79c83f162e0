/**
 * Reliable Connection transport of RoCE v2, one queue pair per direction of
 * a connection. The requester numbers packets with 24-bit PSNs and keeps
 * every unacknowledged packet. On a NAK (PSN sequence error) or a
 * retransmission timeout it goes back to the oldest unacknowledged packet
 * and sends everything from there again (go-back-N). The responder accepts only
 * the expected PSN, acknowledges cumulatively, acknowledges duplicates again,
 * and sends one NAK per gap.
 *
 * Invariant of the requester: `#packets[i]` has PSN `psnAt(#base + i)`;
 * packets before `#next` have been sent at least once.
 */

import type { EventQueue } from './event_queue.ts';
import { AETH_ACK, AETH_NAK, NAK_PSN_SEQUENCE_ERROR, OPCODE, type RocePacket } from './roce_codec.ts';

export const PSN_MODULUS = 1 << 24;

/** Distance from `from` to `to` going forward in PSN space, in [0, 2^24). */
export function psnDistance(from: number, to: number): number {
  return (to - from + PSN_MODULUS) % PSN_MODULUS;
}

/** A packet to send: the transport fills in the BTH PSN, AckReq and the addressing. */
export interface OutgoingPacket {
  opcode: number;
  payload: Uint8Array;
  reth?: RocePacket['reth'];
  /** AckReq: set on the last packet of each message by the caller. */
  ackReq: boolean;
  /** Earliest time the packet may leave (its bytes are ready), in ns. */
  readyAt: number;
}

/** A packet in the requester's window, with the fields `enqueue` sets. */
export interface QueuedPacket extends OutgoingPacket {
  psn: number;
  everSent: boolean;
}

export interface TransportCounters {
  packetsSent: number;
  retransmitted: number;
  timeouts: number;
  naksReceived: number;
  acksReceived: number;
}

export interface RequesterConfig {
  maxInflightPackets: number;
  retransmitTimeoutNs: number;
  ackEveryPackets: number;
  txPipelineNs: number;
}

/** Sends packets with their PSN through `transmit`, which encodes and queues a frame. */
export class Requester {
  readonly counters: TransportCounters = {
    packetsSent: 0,
    retransmitted: 0,
    timeouts: 0,
    naksReceived: 0,
    acksReceived: 0,
  };
  #packets: QueuedPacket[] = [];
  /** Global index of `#packets[0]`, the oldest unacknowledged packet. */
  #base = 0;
  /** Global index of the next packet to (re)send. */
  #next = 0;
  #timerGeneration = 0;
  #timerArmed = false;
  #wakeAt = Infinity;

  constructor(
    readonly queue: EventQueue,
    readonly config: RequesterConfig,
    readonly firstPsn: number,
    readonly transmit: (packet: QueuedPacket) => void,
    /** Called with the global packet index up to which (exclusive) everything is acknowledged. */
    readonly onAcked: (ackedThrough: number) => void = () => {},
  ) {}

  psnAt(index: number): number {
    return (this.firstPsn + index) % PSN_MODULUS;
  }

  /** Packets queued so far; the next one gets this global index. */
  get queued(): number {
    return this.#base + this.#packets.length;
  }

  get unacknowledged(): number {
    return this.#packets.length;
  }

  /** Queue `packet` and send what the window allows. The requester takes `packet` over and sets its QueuedPacket fields. */
  enqueue(packet: OutgoingPacket): number {
    const index = this.queued;
    const everyN = (index + 1) % this.config.ackEveryPackets === 0;
    const queued = packet as QueuedPacket;
    queued.ackReq = packet.ackReq || everyN;
    queued.psn = this.psnAt(index);
    queued.everSent = false;
    this.#packets.push(queued);
    this.#pump();
    return index;
  }

  /** Handle an ACK or NAK from the responder. */
  onAcknowledge(packet: RocePacket): void {
    const aeth = packet.aeth;
    if (aeth === undefined) return;
    const isNak = (aeth.syndrome & 0xe0) === AETH_NAK;
    if (isNak && (aeth.syndrome & 0x1f) === NAK_PSN_SEQUENCE_ERROR) {
      this.counters.naksReceived++;
      // The NAK carries the PSN the responder expects: everything before it arrived.
      this.#ackThrough(packet.bth.psn, false);
      this.#goBack();
      return;
    }
    if ((aeth.syndrome & 0xe0) === AETH_ACK) {
      this.counters.acksReceived++;
      this.#ackThrough(packet.bth.psn, true);
      this.#pump();
    }
  }

  /** Acknowledge up to `psn` (inclusive when `inclusive`); stale PSNs are ignored. */
  #ackThrough(psn: number, inclusive: boolean): void {
    const distance = psnDistance(this.psnAt(this.#base), psn) + (inclusive ? 1 : 0);
    const sentCount = this.#next - this.#base;
    if (distance === 0 || distance > sentCount) return;
    // shift() for the usual single packet, because splice allocates an array of what it removes.
    if (distance === 1) this.#packets.shift();
    else this.#packets.splice(0, distance);
    this.#base += distance;
    this.onAcked(this.#base);
    if (this.#packets.length === 0 || this.#next === this.#base) this.#stopTimer();
    else this.#armTimer();
  }

  #goBack(): void {
    if (this.#next > this.#base) this.#next = this.#base;
    this.#pump();
  }

  /** Send every ready packet the window allows; wake up when the next one becomes ready. */
  #pump(): void {
    const now = this.queue.now;
    while (this.#next - this.#base < this.#packets.length) {
      if (this.#next - this.#base >= this.config.maxInflightPackets) return;
      const p = this.#packets[this.#next - this.#base]!;
      if (p.readyAt > now) {
        this.#wakeUp(p.readyAt);
        return;
      }
      if (p.everSent) this.counters.retransmitted++;
      p.everSent = true;
      this.counters.packetsSent++;
      this.#next++;
      this.transmit(p);
      if (!this.#timerArmed) this.#armTimer();
    }
  }

  #wakeUp(at: number): void {
    if (at >= this.#wakeAt && this.#wakeAt > this.queue.now) return;
    this.#wakeAt = at;
    this.queue.call(at, Requester.#onWake, this, at);
  }

  /** Event handler of a wake-up scheduled for time `at`. */
  static #onWake(requester: Requester, at: number): void {
    if (requester.#wakeAt === at) requester.#wakeAt = Infinity;
    requester.#pump();
  }

  #armTimer(): void {
    const generation = ++this.#timerGeneration;
    this.#timerArmed = true;
    this.queue.callAfter(this.config.retransmitTimeoutNs, Requester.#onTimer, this, generation);
  }

  /** Event handler of the retransmission timer armed as `generation`; a timer re-armed or stopped since does nothing. */
  static #onTimer(requester: Requester, generation: number): void {
    if (generation !== requester.#timerGeneration) return;
    requester.#timerArmed = false;
    if (requester.#packets.length === 0) return;
    requester.counters.timeouts++;
    requester.#goBack();
  }

  #stopTimer(): void {
    this.#timerGeneration++;
    this.#timerArmed = false;
  }
}

export interface ResponderCounters {
  accepted: number;
  duplicates: number;
  outOfOrder: number;
  naksSent: number;
  acksSent: number;
}

/** Accepts packets in PSN order and sends ACKs and NAKs through `sendAck`. */
export class Responder {
  readonly counters: ResponderCounters = { accepted: 0, duplicates: 0, outOfOrder: 0, naksSent: 0, acksSent: 0 };
  #expectedPsn: number;
  #nakSent = false;
  /** Message sequence number: messages completed, modulo 2^24. */
  #msn = 0;

  constructor(
    firstPsn: number,
    /** Sends an ACKNOWLEDGE with this PSN and AETH syndrome. */
    readonly sendAck: (psn: number, syndrome: number, msn: number) => void,
    /** Called with every packet accepted in order. */
    readonly deliver: (packet: RocePacket) => void,
  ) {
    this.#expectedPsn = firstPsn;
  }

  onPacket(packet: RocePacket): void {
    const psn = packet.bth.psn;
    const ahead = psnDistance(this.#expectedPsn, psn);
    if (ahead === 0) {
      this.#expectedPsn = (psn + 1) % PSN_MODULUS;
      this.#nakSent = false;
      this.counters.accepted++;
      const op = packet.bth.opcode;
      if (op === OPCODE.RDMA_WRITE_LAST || op === OPCODE.RDMA_WRITE_ONLY || op === OPCODE.SEND_LAST || op === OPCODE.SEND_ONLY) {
        this.#msn = (this.#msn + 1) % PSN_MODULUS;
      }
      this.deliver(packet);
      if (packet.bth.ackReq) this.#ack(psn);
      return;
    }
    if (ahead >= PSN_MODULUS / 2) {
      // Behind the expected PSN: a duplicate. Acknowledge again so a requester that lost the ACK moves on.
      this.counters.duplicates++;
      this.#ack((this.#expectedPsn - 1 + PSN_MODULUS) % PSN_MODULUS);
      return;
    }
    this.counters.outOfOrder++;
    if (!this.#nakSent) {
      this.#nakSent = true;
      this.counters.naksSent++;
      this.sendAck(this.#expectedPsn, AETH_NAK | NAK_PSN_SEQUENCE_ERROR, this.#msn);
    }
  }

  #ack(psn: number): void {
    this.counters.acksSent++;
    // Credit count 0x1F: this responder does not use end-to-end credits.
    this.sendAck(psn, AETH_ACK | 0x1f, this.#msn);
  }
}

/**
 * Discrete-event simulation of TNIC nodes connected by point-to-point links.
 *
 * Transmit: host posts a request -> PCIe DMA reads the message -> the
 * attestation kernel (on the NIC, or on the host CPU for the TEE baselines)
 * -> RoCE v2 RC requester (segmentation at the path MTU, PSNs, go-back-N)
 * -> UDP/IPv4/Ethernet frames as bytes -> link. Receive: decode (malformed
 * frames are dropped and counted by reason) -> responder (PSN order,
 * ACK/NAK) -> Verify -> DMA to host memory -> completion found by poll.
 *
 * Every message adds up the time it spent in each stage on its critical
 * path (the last packet), so its latency splits into host, DMA, kernel,
 * transport, wire and verify. The network keeps a message only until the
 * receiver has it, so memory stays bounded by the messages in flight.
 */

import { Prng } from '../prng.ts';
import { AttestationUnit } from './attestation_unit.ts';
import { allocateBytes } from './byte_slab.ts';
import { EventQueue } from './event_queue.ts';
import { ATTESTATION_HEADER_BYTES, KernelTimeline, type Chunk } from './kernel_timing.ts';
import { Link, NO_FAULTS, type LinkFaults } from './link.ts';
import { MessageRecord } from './message_record.ts';
import type { PcapWriter } from './pcap.ts';
import type { Profile } from './profiles.ts';
import { Requester, Responder, type QueuedPacket } from './rc_transport.ts';
import { OPCODE, decodeRoce, encodeRoce, type BaseTransportHeader, type RocePacket } from './roce_codec.ts';

/** rdma: no attestation; send-only: Attest on transmit, no Verify; attest-verify: both. */
export type PathKind = 'rdma' | 'send-only' | 'attest-verify';
export const PATH_KINDS: readonly PathKind[] = ['rdma', 'send-only', 'attest-verify'];

export { MessageRecord, STAGES, breakdown, type Stage } from './message_record.ts';

export interface NetworkOptions {
  profile: Profile;
  seed: number;
  nodes: number;
  path: PathKind;
  faults?: LinkFaults;
  pcap?: PcapWriter;
  keepPayloads?: boolean;
  /**
   * Called once per message when the receiver has it and its completion
   * time is known. `record.completedAt` (when poll finds it) may lie after
   * the current virtual time; the call itself is not an event.
   */
  onComplete?: (record: MessageRecord) => void;
}

interface QueuePair {
  connection: Connection;
  role: 'requester' | 'responder';
}

/** Local QPNs start here; 0 and 1 are the special QPs of InfiniBand. */
const FIRST_QPN = 0x11;
const EMPTY = new Uint8Array(0);

interface NicNode {
  id: number;
  mac: Uint8Array;
  ip: number;
  attestation: AttestationUnit;
  txKernel: KernelTimeline;
  rxKernel: KernelTimeline;
  /** The host thread that posts requests: each post occupies it for hostPostNs. */
  hostFreeAt: number;
  dmaReadFreeAt: number;
  dmaWriteFreeAt: number;
  /** Queue pairs by local QPN - FIRST_QPN. */
  qps: QueuePair[];
}

/** Fixed header fields of one direction of a connection. */
interface Addressing {
  ethernet: RocePacket['ethernet'];
  ipv4: RocePacket['ipv4'];
  udpSrcPort: number;
  destQp: number;
}

/**
 * The packets of the message being received on a connection. The arrays
 * are reused from message to message: entries at `count` and beyond are stale.
 */
interface Assembly {
  active: boolean;
  count: number;
  parts: Array<Uint8Array | undefined>;
  bytes: number;
  /** Receive-pipeline exit time and end offset of every packet. */
  chunkTimes: number[];
  chunkEnds: number[];
}

export interface Connection {
  id: number;
  session: number;
  src: NicNode;
  dst: NicNode;
  srcQpn: number;
  dstQpn: number;
  requester: Requester;
  responder: Responder;
  /** Messages posted so far. */
  posted: number;
  /** Messages the receiver has finished so far, in posting order. */
  delivered: number;
  /** Posted messages not yet delivered: inFlight[inFlightHead] is the next one. */
  inFlight: MessageRecord[];
  inFlightHead: number;
  assembly: Assembly;
  forward: Addressing;
  reverse: Addressing;
  forwardLink: Link | undefined;
  reverseLink: Link | undefined;
  /** Link times of the data packet the responder is handling: its first bit sent, and its arrival. */
  packetSentAt: number;
  packetArrivedAt: number;
}

export interface NetworkCounters {
  malformed: Map<string, number>;
  verifyFailures: number;
}

const MAX_NODES = 4096;
/** Delivered records at the front of a connection's inFlight array before it is compacted. */
const COMPACT_AFTER = 256;

export class NicNetwork {
  readonly queue = new EventQueue();
  readonly nodes: NicNode[] = [];
  readonly connections: Connection[] = [];
  readonly counters: NetworkCounters = { malformed: new Map(), verifyFailures: 0 };
  readonly #links = new Map<number, Link>();
  readonly #prng: Prng;
  readonly #profile: Profile;

  constructor(readonly options: NetworkOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 2 || options.nodes > MAX_NODES) {
      throw new RangeError(`nodes ${options.nodes} is not an integer in 2..${MAX_NODES}`);
    }
    this.#prng = new Prng(options.seed);
    this.#profile = options.profile;
    for (let id = 0; id < options.nodes; id++) this.nodes.push(this.#makeNode(id));
  }

  /** Open a connection (a queue pair on each side and a shared session key) from `a` to `b`. */
  connect(a: number, b: number): Connection {
    const src = this.nodes[a];
    const dst = this.nodes[b];
    if (src === undefined || dst === undefined || a === b) {
      throw new RangeError(`cannot connect node ${a} to node ${b}: need two different nodes below ${this.nodes.length}`);
    }
    const id = this.connections.length;
    const session = id;
    const key = this.#prng.bytes(32);
    src.attestation.loadKey(session, key);
    dst.attestation.loadKey(session, key);
    const firstPsn = this.#prng.nextU32() & 0xffffff;
    const stack = this.#profile.stack;
    const srcQpn = FIRST_QPN + src.qps.length;
    const dstQpn = FIRST_QPN + dst.qps.length;

    const conn: Connection = {
      id,
      session,
      src,
      dst,
      srcQpn,
      dstQpn,
      requester: undefined as unknown as Requester,
      responder: undefined as unknown as Responder,
      posted: 0,
      delivered: 0,
      inFlight: [],
      inFlightHead: 0,
      assembly: { active: false, count: 0, parts: [], bytes: 0, chunkTimes: [], chunkEnds: [] },
      forward: addressing(src, dst, dstQpn),
      reverse: addressing(dst, src, srcQpn),
      forwardLink: undefined,
      reverseLink: undefined,
      packetSentAt: 0,
      packetArrivedAt: 0,
    };
    conn.requester = new Requester(this.queue, stack, firstPsn, (p) => this.#transmit(conn, p));
    conn.responder = new Responder(
      firstPsn,
      (psn, syndrome, msn) => this.#sendAck(conn, psn, syndrome, msn),
      (packet) => this.#onDelivered(conn, packet),
    );
    src.qps.push({ connection: conn, role: 'requester' });
    dst.qps.push({ connection: conn, role: 'responder' });
    this.connections.push(conn);
    return conn;
  }

  /** Post `msg` on `conn` at the current virtual time. */
  post(conn: Connection, msg: Uint8Array): MessageRecord {
    const now = this.queue.now;
    const { stack, kernel } = this.#profile;
    const path = this.options.path;
    const src = conn.src;

    const record = new MessageRecord(conn.id, conn.posted++, msg.length, now);
    conn.inFlight.push(record);

    const posted = Math.max(now, src.hostFreeAt) + stack.hostPostNs;
    src.hostFreeAt = posted;
    record.mark('host', posted);

    const attested = path === 'rdma' ? msg : src.attestation.attest(conn.session, msg);
    record.wireBytes = attested.length;
    const ends = segmentEnds(attested.length, stack.mtu);
    let emit: number[];

    if (path === 'rdma') {
      emit = this.#dmaRead(src, posted, ends, 0, attested.length);
      record.mark('dma', emit[emit.length - 1]!);
    } else if (kernel.location === 'host') {
      const hashed = msg.length + ATTESTATION_HEADER_BYTES;
      const attestedAt = src.txKernel.schedule(posted, hashed, [{ arrival: posted, hashedEnd: hashed }]).final;
      record.mark('kernel', attestedAt);
      emit = this.#dmaRead(src, attestedAt, ends, 0, attested.length);
      record.mark('dma', emit[emit.length - 1]!);
    } else {
      emit = this.#attestOnNic(src, record, posted, attested.length, msg.length, ends);
    }

    for (let k = 0; k < ends.length; k++) {
      const start = k === 0 ? 0 : ends[k - 1]!;
      const only = ends.length === 1;
      const opcode = only
        ? OPCODE.RDMA_WRITE_ONLY
        : k === 0
          ? OPCODE.RDMA_WRITE_FIRST
          : k === ends.length - 1
            ? OPCODE.RDMA_WRITE_LAST
            : OPCODE.RDMA_WRITE_MIDDLE;
      // The remote address is index x 64 KiB, exact while index x 2^16 stays below 2^53.
      const reth = k === 0 ? { va: BigInt(record.index * 0x10000), rkey: 0x1000 + conn.id, dmaLength: attested.length } : undefined;
      const packet: QueuedPacket = {
        opcode,
        payload: attested.subarray(start, ends[k]!),
        reth,
        ackReq: k === ends.length - 1,
        readyAt: Math.max(emit[k]!, now),
        psn: 0,
        everSent: false,
      };
      conn.requester.enqueue(packet);
    }
    return record;
  }

  /** Run until no events remain or virtual time passes `until` ns. */
  run(until = Infinity): number {
    return this.queue.run(until);
  }

  linkCounters(): { sent: number; lost: number; duplicated: number; reordered: number; corrupted: number } {
    const total = { sent: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0 };
    for (const link of this.#links.values()) {
      total.sent += link.counters.sent;
      total.lost += link.counters.lost;
      total.duplicated += link.counters.duplicated;
      total.reordered += link.counters.reordered;
      total.corrupted += link.counters.corrupted;
    }
    return total;
  }

  #makeNode(id: number): NicNode {
    const k = this.#profile.kernel;
    return {
      id,
      mac: new Uint8Array([0x02, 0x00, 0x00, 0x00, (id >> 8) & 0xff, id & 0xff]),
      ip: ((10 << 24) | (1 << 16) | (id + 1)) >>> 0,
      attestation: new AttestationUnit(k, id),
      txKernel: new KernelTimeline(k),
      rxKernel: new KernelTimeline(k),
      hostFreeAt: 0,
      dmaReadFreeAt: 0,
      dmaWriteFreeAt: 0,
      qps: [],
    };
  }

  /**
   * DMA read of `bytes` (placed at `offset` in the attested message) starting
   * no earlier than `from`; returns when each packet's share has arrived.
   */
  #dmaRead(node: NicNode, from: number, ends: number[], offset: number, bytes: number): number[] {
    const stack = this.#profile.stack;
    const start = Math.max(from, node.dmaReadFreeAt);
    node.dmaReadFreeAt = start + bytes / stack.dmaBytesPerNs;
    const arrivals = new Array<number>(ends.length);
    for (let i = 0; i < ends.length; i++) {
      const upTo = Math.min(Math.max(ends[i]! - offset, 0), bytes);
      arrivals[i] = start + stack.dmaReadLatencyNs + upTo / stack.dmaBytesPerNs;
    }
    return arrivals;
  }

  /** DMA the message into the NIC kernel, attest while it streams; returns packet ready times. */
  #attestOnNic(
    src: NicNode,
    record: MessageRecord,
    posted: number,
    attestedBytes: number,
    msgBytes: number,
    ends: number[],
  ): number[] {
    const k = this.#profile.kernel;
    const leading = k.tagPlacement === 'leading';
    const hashedOffset = leading ? k.tagFieldBytes : 0;
    const msgOffset = leading ? hashedOffset + ATTESTATION_HEADER_BYTES : 0;
    const hashed = msgBytes + ATTESTATION_HEADER_BYTES;

    const dmaArrival = this.#dmaRead(src, posted, ends, msgOffset, msgBytes);
    record.mark('dma', dmaArrival[0]!);
    const chunks = new Array<Chunk>(ends.length);
    for (let i = 0; i < ends.length; i++) {
      chunks[i] = { arrival: dmaArrival[i]!, hashedEnd: clamp(ends[i]! - hashedOffset, 0, hashed) };
    }
    const schedule = src.txKernel.schedule(posted, hashed, chunks);
    record.mark('kernel', schedule.final);

    // A leading tag keeps every packet back until the MAC is done, a trailing tag only the last one.
    const ready = new Array<number>(ends.length);
    for (let i = 0; i < ends.length; i++) {
      ready[i] = leading || i === ends.length - 1 ? schedule.final : Math.max(schedule.chunkDone[i]!, dmaArrival[i]!);
    }
    return ready;
  }

  #link(from: NicNode, to: NicNode): Link {
    const key = from.id * MAX_NODES + to.id;
    let link = this.#links.get(key);
    if (link === undefined) {
      const stack = this.#profile.stack;
      link = new Link(
        this.queue,
        new Prng((this.options.seed ^ Math.imul(key + 1, 0x9e3779b1)) >>> 0),
        stack.linkGbps,
        stack.propagationNs,
        this.options.faults ?? NO_FAULTS,
        (frame, sentAt) => this.#receiveFrame(to, frame, sentAt),
        this.options.pcap === undefined ? undefined : (t, f) => this.options.pcap!.add(t, f),
      );
      this.#links.set(key, link);
    }
    return link;
  }

  #transmit(conn: Connection, p: QueuedPacket): void {
    const frame = encodeRoce(fillOutgoing(conn.forward, p.opcode, p.psn, p.ackReq, p.reth, undefined, p.payload));
    conn.forwardLink ??= this.#link(conn.src, conn.dst);
    this.queue.callAfter(this.#profile.stack.txPipelineNs, sendFrame, conn.forwardLink, frame);
  }

  #sendAck(conn: Connection, psn: number, syndrome: number, msn: number): void {
    OUTGOING_AETH.syndrome = syndrome;
    OUTGOING_AETH.msn = msn;
    const frame = encodeRoce(fillOutgoing(conn.reverse, OPCODE.ACKNOWLEDGE, psn, false, undefined, OUTGOING_AETH, EMPTY));
    conn.reverseLink ??= this.#link(conn.dst, conn.src);
    this.queue.callAfter(this.#profile.stack.txPipelineNs, sendFrame, conn.reverseLink, frame);
  }

  #receiveFrame(node: NicNode, frame: Uint8Array, sentAt: number): void {
    const decoded = decodeRoce(frame);
    if (!decoded.ok) {
      // Count by the reason's first words so that values inside it do not split the counts.
      const kind = decoded.reason.split(' ').slice(0, 2).join(' ');
      this.counters.malformed.set(kind, (this.counters.malformed.get(kind) ?? 0) + 1);
      return;
    }
    const packet = decoded.packet;
    const qp = node.qps[packet.bth.destQp - FIRST_QPN];
    if (qp === undefined) {
      this.counters.malformed.set('unknown QP', (this.counters.malformed.get('unknown QP') ?? 0) + 1);
      return;
    }
    this.queue.callAfter(this.#profile.stack.rxPipelineNs, receivePacket, qp, packet, sentAt, this.queue.now);
  }

  /** An in-order data packet at the responder: assemble, and finish the message on its last packet. */
  #onDelivered(conn: Connection, packet: RocePacket): void {
    const now = this.queue.now;
    const stack = this.#profile.stack;
    const dst = conn.dst;
    const asm = conn.assembly;
    if (packet.reth !== undefined || !asm.active) {
      asm.active = true;
      asm.count = 0;
      asm.bytes = 0;
    }
    asm.parts[asm.count] = packet.payload;
    asm.bytes += packet.payload.length;
    asm.chunkTimes[asm.count] = now;
    asm.chunkEnds[asm.count] = asm.bytes;
    asm.count++;

    const op = packet.bth.opcode;
    const last = op === OPCODE.RDMA_WRITE_LAST || op === OPCODE.RDMA_WRITE_ONLY;
    const verifyOnNic = this.options.path === 'attest-verify' && this.#profile.kernel.location === 'nic';
    if (!last || !verifyOnNic) {
      // Packets that need no verdict first go to host memory as they arrive.
      dst.dmaWriteFreeAt = Math.max(now, dst.dmaWriteFreeAt) + packet.payload.length / stack.dmaBytesPerNs;
    }
    if (!last) return;

    asm.active = false;
    const record = conn.inFlight[conn.inFlightHead];
    if (record === undefined) throw new Error(`connection ${conn.id} delivered a message that was never posted`);
    releaseHead(conn);
    record.mark('transport', conn.packetSentAt);
    record.mark('wire', conn.packetArrivedAt);
    record.mark('transport', now);
    this.#finishMessage(conn, record, asm, packet.payload.length);
    // Drop the payload views, which would keep their frames' buffers alive.
    for (let i = 0; i < asm.count; i++) asm.parts[i] = undefined;
  }

  #finishMessage(conn: Connection, record: MessageRecord, asm: Assembly, lastBytes: number): void {
    const { stack, kernel } = this.#profile;
    const path = this.options.path;
    const dst = conn.dst;
    const hashed = record.msgBytes + ATTESTATION_HEADER_BYTES;
    let ready: number;

    if (path !== 'attest-verify') {
      ready = dst.dmaWriteFreeAt + stack.dmaWriteLatencyNs;
      record.mark('dma', ready);
    } else if (kernel.location === 'nic') {
      const hashedOffset = kernel.tagPlacement === 'leading' ? kernel.tagFieldBytes : 0;
      const chunks = new Array<Chunk>(asm.count);
      for (let i = 0; i < chunks.length; i++) {
        chunks[i] = { arrival: asm.chunkTimes[i]!, hashedEnd: clamp(asm.chunkEnds[i]! - hashedOffset, 0, hashed) };
      }
      const verified = dst.rxKernel.schedule(asm.chunkTimes[0]!, hashed, chunks).final;
      record.mark('verify', verified);
      const written = Math.max(verified, dst.dmaWriteFreeAt) + lastBytes / stack.dmaBytesPerNs;
      dst.dmaWriteFreeAt = written;
      ready = written + stack.dmaWriteLatencyNs;
      record.mark('dma', ready);
    } else {
      const inMemory = dst.dmaWriteFreeAt + stack.dmaWriteLatencyNs;
      record.mark('dma', inMemory);
      ready = dst.rxKernel.schedule(inMemory, hashed, [{ arrival: inMemory, hashedEnd: hashed }]).final;
      record.mark('verify', ready);
    }

    // The bytes are joined only when something reads them: Verify, or a caller keeping payloads.
    const keep = this.options.keepPayloads === true;
    if (path === 'attest-verify' || keep) {
      const attested = concat(asm.parts, asm.count, asm.bytes);
      if (path === 'attest-verify') {
        const status = dst.attestation.verifyStatus(conn.session, attested);
        record.verify = status;
        if (status !== 'ok') this.counters.verifyFailures++;
      }
      if (keep) record.received = path === 'rdma' ? attested.slice() : dst.attestation.messageOf(attested);
    }

    // NOTE: pollNs is latency only; completions do not occupy the host thread, posts do.
    const polled = ready + stack.pollNs;
    record.mark('host', polled);
    record.completedAt = polled;
    this.options.onComplete?.(record);
  }
}

/** Event handler: the transmit pipeline hands `frame` to the link. */
function sendFrame(link: Link, frame: Uint8Array): void {
  link.send(frame);
}

/** Event handler: a packet leaves the receive pipeline towards its queue pair. */
function receivePacket(qp: QueuePair, packet: RocePacket, sentAt: number, arrivedAt: number): void {
  const conn = qp.connection;
  if (qp.role === 'requester') {
    conn.requester.onAcknowledge(packet);
    return;
  }
  conn.packetSentAt = sentAt;
  conn.packetArrivedAt = arrivedAt;
  conn.responder.onPacket(packet);
}

function addressing(from: NicNode, to: NicNode, destQp: number): Addressing {
  return {
    ethernet: { dst: to.mac, src: from.mac },
    ipv4: { src: from.ip, dst: to.ip, id: 0, ttl: 64, dscp: 26, ecn: 2 },
    udpSrcPort: 0xc000 | (destQp & 0x3fff),
    destQp,
  };
}

/**
 * Packet handed to encodeRoce by #transmit and #sendAck. encodeRoce copies every field into
 * the frame and keeps no reference, so one object, refilled per frame, saves the allocations.
 */
const OUTGOING_BTH: BaseTransportHeader = {
  solicited: false,
  migReq: true,
  pKey: 0xffff,
  fecn: false,
  becn: false,
  destQp: 0,
  opcode: 0,
  psn: 0,
  ackReq: false,
};
const OUTGOING_AETH = { syndrome: 0, msn: 0 };
const OUTGOING: RocePacket = {
  ethernet: { dst: new Uint8Array(6), src: new Uint8Array(6) },
  ipv4: { src: 0, dst: 0, id: 0, ttl: 0, dscp: 0, ecn: 0 },
  udpSrcPort: 0,
  bth: OUTGOING_BTH,
  reth: undefined,
  aeth: undefined,
  immediate: undefined,
  payload: EMPTY,
};

/** Refill OUTGOING for a packet from the node of `a` and return it. */
function fillOutgoing(
  a: Addressing,
  opcode: number,
  psn: number,
  ackReq: boolean,
  reth: RocePacket['reth'],
  aeth: RocePacket['aeth'],
  payload: Uint8Array,
): RocePacket {
  const packet = OUTGOING;
  packet.ethernet = a.ethernet;
  packet.ipv4 = a.ipv4;
  packet.udpSrcPort = a.udpSrcPort;
  OUTGOING_BTH.destQp = a.destQp;
  OUTGOING_BTH.opcode = opcode;
  OUTGOING_BTH.psn = psn;
  OUTGOING_BTH.ackReq = ackReq;
  packet.reth = reth;
  packet.aeth = aeth;
  packet.payload = payload;
  return packet;
}

/** Drop the delivered head of `conn.inFlight`, compacting the array now and then. */
function releaseHead(conn: Connection): void {
  conn.inFlight[conn.inFlightHead] = undefined as unknown as MessageRecord;
  conn.inFlightHead++;
  conn.delivered++;
  if (conn.inFlightHead >= COMPACT_AFTER && conn.inFlightHead * 2 >= conn.inFlight.length) {
    conn.inFlight.splice(0, conn.inFlightHead);
    conn.inFlightHead = 0;
  }
}

/** End offset of each packet when `bytes` are split at the path MTU (one empty packet for 0 bytes). */
export function segmentEnds(bytes: number, mtu: number): number[] {
  const ends: number[] = [];
  for (let end = Math.min(mtu, bytes); ; end = Math.min(end + mtu, bytes)) {
    ends.push(end);
    if (end >= bytes) return ends;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/** Join parts[0, count), which hold `bytes` in total. */
function concat(parts: Array<Uint8Array | undefined>, count: number, bytes: number): Uint8Array {
  if (count === 1) return parts[0]!;
  const out = allocateBytes(bytes);
  let at = 0;
  for (let i = 0; i < count; i++) {
    out.set(parts[i]!, at);
    at += parts[i]!.length;
  }
  return out;
}

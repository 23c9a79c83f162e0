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
import { ATTESTATION_HEADER_BYTES, KernelTimeline } from './kernel_timing.ts';
import { Link, NO_FAULTS, type LinkFaults } from './link.ts';
import { MessageRecord } from './message_record.ts';
import type { PcapWriter } from './pcap.ts';
import type { Profile } from './profiles.ts';
import { Requester, Responder, type QueuedPacket } from './rc_transport.ts';
import {
  OPCODE,
  checkRoceFrame,
  encodeRoce,
  readRoceFields,
  roceDestQp,
  type BaseTransportHeader,
  type RoceFields,
  type RocePacket,
} from './roce_codec.ts';

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
  /**
   * Connections by local QPN - FIRST_QPN. The QP is the connection's
   * responder when the connection's dst is this node, else its requester.
   */
  qps: Connection[];
}

/**
 * The packets of the message being received on a connection. The arrays
 * are reused from message to message: entries at `count` and beyond are stale.
 */
interface Assembly {
  count: number;
  /** Payload views of the packets, except in SINGLE_PACKET, which keeps `frame` and `frameStart` instead. */
  parts: Array<Uint8Array | undefined>;
  /** Frame of a single-packet message and the offset of its payload, which is read in place. */
  frame: Uint8Array;
  frameStart: number;
  bytes: number;
  /** Receive-pipeline exit time and end offset of every packet. */
  chunkTimes: number[];
  chunkEnds: number[];
}

export interface Connection {
  id: number;
  session: number;
  /** Slots of the session's key in the attestation units of src and dst. */
  srcSlot: number;
  dstSlot: number;
  src: NicNode;
  dst: NicNode;
  srcQpn: number;
  dstQpn: number;
  requester: Requester<Connection>;
  responder: Responder<Connection>;
  /** Messages posted so far. */
  posted: number;
  /** Messages the receiver has finished so far, in posting order. */
  delivered: number;
  /** Posted messages not yet delivered, oldest first: a new array on every read. */
  readonly inFlight: MessageRecord[];
  /** Index of the next message to deliver in `inFlight`, which is always 0. */
  readonly inFlightHead: number;
  /**
   * Oldest and newest message posted and not yet delivered. The records between them are
   * linked through `nextInFlight`, so posting and delivering touch no array of the connection.
   */
  firstInFlight: MessageRecord | undefined;
  lastInFlight: MessageRecord | undefined;
  /** A multi-packet message is being received, and its first packets are in `assembly`. */
  assembling: boolean;
  assembly: Assembly;
  forwardLink: Link<NicNode> | undefined;
  reverseLink: Link<NicNode> | undefined;
}

/**
 * Connection as NicNetwork creates it. A class, rather than an object literal, gives every
 * connection one shape with its fields inside the object and `inFlight` as a getter on the
 * prototype.
 */
class ConnectionState implements Connection {
  requester: Requester<Connection> = undefined as unknown as Requester<Connection>;
  responder: Responder<Connection> = undefined as unknown as Responder<Connection>;
  posted = 0;
  delivered = 0;
  readonly inFlightHead = 0;
  firstInFlight: MessageRecord | undefined = undefined;
  lastInFlight: MessageRecord | undefined = undefined;
  assembling = false;
  readonly assembly = newAssembly();
  forwardLink: Link<NicNode> | undefined = undefined;
  reverseLink: Link<NicNode> | undefined = undefined;

  constructor(
    readonly id: number,
    readonly session: number,
    readonly srcSlot: number,
    readonly dstSlot: number,
    readonly src: NicNode,
    readonly dst: NicNode,
    readonly srcQpn: number,
    readonly dstQpn: number,
  ) {}

  get inFlight(): MessageRecord[] {
    const records: MessageRecord[] = [];
    for (let r = this.firstInFlight; r !== undefined; r = r.nextInFlight) records.push(r);
    return records;
  }
}

export interface NetworkCounters {
  malformed: Map<string, number>;
  verifyFailures: number;
}

const MAX_NODES = 4096;

export class NicNetwork {
  readonly queue = new EventQueue();
  readonly nodes: NicNode[] = [];
  readonly connections: Connection[] = [];
  readonly counters: NetworkCounters = { malformed: new Map(), verifyFailures: 0 };
  readonly #links = new Map<number, Link<NicNode>>();
  readonly #prng: Prng;
  readonly #profile: Profile;
  // Callbacks shared by every connection and link, which pass their own context.
  readonly #transmitPacket = (conn: Connection, p: QueuedPacket): void => this.#transmit(conn, p);
  readonly #sendAckPacket = (conn: Connection, psn: number, syndrome: number, msn: number): void =>
    this.#sendAck(conn, psn, syndrome, msn);
  readonly #deliverPacket = (conn: Connection, packet: RoceFields): void => this.#onDelivered(conn, packet);
  readonly #receiveFrameAt = (node: NicNode, frame: Uint8Array, sentAt: number): void => this.#receiveFrame(node, frame, sentAt);

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
    const srcSlot = src.attestation.loadKey(session, key);
    const dstSlot = dst.attestation.loadKey(session, key);
    const firstPsn = this.#prng.nextU32() & 0xffffff;
    const stack = this.#profile.stack;
    const srcQpn = FIRST_QPN + src.qps.length;
    const dstQpn = FIRST_QPN + dst.qps.length;

    const conn: Connection = new ConnectionState(id, session, srcSlot, dstSlot, src, dst, srcQpn, dstQpn);
    conn.requester = new Requester(this.queue, stack, firstPsn, this.#transmitPacket, conn);
    conn.responder = new Responder(firstPsn, this.#sendAckPacket, this.#deliverPacket, conn);
    src.qps.push(conn);
    dst.qps.push(conn);
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
    if (conn.lastInFlight === undefined) conn.firstInFlight = record;
    else conn.lastInFlight.nextInFlight = record;
    conn.lastInFlight = record;

    const posted = Math.max(now, src.hostFreeAt) + stack.hostPostNs;
    src.hostFreeAt = posted;
    record.mark('host', posted);

    const attested = path === 'rdma' ? msg : src.attestation.attestSlot(conn.srcSlot, conn.session, msg);
    record.wireBytes = attested.length;
    // `ends` and `emit` are scratch arrays (see SCRATCH_ENDS), valid for the first `count` entries.
    const ends = SCRATCH_ENDS;
    const count = fillSegmentEnds(attested.length, stack.mtu, ends);
    const emit = SCRATCH_READY;

    if (path === 'rdma') {
      this.#dmaRead(src, posted, ends, count, 0, attested.length, emit);
      record.mark('dma', emit[count - 1]!);
    } else if (kernel.location === 'host') {
      const hashed = msg.length + ATTESTATION_HEADER_BYTES;
      const attestedAt = src.txKernel.schedule(posted, hashed, [{ arrival: posted, hashedEnd: hashed }]).final;
      record.mark('kernel', attestedAt);
      this.#dmaRead(src, attestedAt, ends, count, 0, attested.length, emit);
      record.mark('dma', emit[count - 1]!);
    } else {
      this.#attestOnNic(src, record, posted, msg.length, ends, count, emit);
    }

    for (let k = 0; k < count; k++) {
      const start = k === 0 ? 0 : ends[k - 1]!;
      const only = count === 1;
      const opcode = only
        ? OPCODE.RDMA_WRITE_ONLY
        : k === 0
          ? OPCODE.RDMA_WRITE_FIRST
          : k === count - 1
            ? OPCODE.RDMA_WRITE_LAST
            : OPCODE.RDMA_WRITE_MIDDLE;
      // The remote address is index x 64 KiB, exact while index x 2^16 stays below 2^53.
      const reth = k === 0 ? { va: BigInt(record.index * 0x10000), rkey: 0x1000 + conn.id, dmaLength: attested.length } : undefined;
      const packet: QueuedPacket = {
        opcode,
        payload: only ? attested : attested.subarray(start, ends[k]!),
        reth,
        ackReq: k === count - 1,
        readyAt: Math.max(emit[k]!, now),
        psn: 0,
        everSent: false,
        nextQueued: undefined,
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
      const counters = link.counters;
      total.sent += counters.sent;
      total.lost += counters.lost;
      total.duplicated += counters.duplicated;
      total.reordered += counters.reordered;
      total.corrupted += counters.corrupted;
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
   * no earlier than `from`. Writes when each of the `count` packets' share
   * has arrived into arrivals[0, count).
   */
  #dmaRead(node: NicNode, from: number, ends: number[], count: number, offset: number, bytes: number, arrivals: number[]): void {
    const stack = this.#profile.stack;
    const start = Math.max(from, node.dmaReadFreeAt);
    node.dmaReadFreeAt = start + bytes / stack.dmaBytesPerNs;
    for (let i = 0; i < count; i++) {
      const upTo = Math.min(Math.max(ends[i]! - offset, 0), bytes);
      arrivals[i] = start + stack.dmaReadLatencyNs + upTo / stack.dmaBytesPerNs;
    }
  }

  /** DMA the message into the NIC kernel and attest it while it streams. Writes packet ready times into ready[0, count). */
  #attestOnNic(
    src: NicNode,
    record: MessageRecord,
    posted: number,
    msgBytes: number,
    ends: number[],
    count: number,
    ready: number[],
  ): void {
    const k = this.#profile.kernel;
    const leading = k.tagPlacement === 'leading';
    const hashedOffset = leading ? k.tagFieldBytes : 0;
    const msgOffset = leading ? hashedOffset + ATTESTATION_HEADER_BYTES : 0;
    const hashed = msgBytes + ATTESTATION_HEADER_BYTES;

    const dmaArrival = SCRATCH_ARRIVALS;
    this.#dmaRead(src, posted, ends, count, msgOffset, msgBytes, dmaArrival);
    record.mark('dma', dmaArrival[0]!);
    const hashedEnds = SCRATCH_HASHED_ENDS;
    for (let i = 0; i < count; i++) hashedEnds[i] = clamp(ends[i]! - hashedOffset, 0, hashed);
    const chunkDone = SCRATCH_CHUNK_DONE;
    const final = src.txKernel.scheduleChunks(posted, hashed, dmaArrival, hashedEnds, count, chunkDone);
    record.mark('kernel', final);

    // A leading tag keeps every packet back until the MAC is done, a trailing tag only the last one.
    for (let i = 0; i < count; i++) {
      ready[i] = leading || i === count - 1 ? final : Math.max(chunkDone[i]!, dmaArrival[i]!);
    }
  }

  #link(from: NicNode, to: NicNode): Link<NicNode> {
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
        this.#receiveFrameAt,
        to,
        this.options.pcap === undefined ? undefined : (t, f) => this.options.pcap!.add(t, f),
      );
      this.#links.set(key, link);
    }
    return link;
  }

  #transmit(conn: Connection, p: QueuedPacket): void {
    const packet = fillOutgoing(conn.src, conn.dst, conn.dstQpn, p.opcode, p.psn, p.ackReq, p.reth, undefined, p.payload);
    const frame = encodeRoce(packet);
    conn.forwardLink ??= this.#link(conn.src, conn.dst);
    this.queue.callAfter(this.#profile.stack.txPipelineNs, sendFrame, conn.forwardLink, frame);
  }

  #sendAck(conn: Connection, psn: number, syndrome: number, msn: number): void {
    OUTGOING_AETH.syndrome = syndrome;
    OUTGOING_AETH.msn = msn;
    const packet = fillOutgoing(conn.dst, conn.src, conn.srcQpn, OPCODE.ACKNOWLEDGE, psn, false, undefined, OUTGOING_AETH, EMPTY);
    const frame = encodeRoce(packet);
    conn.reverseLink ??= this.#link(conn.dst, conn.src);
    this.queue.callAfter(this.#profile.stack.txPipelineNs, sendFrame, conn.reverseLink, frame);
  }

  /**
   * Check an arriving frame now, and hand it to its queue pair when it
   * leaves the receive pipeline. The frame is read again then, because
   * frames are never changed after encodeRoce (the link corrupts a copy).
   */
  #receiveFrame(node: NicNode, frame: Uint8Array, sentAt: number): void {
    const reason = checkRoceFrame(frame);
    if (reason !== undefined) {
      // Count by the reason's first words so that values inside it do not split the counts.
      const kind = reason.split(' ').slice(0, 2).join(' ');
      this.counters.malformed.set(kind, (this.counters.malformed.get(kind) ?? 0) + 1);
      return;
    }
    const conn = node.qps[roceDestQp(frame) - FIRST_QPN];
    if (conn === undefined) {
      this.counters.malformed.set('unknown QP', (this.counters.malformed.get('unknown QP') ?? 0) + 1);
      return;
    }
    const handler = conn.dst === node ? receiveAtResponder : receiveAtRequester;
    this.queue.callAfter(this.#profile.stack.rxPipelineNs, handler, conn, frame, sentAt, this.queue.now);
  }

  /** An in-order data packet at the responder: assemble, and finish the message on its last packet. */
  #onDelivered(conn: Connection, packet: RoceFields): void {
    const now = this.queue.now;
    const stack = this.#profile.stack;
    const dst = conn.dst;
    const op = packet.opcode;
    const last = op === OPCODE.RDMA_WRITE_LAST || op === OPCODE.RDMA_WRITE_ONLY;
    // A single-packet message goes through one shared Assembly, so that the
    // connection's own arrays, which are rarely in the cache, stay untouched.
    const asm = packet.hasReth && last ? SINGLE_PACKET : conn.assembly;
    if (packet.hasReth || !conn.assembling) {
      conn.assembling = true;
      asm.count = 0;
      asm.bytes = 0;
    }
    const payloadBytes = packet.payloadEnd - packet.payloadStart;
    if (asm === SINGLE_PACKET) {
      asm.frame = packet.frame;
      asm.frameStart = packet.payloadStart;
    } else {
      asm.parts[asm.count] = packet.frame.subarray(packet.payloadStart, packet.payloadEnd);
    }
    asm.bytes += payloadBytes;
    asm.chunkTimes[asm.count] = now;
    asm.chunkEnds[asm.count] = asm.bytes;
    asm.count++;

    const verifyOnNic = this.options.path === 'attest-verify' && this.#profile.kernel.location === 'nic';
    if (!last || !verifyOnNic) {
      // Packets that need no verdict first go to host memory as they arrive.
      dst.dmaWriteFreeAt = Math.max(now, dst.dmaWriteFreeAt) + payloadBytes / stack.dmaBytesPerNs;
    }
    if (!last) return;

    conn.assembling = false;
    const record = conn.firstInFlight;
    if (record === undefined) throw new Error(`connection ${conn.id} delivered a message that was never posted`);
    releaseHead(conn);
    record.mark('transport', RECEIVED_LINK_TIMES[0]!);
    record.mark('wire', RECEIVED_LINK_TIMES[1]!);
    record.mark('transport', now);
    this.#finishMessage(conn, record, asm, payloadBytes);
    // Drop the frame and the payload views, which would keep their frames' buffers alive.
    asm.frame = EMPTY;
    for (let i = 0; i < asm.count; i++) asm.parts[i] = undefined;
    // Last, because the callback may run the event queue, which may assemble the
    // connection's next message in `asm`.
    this.options.onComplete?.(record);
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
      const hashedEnds = SCRATCH_HASHED_ENDS;
      for (let i = 0; i < asm.count; i++) hashedEnds[i] = clamp(asm.chunkEnds[i]! - hashedOffset, 0, hashed);
      const firstArrival = asm.chunkTimes[0]!;
      const verified = dst.rxKernel.scheduleChunks(firstArrival, hashed, asm.chunkTimes, hashedEnds, asm.count, SCRATCH_CHUNK_DONE);
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
      // A single-packet message is read in place in its frame, at bytes[start, start + asm.bytes).
      const single = asm === SINGLE_PACKET;
      const bytes = single ? asm.frame : concat(asm.parts, asm.count, asm.bytes);
      const start = single ? asm.frameStart : 0;
      if (path === 'attest-verify') {
        const status = dst.attestation.verifyStatusSlot(conn.dstSlot, conn.session, bytes, start, asm.bytes);
        record.verify = status;
        if (status !== 'ok') this.counters.verifyFailures++;
      }
      if (keep) {
        const attested = bytes.subarray(start, start + asm.bytes);
        record.received = path === 'rdma' ? attested.slice() : dst.attestation.messageOf(attested);
      }
    }

    // NOTE: pollNs is latency only; completions do not occupy the host thread, posts do.
    const polled = ready + stack.pollNs;
    record.mark('host', polled);
    record.completedAt = polled;
  }
}

function newAssembly(): Assembly {
  return { count: 0, parts: [], frame: EMPTY, frameStart: 0, bytes: 0, chunkTimes: [], chunkEnds: [] };
}

/**
 * Assembly of single-packet messages, shared by all connections. #onDelivered
 * is done with it before it calls onComplete, which may run an event queue.
 */
const SINGLE_PACKET = newAssembly();

/** Event handler: the transmit pipeline hands `frame` to the link. */
function sendFrame(link: Link<NicNode>, frame: Uint8Array): void {
  link.send(frame);
}

/**
 * Fields of the frame being handled by receiveAtRequester or
 * receiveAtResponder; one object serves every received frame. The handlers
 * nest only when an onComplete callback runs an event queue, so every field
 * is read before the responder delivers a message, and the requester calls
 * nothing that completes one.
 */
const RECEIVED: RoceFields = {
  frame: EMPTY,
  opcode: 0,
  psn: 0,
  ackReq: false,
  hasReth: false,
  syndrome: -1,
  payloadStart: 0,
  payloadEnd: 0,
};

/**
 * Link times of the data packet receiveAtResponder is handling: when its first bit was sent,
 * and when it arrived. They sit here rather than on the connection because a changing
 * non-integer field is a separate heap box in V8, and the connection's is rarely in the cache.
 */
const RECEIVED_LINK_TIMES = new Float64Array(2);

/** Event handler: a frame that checkRoceFrame accepted leaves the receive pipeline towards the requester QP of `conn`. */
function receiveAtRequester(conn: Connection, frame: Uint8Array): void {
  readRoceFields(frame, RECEIVED);
  conn.requester.onAcknowledge(RECEIVED);
  RECEIVED.frame = EMPTY;
}

/** Event handler: a frame that checkRoceFrame accepted leaves the receive pipeline towards the responder QP of `conn`. */
function receiveAtResponder(conn: Connection, frame: Uint8Array, sentAt: number, arrivedAt: number): void {
  RECEIVED_LINK_TIMES[0] = sentAt;
  RECEIVED_LINK_TIMES[1] = arrivedAt;
  readRoceFields(frame, RECEIVED);
  conn.responder.onPacket(RECEIVED);
  RECEIVED.frame = EMPTY;
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
const OUTGOING_ETHERNET: RocePacket['ethernet'] = { dst: EMPTY, src: EMPTY };
/** Every frame has IPv4 id 0, TTL 64, and DSCP 26 with ECN 2 (ECN-capable transport). */
const OUTGOING_IPV4 = { src: 0, dst: 0, id: 0, ttl: 64, dscp: 26, ecn: 2 };
const OUTGOING: RocePacket = {
  ethernet: OUTGOING_ETHERNET,
  ipv4: OUTGOING_IPV4,
  udpSrcPort: 0,
  bth: OUTGOING_BTH,
  reth: undefined,
  aeth: undefined,
  immediate: undefined,
  payload: EMPTY,
};

/** Refill OUTGOING for a packet from `from` to QP `destQp` on `to` and return it. */
function fillOutgoing(
  from: NicNode,
  to: NicNode,
  destQp: number,
  opcode: number,
  psn: number,
  ackReq: boolean,
  reth: RocePacket['reth'],
  aeth: RocePacket['aeth'],
  payload: Uint8Array,
): RocePacket {
  const packet = OUTGOING;
  OUTGOING_ETHERNET.dst = to.mac;
  OUTGOING_ETHERNET.src = from.mac;
  OUTGOING_IPV4.src = from.ip;
  OUTGOING_IPV4.dst = to.ip;
  // RoCE v2 uses the UDP source port as flow entropy; this one is derived from the destination QP.
  packet.udpSrcPort = 0xc000 | (destQp & 0x3fff);
  OUTGOING_BTH.destQp = destQp;
  OUTGOING_BTH.opcode = opcode;
  OUTGOING_BTH.psn = psn;
  OUTGOING_BTH.ackReq = ackReq;
  packet.reth = reth;
  packet.aeth = aeth;
  packet.payload = payload;
  return packet;
}

/** Drop the delivered head of the connection's messages in flight. */
function releaseHead(conn: Connection): void {
  const record = conn.firstInFlight!;
  conn.firstInFlight = record.nextInFlight;
  if (conn.firstInFlight === undefined) conn.lastInFlight = undefined;
  // Unlink, so that a record kept by a caller does not keep later ones alive.
  record.nextInFlight = undefined;
  conn.delivered++;
}

/** End offset of each packet when `bytes` are split at the path MTU (one empty packet for 0 bytes). */
export function segmentEnds(bytes: number, mtu: number): number[] {
  const ends: number[] = [];
  fillSegmentEnds(bytes, mtu, ends);
  return ends;
}

/** Write segmentEnds(bytes, mtu) into ends[0, count) and return the count. */
function fillSegmentEnds(bytes: number, mtu: number, ends: number[]): number {
  let count = 0;
  for (let end = Math.min(mtu, bytes); ; end = Math.min(end + mtu, bytes)) {
    ends[count++] = end;
    if (end >= bytes) return count;
  }
}

/**
 * Scratch arrays of `post` and `#finishMessage`: packet end offsets, ready
 * times, DMA arrivals, hashed chunk ends and the kernel's chunk completion
 * times. Only the first entries of a call are valid. Each call is done with
 * them before it calls onComplete, the only way back into `post`.
 */
const SCRATCH_ENDS: number[] = [];
const SCRATCH_READY: number[] = [];
const SCRATCH_ARRIVALS: number[] = [];
const SCRATCH_HASHED_ENDS: number[] = [];
const SCRATCH_CHUNK_DONE: number[] = [];

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

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
 * Every message keeps the times it passed each stage on its critical path
 * (the last packet), so its latency splits into host, DMA, kernel,
 * transport, wire and verify.
 */

import { Prng } from '../prng.ts';
import { AttestationUnit, type VerifyStatus } from './attestation_unit.ts';
import { EventQueue } from './event_queue.ts';
import { ATTESTATION_HEADER_BYTES, KernelTimeline, type Chunk } from './kernel_timing.ts';
import { Link, NO_FAULTS, type LinkFaults } from './link.ts';
import type { PcapWriter } from './pcap.ts';
import type { Profile } from './profiles.ts';
import { Requester, Responder, type OutgoingPacket } from './rc_transport.ts';
import { OPCODE, decodeRoce, encodeRoce, type RocePacket } from './roce_codec.ts';

/** rdma: no attestation; send-only: Attest on transmit, no Verify; attest-verify: both. */
export type PathKind = 'rdma' | 'send-only' | 'attest-verify';
export const PATH_KINDS: readonly PathKind[] = ['rdma', 'send-only', 'attest-verify'];

export type Stage = 'host' | 'dma' | 'kernel' | 'transport' | 'wire' | 'verify';
export const STAGES: readonly Stage[] = ['host', 'dma', 'kernel', 'transport', 'wire', 'verify'];

export interface MessageRecord {
  connection: number;
  /** Position of the message on its connection, from 0. */
  index: number;
  msgBytes: number;
  wireBytes: number;
  postedAt: number;
  /** Critical-path milestones in time order; each closes an interval of its stage. */
  marks: Array<{ stage: Stage; time: number }>;
  completedAt?: number;
  verify?: VerifyStatus;
  /** The message the receiver's host got (only with `keepPayloads`). */
  received?: Uint8Array;
}

export interface NetworkOptions {
  profile: Profile;
  seed: number;
  nodes: number;
  path: PathKind;
  faults?: LinkFaults;
  pcap?: PcapWriter;
  keepPayloads?: boolean;
  onComplete?: (record: MessageRecord) => void;
}

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
  /** Queue pairs by local QPN. */
  qps: Map<number, { connection: Connection; role: 'requester' | 'responder' }>;
  nextQpn: number;
}

interface Assembly {
  parts: Uint8Array[];
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
  records: MessageRecord[];
  delivered: number;
  assembly?: Assembly;
  /** Link time of the packet being handled by the responder (first bit sent, arrival). */
  current: { sentAt: number; arrivedAt: number };
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

    const conn: Connection = {
      id,
      session,
      src,
      dst,
      srcQpn: src.nextQpn++,
      dstQpn: dst.nextQpn++,
      requester: undefined as unknown as Requester,
      responder: undefined as unknown as Responder,
      records: [],
      delivered: 0,
      current: { sentAt: 0, arrivedAt: 0 },
    };
    conn.requester = new Requester(this.queue, stack, firstPsn, (p) => this.#transmit(conn, p));
    conn.responder = new Responder(
      firstPsn,
      (psn, syndrome, msn) => this.#sendAck(conn, psn, syndrome, msn),
      (packet) => this.#onDelivered(conn, packet),
    );
    src.qps.set(conn.srcQpn, { connection: conn, role: 'requester' });
    dst.qps.set(conn.dstQpn, { connection: conn, role: 'responder' });
    this.connections.push(conn);
    return conn;
  }

  /** Post `msg` on `conn` at the current virtual time. */
  post(conn: Connection, msg: Uint8Array): MessageRecord {
    const now = this.queue.now;
    const { stack, kernel } = this.#profile;
    const path = this.options.path;
    const src = conn.src;

    const record: MessageRecord = {
      connection: conn.id,
      index: conn.records.length,
      msgBytes: msg.length,
      wireBytes: 0,
      postedAt: now,
      marks: [],
    };
    conn.records.push(record);

    const posted = Math.max(now, src.hostFreeAt) + stack.hostPostNs;
    src.hostFreeAt = posted;
    mark(record, 'host', posted);

    const attested = path === 'rdma' ? msg : src.attestation.attest(conn.session, msg);
    record.wireBytes = attested.length;
    const ends = segmentEnds(attested.length, stack.mtu);
    let emit: number[];

    if (path === 'rdma') {
      emit = this.#dmaRead(src, posted, ends, 0, attested.length);
      mark(record, 'dma', emit[emit.length - 1]!);
    } else if (kernel.location === 'host') {
      const hashed = msg.length + ATTESTATION_HEADER_BYTES;
      const attestedAt = src.txKernel.schedule(posted, hashed, [{ arrival: posted, hashedEnd: hashed }]).final;
      mark(record, 'kernel', attestedAt);
      emit = this.#dmaRead(src, attestedAt, ends, 0, attested.length);
      mark(record, 'dma', emit[emit.length - 1]!);
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
      const packet: OutgoingPacket = {
        opcode,
        payload: attested.subarray(start, ends[k]!),
        ackReq: k === ends.length - 1,
        readyAt: Math.max(emit[k]!, now),
      };
      if (k === 0) packet.reth = { va: BigInt(record.index) * 0x10000n, rkey: 0x1000 + conn.id, dmaLength: attested.length };
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
      qps: new Map(),
      nextQpn: 0x11,
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
    return ends.map((end) => {
      const upTo = Math.min(Math.max(end - offset, 0), bytes);
      return start + stack.dmaReadLatencyNs + upTo / stack.dmaBytesPerNs;
    });
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
    mark(record, 'dma', dmaArrival[0]!);
    const chunks: Chunk[] = ends.map((end, i) => ({
      arrival: dmaArrival[i]!,
      hashedEnd: clamp(end - hashedOffset, 0, hashed),
    }));
    const schedule = src.txKernel.schedule(posted, hashed, chunks);
    mark(record, 'kernel', schedule.final);

    // A leading tag keeps every packet back until the MAC is done, a trailing tag only the last one.
    return ends.map((_, i) => {
      if (leading || i === ends.length - 1) return schedule.final;
      return Math.max(schedule.chunkDone[i]!, dmaArrival[i]!);
    });
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

  #addressing(from: NicNode, to: NicNode, destQp: number): Omit<RocePacket, 'bth' | 'payload'> & {
    bthBase: Omit<RocePacket['bth'], 'opcode' | 'psn' | 'ackReq'>;
  } {
    return {
      ethernet: { dst: to.mac, src: from.mac },
      ipv4: { src: from.ip, dst: to.ip, id: 0, ttl: 64, dscp: 26, ecn: 2 },
      udpSrcPort: 0xc000 | (destQp & 0x3fff),
      bthBase: { solicited: false, migReq: true, pKey: 0xffff, fecn: false, becn: false, destQp },
    };
  }

  #transmit(conn: Connection, p: OutgoingPacket & { psn: number }): void {
    const a = this.#addressing(conn.src, conn.dst, conn.dstQpn);
    const packet: RocePacket = {
      ethernet: a.ethernet,
      ipv4: a.ipv4,
      udpSrcPort: a.udpSrcPort,
      bth: { ...a.bthBase, opcode: p.opcode, psn: p.psn, ackReq: p.ackReq },
      payload: p.payload,
    };
    if (p.reth !== undefined) packet.reth = p.reth;
    const frame = encodeRoce(packet);
    const link = this.#link(conn.src, conn.dst);
    this.queue.after(this.#profile.stack.txPipelineNs, () => link.send(frame));
  }

  #sendAck(conn: Connection, psn: number, syndrome: number, msn: number): void {
    const a = this.#addressing(conn.dst, conn.src, conn.srcQpn);
    const frame = encodeRoce({
      ethernet: a.ethernet,
      ipv4: a.ipv4,
      udpSrcPort: a.udpSrcPort,
      bth: { ...a.bthBase, opcode: OPCODE.ACKNOWLEDGE, psn, ackReq: false },
      aeth: { syndrome, msn },
      payload: new Uint8Array(0),
    });
    const link = this.#link(conn.dst, conn.src);
    this.queue.after(this.#profile.stack.txPipelineNs, () => link.send(frame));
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
    const qp = node.qps.get(packet.bth.destQp);
    if (qp === undefined) {
      this.counters.malformed.set('unknown QP', (this.counters.malformed.get('unknown QP') ?? 0) + 1);
      return;
    }
    const arrivedAt = this.queue.now;
    this.queue.after(this.#profile.stack.rxPipelineNs, () => {
      const conn = qp.connection;
      if (qp.role === 'requester') {
        conn.requester.onAcknowledge(packet);
        return;
      }
      conn.current = { sentAt, arrivedAt };
      conn.responder.onPacket(packet);
    });
  }

  /** An in-order data packet at the responder: assemble, and finish the message on its last packet. */
  #onDelivered(conn: Connection, packet: RocePacket): void {
    const now = this.queue.now;
    const stack = this.#profile.stack;
    const dst = conn.dst;
    if (packet.reth !== undefined || conn.assembly === undefined) {
      conn.assembly = { parts: [], bytes: 0, chunkTimes: [], chunkEnds: [] };
    }
    const asm = conn.assembly;
    asm.parts.push(packet.payload);
    asm.bytes += packet.payload.length;
    asm.chunkTimes.push(now);
    asm.chunkEnds.push(asm.bytes);

    const op = packet.bth.opcode;
    const last = op === OPCODE.RDMA_WRITE_LAST || op === OPCODE.RDMA_WRITE_ONLY;
    const verifyOnNic = this.options.path === 'attest-verify' && this.#profile.kernel.location === 'nic';
    if (!last || !verifyOnNic) {
      // Packets that need no verdict first go to host memory as they arrive.
      dst.dmaWriteFreeAt = Math.max(now, dst.dmaWriteFreeAt) + packet.payload.length / stack.dmaBytesPerNs;
    }
    if (!last) return;

    conn.assembly = undefined;
    const record = conn.records[conn.delivered++];
    if (record === undefined) throw new Error(`connection ${conn.id} delivered a message that was never posted`);
    mark(record, 'transport', conn.current.sentAt);
    mark(record, 'wire', conn.current.arrivedAt);
    mark(record, 'transport', now);
    this.#finishMessage(conn, record, asm, packet.payload.length);
  }

  #finishMessage(conn: Connection, record: MessageRecord, asm: Assembly, lastBytes: number): void {
    const now = this.queue.now;
    const { stack, kernel } = this.#profile;
    const dst = conn.dst;
    const attested = concat(asm.parts, asm.bytes);
    const hashed = record.msgBytes + ATTESTATION_HEADER_BYTES;
    let ready: number;

    if (this.options.path !== 'attest-verify') {
      ready = dst.dmaWriteFreeAt + stack.dmaWriteLatencyNs;
      mark(record, 'dma', ready);
    } else if (kernel.location === 'nic') {
      const hashedOffset = kernel.tagPlacement === 'leading' ? kernel.tagFieldBytes : 0;
      const chunks = asm.chunkTimes.map((t, i) => ({
        arrival: t,
        hashedEnd: clamp(asm.chunkEnds[i]! - hashedOffset, 0, hashed),
      }));
      const verified = dst.rxKernel.schedule(asm.chunkTimes[0]!, hashed, chunks).final;
      mark(record, 'verify', verified);
      const written = Math.max(verified, dst.dmaWriteFreeAt) + lastBytes / stack.dmaBytesPerNs;
      dst.dmaWriteFreeAt = written;
      ready = written + stack.dmaWriteLatencyNs;
      mark(record, 'dma', ready);
    } else {
      const inMemory = dst.dmaWriteFreeAt + stack.dmaWriteLatencyNs;
      mark(record, 'dma', inMemory);
      ready = dst.rxKernel.schedule(inMemory, hashed, [{ arrival: inMemory, hashedEnd: hashed }]).final;
      mark(record, 'verify', ready);
    }

    let received = attested;
    if (this.options.path !== 'rdma') {
      const result = dst.attestation.verify(conn.session, attested);
      received = result.msg;
      if (this.options.path === 'attest-verify') {
        record.verify = result.status;
        if (result.status !== 'ok') this.counters.verifyFailures++;
      }
    }
    if (this.options.keepPayloads === true) record.received = received;

    // NOTE: pollNs is latency only; completions do not occupy the host thread, posts do.
    const polled = ready + stack.pollNs;
    mark(record, 'host', polled);
    record.completedAt = polled;
    const onComplete = this.options.onComplete;
    if (onComplete !== undefined) this.queue.at(Math.max(polled, now), () => onComplete(record));
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

/** Latency split by stage: each mark closes the interval since the previous mark. */
export function breakdown(record: MessageRecord): Record<Stage, number> {
  const out = { host: 0, dma: 0, kernel: 0, transport: 0, wire: 0, verify: 0 };
  let previous = record.postedAt;
  for (const m of record.marks) {
    out[m.stage] += m.time - previous;
    previous = m.time;
  }
  return out;
}

/** Append a milestone; a time before the previous one is clamped, so intervals are never negative. */
function mark(record: MessageRecord, stage: Stage, time: number): void {
  const previous = record.marks[record.marks.length - 1]?.time ?? record.postedAt;
  record.marks.push({ stage, time: Math.max(time, previous) });
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

function concat(parts: Uint8Array[], bytes: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

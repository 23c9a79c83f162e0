/**
 * Codec of RoCE v2 packets as bytes. A frame is Ethernet II, IPv4 (no
 * options, DF set), UDP to port 4791 and the InfiniBand base transport
 * header (BTH). Then come the extended headers of the reliable-connection
 * opcodes used here (RETH, AETH, immediate data), the payload padded to 4
 * bytes, and the invariant CRC (ICRC).
 *
 * The ICRC is CRC-32 over, in order: 8 bytes of 0xFF standing for the
 * InfiniBand local route header that RoCE v2 does not carry; the IPv4 header
 * with type of service, TTL and header checksum replaced by all ones; the
 * UDP header with its checksum replaced by all ones; the BTH with its byte 4
 * (FECN, BECN, reserved) replaced by all ones; then everything after the BTH
 * up to the ICRC. Routers may change the replaced fields, so the CRC skips
 * them. It is sent least significant byte first, like the Ethernet FCS.
 *
 * Frames carry no FCS (pcap files and the simulated link omit it).
 */

import { InputError } from '../errors.ts';
import { allocateBytes } from './byte_slab.ts';
import { CRC32_PRESET, crc32Update } from './crc32.ts';

export const ROCE_UDP_PORT = 4791;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETH_HEADER_BYTES = 14;
export const IPV4_HEADER_BYTES = 20;
export const UDP_HEADER_BYTES = 8;
export const BTH_BYTES = 12;
export const RETH_BYTES = 16;
export const AETH_BYTES = 4;
export const IMMEDIATE_BYTES = 4;
export const ICRC_BYTES = 4;
/** Smallest Ethernet frame without FCS; shorter frames are padded with zeros. */
export const MIN_FRAME_BYTES = 60;
/** Bytes before the payload and after it for an RDMA WRITE ONLY packet. */
export const ROCE_OVERHEAD_BYTES =
  ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES + RETH_BYTES + ICRC_BYTES;

/** Reliable-connection opcodes (InfiniBand Architecture Specification, Vol. 1, table 38). */
export const OPCODE = {
  SEND_FIRST: 0x00,
  SEND_MIDDLE: 0x01,
  SEND_LAST: 0x02,
  SEND_LAST_WITH_IMMEDIATE: 0x03,
  SEND_ONLY: 0x04,
  SEND_ONLY_WITH_IMMEDIATE: 0x05,
  RDMA_WRITE_FIRST: 0x06,
  RDMA_WRITE_MIDDLE: 0x07,
  RDMA_WRITE_LAST: 0x08,
  RDMA_WRITE_LAST_WITH_IMMEDIATE: 0x09,
  RDMA_WRITE_ONLY: 0x0a,
  RDMA_WRITE_ONLY_WITH_IMMEDIATE: 0x0b,
  ACKNOWLEDGE: 0x11,
} as const;

/** Layout of the headers after the BTH for one supported opcode. */
interface OpcodeLayout {
  name: string;
  reth: boolean;
  aeth: boolean;
  immediate: boolean;
  payload: boolean;
}

const LAYOUTS = new Map<number, OpcodeLayout>([
  [OPCODE.SEND_FIRST, layout('SEND_FIRST', false, false, false, true)],
  [OPCODE.SEND_MIDDLE, layout('SEND_MIDDLE', false, false, false, true)],
  [OPCODE.SEND_LAST, layout('SEND_LAST', false, false, false, true)],
  [OPCODE.SEND_LAST_WITH_IMMEDIATE, layout('SEND_LAST_WITH_IMMEDIATE', false, false, true, true)],
  [OPCODE.SEND_ONLY, layout('SEND_ONLY', false, false, false, true)],
  [OPCODE.SEND_ONLY_WITH_IMMEDIATE, layout('SEND_ONLY_WITH_IMMEDIATE', false, false, true, true)],
  [OPCODE.RDMA_WRITE_FIRST, layout('RDMA_WRITE_FIRST', true, false, false, true)],
  [OPCODE.RDMA_WRITE_MIDDLE, layout('RDMA_WRITE_MIDDLE', false, false, false, true)],
  [OPCODE.RDMA_WRITE_LAST, layout('RDMA_WRITE_LAST', false, false, false, true)],
  [OPCODE.RDMA_WRITE_LAST_WITH_IMMEDIATE, layout('RDMA_WRITE_LAST_WITH_IMMEDIATE', false, false, true, true)],
  [OPCODE.RDMA_WRITE_ONLY, layout('RDMA_WRITE_ONLY', true, false, false, true)],
  [OPCODE.RDMA_WRITE_ONLY_WITH_IMMEDIATE, layout('RDMA_WRITE_ONLY_WITH_IMMEDIATE', true, false, true, true)],
  [OPCODE.ACKNOWLEDGE, layout('ACKNOWLEDGE', false, true, false, false)],
]);

/** LAYOUTS indexed by opcode, so that the per-packet lookup is one array read. */
const LAYOUT_BY_OPCODE: Array<OpcodeLayout | undefined> = Array.from({ length: 256 }, (_, op) => LAYOUTS.get(op));

function layout(name: string, reth: boolean, aeth: boolean, immediate: boolean, payload: boolean): OpcodeLayout {
  return { name, reth, aeth, immediate, payload };
}

function layoutOf(opcode: number): OpcodeLayout | undefined {
  return LAYOUT_BY_OPCODE[opcode];
}

export function opcodeName(opcode: number): string {
  return layoutOf(opcode)?.name ?? `0x${opcode.toString(16).padStart(2, '0')}`;
}

/** AETH syndrome bits 7..5: 000 ACK (bits 4..0 credit count), 011 NAK (bits 4..0 NAK code). */
export const AETH_ACK = 0x00;
export const AETH_NAK = 0x60;
export const NAK_PSN_SEQUENCE_ERROR = 0;

export interface BaseTransportHeader {
  opcode: number;
  solicited: boolean;
  migReq: boolean;
  /** Partition key, 16 bits; 0xFFFF is the default partition. */
  pKey: number;
  fecn: boolean;
  becn: boolean;
  /** Destination queue pair number, 24 bits. */
  destQp: number;
  /** AckReq: the responder should acknowledge this packet. */
  ackReq: boolean;
  /** Packet sequence number, 24 bits. */
  psn: number;
}

export interface RocePacket {
  ethernet: { dst: Uint8Array; src: Uint8Array };
  /** Addresses are unsigned 32-bit numbers; dscp is 6 bits, ecn 2 bits. */
  ipv4: { src: number; dst: number; id: number; ttl: number; dscp: number; ecn: number };
  /** Source port; RoCE v2 uses it as flow entropy. The destination is always 4791. */
  udpSrcPort: number;
  bth: BaseTransportHeader;
  /** RDMA extended transport header: remote virtual address, key and total length. */
  reth?: { va: bigint; rkey: number; dmaLength: number };
  /** ACK extended transport header: syndrome and message sequence number (24 bits). */
  aeth?: { syndrome: number; msn: number };
  immediate?: number;
  payload: Uint8Array;
}

export type DecodeResult = { ok: true; packet: RocePacket } | { ok: false; reason: string };

/** Wire length of the frame `encodeRoce` builds, without the minimum-frame padding. */
export function roceFrameBytes(opcode: number, payloadBytes: number): number {
  const l = layoutOf(opcode);
  if (l === undefined) throw new InputError(`opcode ${opcodeName(opcode)} is not a supported RC opcode`);
  const pad = (4 - (payloadBytes % 4)) % 4;
  return (
    ETH_HEADER_BYTES +
    IPV4_HEADER_BYTES +
    UDP_HEADER_BYTES +
    extendedBytes(l) +
    BTH_BYTES +
    payloadBytes +
    pad +
    ICRC_BYTES
  );
}

function extendedBytes(l: OpcodeLayout): number {
  return (l.reth ? RETH_BYTES : 0) + (l.aeth ? AETH_BYTES : 0) + (l.immediate ? IMMEDIATE_BYTES : 0);
}

/** Scratch for the RETH virtual address, so that encodeRoce allocates no DataView per frame. */
const VA_BYTES = new Uint8Array(8);
const VA_VIEW = new DataView(VA_BYTES.buffer);

/**
 * Build the frame bytes; a field out of range or a header the opcode does
 * not take is an InputError. Frames share ArrayBuffers (see byte_slab.ts),
 * so use `byteOffset` when viewing `frame.buffer`.
 */
export function encodeRoce(p: RocePacket): Uint8Array {
  const l = checkPacket(p);
  const pad = (4 - (p.payload.length % 4)) % 4;
  const ipBytes =
    IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES + extendedBytes(l) + p.payload.length + pad + ICRC_BYTES;
  const frame = allocateBytes(Math.max(MIN_FRAME_BYTES, ETH_HEADER_BYTES + ipBytes));

  // Ethernet II.
  // Byte loops, because TypedArray.prototype.set costs more than copying 6 bytes.
  const dst = p.ethernet.dst;
  const src = p.ethernet.src;
  for (let i = 0; i < 6; i++) {
    frame[i] = dst[i]!;
    frame[6 + i] = src[i]!;
  }
  put16(frame, 12, ETHERTYPE_IPV4);

  // IPv4: version 4, IHL 5, don't fragment, protocol UDP.
  const ip = ETH_HEADER_BYTES;
  frame[ip] = 0x45;
  frame[ip + 1] = (p.ipv4.dscp << 2) | p.ipv4.ecn;
  put16(frame, ip + 2, ipBytes);
  put16(frame, ip + 4, p.ipv4.id);
  put16(frame, ip + 6, 0x4000);
  frame[ip + 8] = p.ipv4.ttl;
  frame[ip + 9] = 17;
  put32(frame, ip + 12, p.ipv4.src);
  put32(frame, ip + 16, p.ipv4.dst);
  put16(frame, ip + 10, ipv4Checksum(frame, ip));

  // UDP; RoCE v2 senders leave the checksum 0 because the ICRC covers the packet.
  const udp = ip + IPV4_HEADER_BYTES;
  put16(frame, udp, p.udpSrcPort);
  put16(frame, udp + 2, ROCE_UDP_PORT);
  put16(frame, udp + 4, ipBytes - IPV4_HEADER_BYTES);

  // BTH and extended headers.
  const bth = udp + UDP_HEADER_BYTES;
  const b = p.bth;
  frame[bth] = b.opcode;
  frame[bth + 1] = (b.solicited ? 0x80 : 0) | (b.migReq ? 0x40 : 0) | (pad << 4);
  put16(frame, bth + 2, b.pKey);
  frame[bth + 4] = (b.fecn ? 0x80 : 0) | (b.becn ? 0x40 : 0);
  put24(frame, bth + 5, b.destQp);
  frame[bth + 8] = b.ackReq ? 0x80 : 0;
  put24(frame, bth + 9, b.psn);
  let at = bth + BTH_BYTES;
  if (p.reth !== undefined) {
    VA_VIEW.setBigUint64(0, p.reth.va);
    for (let i = 0; i < 8; i++) frame[at + i] = VA_BYTES[i]!;
    put32(frame, at + 8, p.reth.rkey);
    put32(frame, at + 12, p.reth.dmaLength);
    at += RETH_BYTES;
  }
  if (p.aeth !== undefined) {
    frame[at] = p.aeth.syndrome;
    put24(frame, at + 1, p.aeth.msn);
    at += AETH_BYTES;
  }
  if (p.immediate !== undefined) {
    put32(frame, at, p.immediate);
    at += IMMEDIATE_BYTES;
  }
  frame.set(p.payload, at);
  at += p.payload.length + pad;

  const crc = icrc(frame, ip, at);
  frame[at] = crc & 0xff;
  frame[at + 1] = (crc >>> 8) & 0xff;
  frame[at + 2] = (crc >>> 16) & 0xff;
  frame[at + 3] = crc >>> 24;
  return frame;
}

/**
 * Parse a frame. A frame that is not a well-formed RoCE v2 packet of a
 * supported opcode, or whose IPv4 checksum or ICRC is wrong, comes back as
 * `{ ok: false, reason }`. No input makes this function throw. The payload
 * and the Ethernet addresses of the packet are views into `frame`, not
 * copies: change the frame only after you are done with the packet.
 */
export function decodeRoce(frame: Uint8Array): DecodeResult {
  const reason = checkRoceFrame(frame);
  if (reason !== undefined) return reject(reason);
  return { ok: true, packet: buildPacket(frame) };
}

/**
 * Check a frame like `decodeRoce` without building the packet: return the
 * reason it is invalid (the same text decodeRoce gives), or undefined for a
 * valid frame, whose fields `readRoceFields` can then read.
 */
export function checkRoceFrame(frame: Uint8Array): string | undefined {
  if (frame.length < ETH_HEADER_BYTES) {
    return `frame of ${frame.length} bytes is shorter than the ${ETH_HEADER_BYTES}-byte Ethernet header`;
  }
  const ethertype = get16(frame, 12);
  if (ethertype !== ETHERTYPE_IPV4) return `ethertype 0x${hex(ethertype, 4)} is not IPv4 (0x0800)`;

  const ipv4Reason = checkIpv4(frame);
  if (ipv4Reason !== undefined) return ipv4Reason;
  const ipBytes = get16(frame, ETH_HEADER_BYTES + 2);

  const udpReason = checkUdp(frame, UDP_OFFSET, ipBytes);
  if (udpReason !== undefined) return udpReason;

  return checkTransport(frame);
}

/** Offsets of the UDP header and the BTH in every frame that passes the IPv4 check (no IPv4 options). */
const UDP_OFFSET = ETH_HEADER_BYTES + IPV4_HEADER_BYTES;
const BTH_OFFSET = UDP_OFFSET + UDP_HEADER_BYTES;

/**
 * Transport fields of a frame that checkRoceFrame accepted, read in place.
 * The simulator reads these instead of a RocePacket, so that a received
 * frame costs no objects.
 */
export interface RoceFields {
  frame: Uint8Array;
  opcode: number;
  psn: number;
  ackReq: boolean;
  /** The opcode carries a RETH (the first packet of an RDMA WRITE). */
  hasReth: boolean;
  /** AETH syndrome, or -1 when the opcode carries no AETH. */
  syndrome: number;
  /** Payload bytes are frame[payloadStart, payloadEnd), without the pad bytes. */
  payloadStart: number;
  payloadEnd: number;
}

/** Destination QP of a frame that checkRoceFrame accepted. */
export function roceDestQp(frame: Uint8Array): number {
  return get24(frame, BTH_OFFSET + 5);
}

/** Fill `out` with the fields of `frame`, which checkRoceFrame must have accepted. */
export function readRoceFields(frame: Uint8Array, out: RoceFields): void {
  const bth = BTH_OFFSET;
  const opcode = frame[bth]!;
  const l = layoutOf(opcode)!;
  const icrcAt = ETH_HEADER_BYTES + get16(frame, ETH_HEADER_BYTES + 2) - ICRC_BYTES;
  const pad = (frame[bth + 1]! >> 4) & 0x03;
  const aethAt = bth + BTH_BYTES + (l.reth ? RETH_BYTES : 0);
  out.frame = frame;
  out.opcode = opcode;
  out.psn = get24(frame, bth + 9);
  out.ackReq = (frame[bth + 8]! & 0x80) !== 0;
  out.hasReth = l.reth;
  out.syndrome = l.aeth ? frame[aethAt]! : -1;
  out.payloadStart = bth + BTH_BYTES + extendedBytes(l);
  out.payloadEnd = icrcAt - pad;
}

/** Check the IPv4 header and return the reason it is invalid, or undefined. */
function checkIpv4(frame: Uint8Array): string | undefined {
  const ip = ETH_HEADER_BYTES;
  if (frame.length < ip + IPV4_HEADER_BYTES) {
    return `frame of ${frame.length} bytes ends inside the IPv4 header`;
  }
  const version = frame[ip]! >> 4;
  const ihlBytes = (frame[ip]! & 0x0f) * 4;
  if (version !== 4) return `IP version ${version} is not 4`;
  if (ihlBytes !== IPV4_HEADER_BYTES) {
    return `IPv4 header of ${ihlBytes} bytes is not supported; RoCE v2 packets carry no IPv4 options`;
  }
  const checksum = ipv4Checksum(frame, ip, true);
  if (checksum !== 0) return `IPv4 header checksum 0x${hex(get16(frame, ip + 10), 4)} is invalid`;

  const ipBytes = get16(frame, ip + 2);
  if (ipBytes < IPV4_HEADER_BYTES + UDP_HEADER_BYTES) {
    return `IPv4 total length ${ipBytes} is too short for the IPv4 and UDP headers`;
  }
  if (ETH_HEADER_BYTES + ipBytes > frame.length) {
    return `IPv4 total length ${ipBytes} exceeds the ${frame.length - ETH_HEADER_BYTES} bytes after the Ethernet header`;
  }
  if (ETH_HEADER_BYTES + ipBytes < frame.length && frame.length > MIN_FRAME_BYTES) {
    return `frame of ${frame.length} bytes has ${frame.length - ETH_HEADER_BYTES - ipBytes} bytes after the IPv4 packet`;
  }
  const fragment = get16(frame, ip + 6);
  if ((fragment & 0x3fff) !== 0) return `IPv4 fragment (flags and offset 0x${hex(fragment, 4)}) is not supported`;
  const protocol = frame[ip + 9]!;
  if (protocol !== 17) return `IPv4 protocol ${protocol} is not UDP (17)`;
  return undefined;
}

function checkUdp(frame: Uint8Array, udp: number, ipBytes: number): string | undefined {
  const dstPort = get16(frame, udp + 2);
  if (dstPort !== ROCE_UDP_PORT) return `UDP destination port ${dstPort} is not RoCE v2 (${ROCE_UDP_PORT})`;
  const udpBytes = get16(frame, udp + 4);
  if (udpBytes !== ipBytes - IPV4_HEADER_BYTES) {
    return `UDP length ${udpBytes} does not match the ${ipBytes - IPV4_HEADER_BYTES} bytes after the IPv4 header`;
  }
  const checksum = get16(frame, udp + 6);
  if (checksum !== 0 && udpChecksum(frame, udp, udpBytes) !== 0) {
    return `UDP checksum 0x${hex(checksum, 4)} is invalid`;
  }
  return undefined;
}

/** Check the BTH, the extended headers, the padding and the ICRC, and return the reason they are invalid, or undefined. */
function checkTransport(frame: Uint8Array): string | undefined {
  const bth = BTH_OFFSET;
  const end = ETH_HEADER_BYTES + get16(frame, ETH_HEADER_BYTES + 2);
  if (end - bth < BTH_BYTES + ICRC_BYTES) {
    return `UDP payload of ${end - bth} bytes is shorter than the BTH and ICRC (16 bytes)`;
  }
  const opcode = frame[bth]!;
  const l = layoutOf(opcode);
  if (l === undefined) return `BTH opcode ${opcodeName(opcode)} is not a supported RC opcode`;
  const tver = frame[bth + 1]! & 0x0f;
  if (tver !== 0) return `BTH transport header version ${tver} is not 0`;

  const icrcAt = end - ICRC_BYTES;
  const headersEnd = bth + BTH_BYTES + extendedBytes(l);
  if (headersEnd > icrcAt) {
    return `${l.name} needs ${headersEnd - bth + ICRC_BYTES} bytes of transport headers and ICRC, got ${end - bth}`;
  }
  const pad = (frame[bth + 1]! >> 4) & 0x03;
  const paddedPayload = icrcAt - headersEnd;
  if (paddedPayload % 4 !== 0) return `padded payload of ${paddedPayload} bytes is not a multiple of 4`;
  if (!l.payload && paddedPayload !== 0) return `${l.name} carries ${paddedPayload} payload bytes, expected none`;
  if (pad > paddedPayload) return `pad count ${pad} exceeds the ${paddedPayload}-byte payload`;

  const expected = icrc(frame, ETH_HEADER_BYTES, icrcAt);
  const carried = (frame[icrcAt]! | (frame[icrcAt + 1]! << 8) | (frame[icrcAt + 2]! << 16) | (frame[icrcAt + 3]! << 24)) >>> 0;
  if (expected !== carried) return `ICRC 0x${hex(carried, 8)} does not match the computed 0x${hex(expected, 8)}`;
  return undefined;
}

/** Build the packet of a frame that checkRoceFrame accepted. */
function buildPacket(frame: Uint8Array): RocePacket {
  const ip = ETH_HEADER_BYTES;
  const udp = UDP_OFFSET;
  const bth = BTH_OFFSET;
  const opcode = frame[bth]!;
  const l = layoutOf(opcode)!;
  const icrcAt = ETH_HEADER_BYTES + get16(frame, ip + 2) - ICRC_BYTES;
  const headersEnd = bth + BTH_BYTES + extendedBytes(l);
  const pad = (frame[bth + 1]! >> 4) & 0x03;
  const packet: RocePacket = {
    ethernet: { dst: frame.subarray(0, 6), src: frame.subarray(6, 12) },
    ipv4: {
      src: get32(frame, ip + 12),
      dst: get32(frame, ip + 16),
      id: get16(frame, ip + 4),
      ttl: frame[ip + 8]!,
      dscp: frame[ip + 1]! >> 2,
      ecn: frame[ip + 1]! & 0x03,
    },
    udpSrcPort: get16(frame, udp),
    bth: {
      opcode,
      solicited: (frame[bth + 1]! & 0x80) !== 0,
      migReq: (frame[bth + 1]! & 0x40) !== 0,
      pKey: get16(frame, bth + 2),
      fecn: (frame[bth + 4]! & 0x80) !== 0,
      becn: (frame[bth + 4]! & 0x40) !== 0,
      destQp: get24(frame, bth + 5),
      ackReq: (frame[bth + 8]! & 0x80) !== 0,
      psn: get24(frame, bth + 9),
    },
    payload: frame.subarray(headersEnd, icrcAt - pad),
  };
  let at = bth + BTH_BYTES;
  if (l.reth) {
    const va = new DataView(frame.buffer, frame.byteOffset + at, 8).getBigUint64(0);
    packet.reth = { va, rkey: get32(frame, at + 8), dmaLength: get32(frame, at + 12) };
    at += RETH_BYTES;
  }
  if (l.aeth) {
    packet.aeth = { syndrome: frame[at]!, msn: get24(frame, at + 1) };
    at += AETH_BYTES;
  }
  if (l.immediate) packet.immediate = get32(frame, at);
  return packet;
}

function reject(reason: string): DecodeResult {
  return { ok: false, reason };
}

/** Check every field against its width and the headers against the opcode; return the layout. */
function checkPacket(p: RocePacket): OpcodeLayout {
  const l = layoutOf(p.bth.opcode);
  if (l === undefined) throw new InputError(`opcode ${opcodeName(p.bth.opcode)} is not a supported RC opcode`);
  if (p.ethernet.dst.length !== 6 || p.ethernet.src.length !== 6) {
    throw new InputError('Ethernet addresses must be 6 bytes each');
  }
  checkUnsigned('IPv4 source', p.ipv4.src, 32);
  checkUnsigned('IPv4 destination', p.ipv4.dst, 32);
  checkUnsigned('IPv4 id', p.ipv4.id, 16);
  checkUnsigned('IPv4 TTL', p.ipv4.ttl, 8);
  checkUnsigned('IPv4 DSCP', p.ipv4.dscp, 6);
  checkUnsigned('IPv4 ECN', p.ipv4.ecn, 2);
  checkUnsigned('UDP source port', p.udpSrcPort, 16);
  checkUnsigned('P_Key', p.bth.pKey, 16);
  checkUnsigned('destination QP', p.bth.destQp, 24);
  checkUnsigned('PSN', p.bth.psn, 24);
  if (l.reth !== (p.reth !== undefined)) throw new InputError(`${l.name} ${l.reth ? 'needs' : 'takes no'} RETH`);
  if (l.aeth !== (p.aeth !== undefined)) throw new InputError(`${l.name} ${l.aeth ? 'needs' : 'takes no'} AETH`);
  if (l.immediate !== (p.immediate !== undefined)) {
    throw new InputError(`${l.name} ${l.immediate ? 'needs' : 'takes no'} immediate data`);
  }
  if (!l.payload && p.payload.length > 0) throw new InputError(`${l.name} takes no payload`);
  if (p.reth !== undefined) {
    if (p.reth.va < 0n || p.reth.va >= VA_LIMIT) throw new InputError(`RETH virtual address ${p.reth.va} is not 64-bit`);
    checkUnsigned('RETH R_Key', p.reth.rkey, 32);
    checkUnsigned('RETH DMA length', p.reth.dmaLength, 32);
  }
  if (p.aeth !== undefined) {
    checkUnsigned('AETH syndrome', p.aeth.syndrome, 8);
    checkUnsigned('AETH MSN', p.aeth.msn, 24);
  }
  if (p.immediate !== undefined) checkUnsigned('immediate data', p.immediate, 32);
  const maxPayload = 0xffff - (IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES + extendedBytes(l) + 3 + ICRC_BYTES);
  if (p.payload.length > maxPayload) {
    throw new InputError(`payload of ${p.payload.length} bytes exceeds the ${maxPayload} bytes an IPv4 packet can carry`);
  }
  return l;
}

/** Smallest RETH virtual address that does not fit in 64 bits, built once rather than per frame. */
const VA_LIMIT = 1n << 64n;

/** Largest unsigned value of each field width up to 32 bits. */
const UNSIGNED_MAX = Array.from({ length: 33 }, (_, bits) => 2 ** bits - 1);

function checkUnsigned(name: string, v: number, bits: number): void {
  if (!(v >= 0 && v <= UNSIGNED_MAX[bits]! && Math.floor(v) === v)) {
    throw new InputError(`${name} ${v} is not an unsigned ${bits}-bit integer`);
  }
}

/**
 * Ones' complement sum of the 20-byte IPv4 header at `ip`. With `verify`
 * the stored checksum is included, so a valid header returns 0; otherwise
 * the checksum field counts as zero and the result is the value to store.
 */
function ipv4Checksum(frame: Uint8Array, ip: number, verify = false): number {
  let sum = 0;
  for (let i = 0; i < IPV4_HEADER_BYTES; i += 2) {
    if (i === 10 && !verify) continue;
    sum += (frame[ip + i]! << 8) | frame[ip + i + 1]!;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Ones' complement sum over the IPv4 pseudo-header and the UDP datagram; 0 when the checksum is valid. */
function udpChecksum(frame: Uint8Array, udp: number, udpBytes: number): number {
  const ip = ETH_HEADER_BYTES;
  let sum = 17 + udpBytes;
  for (let i = 12; i < 20; i += 2) sum += (frame[ip + i]! << 8) | frame[ip + i + 1]!;
  for (let i = 0; i < udpBytes; i += 2) {
    const low = i + 1 < udpBytes ? frame[udp + i + 1]! : 0;
    sum += (frame[udp + i]! << 8) | low;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** CRC register after the 8 bytes of 0xFF that stand for the LRH. */
const LRH_REGISTER = crc32Update(CRC32_PRESET, new Uint8Array(8).fill(0xff));

/** Offsets, from the IPv4 header, of the variant bytes that the ICRC covers as all ones. */
const TOS_AT = 1;
const TTL_AT = 8;
const IP_CHECKSUM_AT = 10;
const UDP_CHECKSUM_AT = IPV4_HEADER_BYTES + 6;
const BTH_FECN_BECN_AT = IPV4_HEADER_BYTES + UDP_HEADER_BYTES + 4;

/**
 * ICRC over the IPv4 packet at `ip` up to `end` (exclusive), with the variant
 * fields masked. The fields are set to all ones in the frame itself and put
 * back before returning, which saves copying the headers for every frame.
 * `end` is at least 40 bytes past `ip`, so all of them are inside the frame.
 */
function icrc(frame: Uint8Array, ip: number, end: number): number {
  const tos = frame[ip + TOS_AT]!;
  const ttl = frame[ip + TTL_AT]!;
  const ipChecksumHigh = frame[ip + IP_CHECKSUM_AT]!;
  const ipChecksumLow = frame[ip + IP_CHECKSUM_AT + 1]!;
  const udpChecksumHigh = frame[ip + UDP_CHECKSUM_AT]!;
  const udpChecksumLow = frame[ip + UDP_CHECKSUM_AT + 1]!;
  const fecnBecn = frame[ip + BTH_FECN_BECN_AT]!;
  frame[ip + TOS_AT] = 0xff;
  frame[ip + TTL_AT] = 0xff;
  frame[ip + IP_CHECKSUM_AT] = 0xff;
  frame[ip + IP_CHECKSUM_AT + 1] = 0xff;
  frame[ip + UDP_CHECKSUM_AT] = 0xff;
  frame[ip + UDP_CHECKSUM_AT + 1] = 0xff;
  frame[ip + BTH_FECN_BECN_AT] = 0xff;

  const register = crc32Update(LRH_REGISTER, frame, ip, end);

  frame[ip + TOS_AT] = tos;
  frame[ip + TTL_AT] = ttl;
  frame[ip + IP_CHECKSUM_AT] = ipChecksumHigh;
  frame[ip + IP_CHECKSUM_AT + 1] = ipChecksumLow;
  frame[ip + UDP_CHECKSUM_AT] = udpChecksumHigh;
  frame[ip + UDP_CHECKSUM_AT + 1] = udpChecksumLow;
  frame[ip + BTH_FECN_BECN_AT] = fecnBecn;
  return ~register >>> 0;
}

// Big-endian field access without a DataView, which would cost an allocation per frame.
function get16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function get24(b: Uint8Array, at: number): number {
  return (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!;
}

function get32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v;
}

function put24(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 16;
  b[at + 1] = v >>> 8;
  b[at + 2] = v;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}

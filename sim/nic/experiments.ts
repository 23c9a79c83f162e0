/**
 * The measurements `tnic sim` reports per message size. For each of the
 * unattested, send-only and attest-plus-verify paths: the latency of one
 * isolated message with its breakdown, and the sustained throughput of a
 * stream. Also the latency of a local Attest (local_send, no network).
 */

import { InputError } from '../errors.ts';
import { Prng } from '../prng.ts';
import { ATTESTATION_HEADER_BYTES, isolatedKernelNs } from './kernel_timing.ts';
import { NicNetwork, breakdown, type MessageRecord, type PathKind, type Stage } from './network.ts';
import type { PcapWriter } from './pcap.ts';
import type { Profile } from './profiles.ts';

export interface LatencyResult {
  /** Host request to completion found by poll, in ns. */
  totalNs: number;
  breakdownNs: Record<Stage, number>;
}

export interface PathResult {
  latency: LatencyResult;
  /** Message-size bytes per microsecond (= MB/s, 10^6 bytes) in steady state. */
  throughputMBps: number;
  /** Messages in the throughput stream. */
  streamMessages: number;
}

export interface SizeResult {
  size: number;
  /** Application bytes per message (size minus the attestation field when the profile counts it). */
  msgBytes: number;
  /** Local Attest of a message of `size` bytes (the size taken as message bytes). */
  localAttestNs: number;
  paths: Record<PathKind, PathResult>;
}

/** Bytes of application message in a message of `size` as the profile counts sizes. */
export function messageBytes(profile: Profile, size: number): number {
  const k = profile.kernel;
  const overhead = k.sizeIncludesAttestation ? k.tagFieldBytes + ATTESTATION_HEADER_BYTES : 0;
  if (!Number.isInteger(size) || size <= overhead || size > 1 << 24) {
    throw new InputError(
      `message size ${size} is not an integer in ${overhead + 1}..${1 << 24} bytes for profile "${profile.name}"` +
        (overhead > 0 ? ` (its sizes include the ${overhead}-byte attestation field and header)` : ''),
    );
  }
  return size - overhead;
}

/** Local Attest of a `msgBytes` message: the synchronous host-device transfer plus the kernel (or CPU) time. */
export function localAttestNs(profile: Profile, msgBytes: number): number {
  const hashed = msgBytes + ATTESTATION_HEADER_BYTES;
  return profile.stack.localTransferNs + isolatedKernelNs(profile.kernel, hashed);
}

/** Latency of one message from node 0 to node 1 on an idle network. */
export function measureLatency(profile: Profile, size: number, path: PathKind, seed: number, pcap?: PcapWriter): LatencyResult {
  const msgBytes = path === 'rdma' ? size : messageBytes(profile, size);
  const net = new NicNetwork({ profile, seed, nodes: 2, path, pcap });
  const conn = net.connect(0, 1);
  const record = net.post(conn, new Prng(seed).bytes(msgBytes));
  net.run();
  return { totalNs: completed(record) - record.postedAt, breakdownNs: breakdown(record) };
}

/**
 * Throughput of `count` messages posted at once from node 0 to node 1:
 * size x (count - 1) over the time between the first and last completion,
 * which leaves out the pipeline fill.
 */
export function measureThroughput(profile: Profile, size: number, path: PathKind, seed: number, count: number): number {
  if (count < 2) throw new RangeError(`a throughput stream needs at least 2 messages, got ${count}`);
  const msgBytes = path === 'rdma' ? size : messageBytes(profile, size);
  const net = new NicNetwork({ profile, seed, nodes: 2, path });
  const conn = net.connect(0, 1);
  const msg = new Prng(seed).bytes(msgBytes);
  const records: MessageRecord[] = [];
  for (let i = 0; i < count; i++) records.push(net.post(conn, msg));
  net.run();
  const first = completed(records[0]!);
  const last = completed(records[count - 1]!);
  return (size * (count - 1)) / ((last - first) / 1000);
}

/** Messages in a throughput stream: enough for a steady state, bounded for run time. */
export function streamLength(size: number): number {
  return Math.max(16, Math.min(512, Math.ceil((1 << 20) / size)));
}

export function measureSize(profile: Profile, size: number, seed: number, pcap?: PcapWriter): SizeResult {
  const paths = {} as Record<PathKind, PathResult>;
  const count = streamLength(size);
  for (const path of ['rdma', 'send-only', 'attest-verify'] as const) {
    paths[path] = {
      latency: measureLatency(profile, size, path, seed, path === 'attest-verify' ? pcap : undefined),
      throughputMBps: measureThroughput(profile, size, path, seed, count),
      streamMessages: count,
    };
  }
  return { size, msgBytes: messageBytes(profile, size), localAttestNs: localAttestNs(profile, size), paths };
}

function completed(record: MessageRecord): number {
  if (record.completedAt === undefined) {
    throw new Error(`message ${record.index} on connection ${record.connection} never completed`);
  }
  return record.completedAt;
}

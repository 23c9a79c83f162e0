/**
 * The network interface that replicated systems use, as structural types: a
 * node per host that opens message channels to peers, and a clock. The
 * simulated network of the stack satisfies them, and the caller that builds
 * the network passes it in, so systems depend on the API layer only.
 */

import type { Connection } from '../../api/connection.ts';

/** A reliable, FIFO, message-oriented channel to one peer (the API's channel type). */
export type Channel = Connection['channel'];

export type Clock = Channel['clock'];

/** A message that a node's host is about to send, as a Byzantine host hook receives it. */
export interface HostMessage {
  from: string;
  to: string;
  connection: number;
  bytes: Uint8Array;
}

/** Bytes a host sends instead, optionally `delayMs` of virtual time later. */
export type HostOutput = Uint8Array | { bytes: Uint8Array; delayMs: number };

/** Returns what the host really sends: [] suppresses the message, more entries send others too. */
export type HostHook = (message: HostMessage) => readonly HostOutput[];

export interface NetworkNode {
  /** Open the channel to node `peer`; the peer opens its end with the same connection id. */
  channel(peer: string, connection?: number): Channel;
}

export interface Network {
  readonly clock: Clock;
  node(name: string): NetworkNode;
}

/** Random link faults; rates are probabilities per datagram, times in milliseconds. */
export interface LinkFaultSettings {
  minLatencyMs: number;
  maxLatencyMs: number;
  dropRate: number;
  duplicateRate: number;
  reorderRate: number;
  reorderDelayMs: number;
  corruptRate: number;
}

/** A deterministic simulated network with fault injection, as the fault scenarios use it. */
export interface SimulatedNetwork extends Network {
  readonly seed: number;
  readonly now: number;
  readonly stats: { readonly dropped: number; readonly reordered: number; readonly duplicated: number };
  node(name: string): NetworkNode & { byzantine: HostHook | undefined };
  setFaults(faults: Partial<LinkFaultSettings>, from?: string, to?: string): void;
  partition(side: readonly string[], other: readonly string[]): void;
  heal(): void;
  run(options?: { untilMs?: number; maxEvents?: number }): Promise<number>;
  runFor(ms: number): Promise<number>;
}

/** Queue `bytes` on `channel`; returns false when the channel already failed (the peer is unreachable). */
export function trySend(channel: Channel, bytes: Uint8Array): boolean {
  if (channel.error) return false;
  try {
    channel.send(bytes);
    return true;
  } catch (error) {
    if (channel.error) return false;
    throw error;
  }
}

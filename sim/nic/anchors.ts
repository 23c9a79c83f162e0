/**
 * Published measurements of the TNIC prototype (Giantsidi et al., "TNIC: A
 * Trusted NIC Architecture", ASPLOS 2025) that the "tnic-prototype" profile
 * is checked against. The profile derives them from the HMAC core's cycle
 * formula, segmentation and DMA; none is fitted point by point.
 */

import type { SizeResult } from './experiments.ts';

export interface Anchor {
  metric: 'throughput' | 'latency';
  path: 'send-only' | 'attest-verify';
  size: number;
  /** MB/s for throughput, microseconds for latency. */
  published: number;
  /** Largest accepted |ours / published - 1|. */
  tolerance: number;
}

export const PROTOTYPE_ANCHORS: readonly Anchor[] = [
  { metric: 'throughput', path: 'attest-verify', size: 128, published: 23.7, tolerance: 0.05 },
  { metric: 'throughput', path: 'attest-verify', size: 32768, published: 94.9, tolerance: 0.05 },
  { metric: 'latency', path: 'attest-verify', size: 128, published: 15.6, tolerance: 0.1 },
  { metric: 'latency', path: 'attest-verify', size: 32768, published: 399, tolerance: 0.1 },
  { metric: 'latency', path: 'send-only', size: 128, published: 10.4, tolerance: 0.1 },
  { metric: 'latency', path: 'send-only', size: 32768, published: 352, tolerance: 0.1 },
];

export interface AnchorComparison extends Anchor {
  ours: number;
  ratio: number;
  withinTolerance: boolean;
}

/** Compare the anchors whose size is among `results`. */
export function compareAnchors(results: readonly SizeResult[], anchors = PROTOTYPE_ANCHORS): AnchorComparison[] {
  const out: AnchorComparison[] = [];
  for (const a of anchors) {
    const r = results.find((x) => x.size === a.size);
    if (r === undefined) continue;
    const path = r.paths[a.path];
    const ours = a.metric === 'throughput' ? path.throughputMBps : path.latency.totalNs / 1000;
    const ratio = ours / a.published;
    out.push({ ...a, ours, ratio, withinTolerance: Math.abs(ratio - 1) <= a.tolerance });
  }
  return out;
}

/**
 * Scale run of the NIC simulator: N nodes, M small messages between random
 * pairs, posted over time at an aggregate offered rate. Prints progress,
 * events per second of wall time and peak heap. Run:
 * npx tsx bench/sim_scale.ts [--nodes 64] [--messages 1000000] [--size 64] [--profile tnic] [--seed S]
 */

import { Prng, randomSeed } from '../sim/prng.ts';
import { NicNetwork, type Connection } from '../sim/nic/network.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : (process.argv[at + 1] ?? fallback);
}

const nodes = Number(argument('--nodes', '64'));
const messages = Number(argument('--messages', '1000000'));
const size = Number(argument('--size', '64'));
const seed = Number(argument('--seed', String(randomSeed()))) >>> 0;
const profile = getProfile(loadProfiles(), argument('--profile', 'tnic'));
/** Spacing of posts across the whole network; 200 ns is 5 million messages per second offered. */
const GAP_NS = 200;
const BATCH = 10_000;

console.error(`scale: ${nodes} nodes, ${messages} messages of ${size} B, profile ${profile.name}, seed ${seed}`);
const net = new NicNetwork({ profile, seed, nodes, path: 'attest-verify' });
const prng = new Prng(seed);
const conns = new Map<number, Connection>();
const msg = prng.bytes(size);
let completed = 0;
let peakHeap = 0;

// Posts are scheduled in batches so the queue never contains all messages at once.
function postBatch(first: number): void {
  const last = Math.min(first + BATCH, messages);
  for (let i = first; i < last; i++) {
    const a = prng.int(0, nodes - 1);
    const b = (a + prng.int(1, nodes - 1)) % nodes;
    const key = a * nodes + b;
    let conn = conns.get(key);
    if (conn === undefined) conns.set(key, (conn = net.connect(a, b)));
    const c = conn;
    net.queue.at(i * GAP_NS, () => {
      net.post(c, msg);
      // Drop finished records so memory stays bounded.
      if (c.records.length > 64 && c.delivered === c.records.length) {
        completed += c.records.length;
        c.records.length = 0;
        c.delivered = 0;
      }
    });
  }
  if (last < messages) net.queue.at(first * GAP_NS, () => postBatch(last));
}

const started = performance.now();
postBatch(0);
let lastReport = started;
while (net.queue.pending > 0) {
  net.queue.run(Infinity, 200_000);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  if (performance.now() - lastReport > 5000) {
    lastReport = performance.now();
    console.error(`scale: ${net.queue.executed} events, virtual time ${(net.queue.now / 1e6).toFixed(2)} ms`);
  }
}
const seconds = (performance.now() - started) / 1000;
for (const c of conns.values()) completed += c.delivered;
console.log(`nodes ${nodes}, messages ${messages} (${completed} completed), connections ${conns.size}`);
console.log(`events ${net.queue.executed}, wall ${seconds.toFixed(1)} s, ${Math.round(net.queue.executed / seconds)} events/s`);
console.log(`virtual time ${(net.queue.now / 1e6).toFixed(2)} ms, verify failures ${net.counters.verifyFailures}`);
console.log(`peak heap ${(peakHeap / 2 ** 20).toFixed(0)} MiB`);

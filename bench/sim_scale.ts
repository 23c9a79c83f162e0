/**
 * Scale run of the NIC simulator: N nodes, M messages of one size between
 * random pairs, posted every 200 ns of virtual time across the network
 * (5 million messages per second offered). Reports events per second of
 * wall time, messages per second, and peak heap and RSS. Run:
 * npx tsx bench/sim_scale.ts [--nodes 64] [--messages 1000000] [--size 64] [--profile tnic] [--path attest-verify] [--seed S] [--json]
 * (--json prints the result as one JSON object instead of text lines).
 *
 * An event is one action taken off the simulator's event queue and run.
 * The kinds are: a post, a requester wake-up when a packet's bytes are
 * ready, a frame leaving the transmit pipeline, a frame arriving at the far
 * end of a link, a packet leaving the receive pipeline, and a retransmission
 * timer. A timer that was re-armed or stopped still runs once and does
 * nothing. With 64-byte messages and no faults that is 9 events per message.
 */

import { fileURLToPath } from 'node:url';

import { Prng, randomSeed } from '../sim/prng.ts';
import { NicNetwork, PATH_KINDS, type Connection, type MessageRecord, type PathKind } from '../sim/nic/network.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';

/** Spacing of posts across the whole network, in virtual ns. */
const GAP_NS = 200;
/** Posts scheduled at a time, so the queue never contains all messages at once. */
const BATCH = 10_000;
/** Events between two memory samples and progress checks. */
const SAMPLE_EVERY = 100_000;

export interface ScaleOptions {
  nodes: number;
  messages: number;
  /** Message size in bytes. */
  size: number;
  profile: string;
  path: PathKind;
  seed: number;
  /** Called with a progress line about every 5 s of wall time. */
  log?: (line: string) => void;
}

export interface ScaleResult {
  nodes: number;
  messages: number;
  size: number;
  profile: string;
  path: PathKind;
  seed: number;
  connections: number;
  completed: number;
  verifyFailures: number;
  events: number;
  wallSeconds: number;
  /** User plus system CPU time of the process during the run, which other load on the machine affects less than wall time. */
  cpuSeconds: number;
  eventsPerSecond: number;
  eventsPerCpuSecond: number;
  messagesPerSecond: number;
  virtualTimeNs: number;
  /** Mean of completedAt - postedAt over all messages, in virtual ns. */
  meanLatencyNs: number;
  /** Order-independent hash of (connection, index, postedAt, completedAt) of every message. */
  completionDigest: string;
  /** Largest heapUsed seen, sampled every 100,000 events and at the end. */
  peakHeapBytes: number;
  /** Peak resident set size of the process (getrusage maxrss), including what ran before. */
  peakRssBytes: number;
  /**
   * heapUsed after a full garbage collection at the end, while the network
   * still exists; null unless node runs with --expose-gc.
   */
  liveHeapAfterRunBytes: number | null;
}

export function runSimScale(o: ScaleOptions): ScaleResult {
  const profile = getProfile(loadProfiles(), o.profile);
  const digest = new CompletionDigest();
  let latencySum = 0;
  const net = new NicNetwork({
    profile,
    seed: o.seed,
    nodes: o.nodes,
    path: o.path,
    onComplete: (r) => {
      digest.add(r);
      latencySum += r.completedAt! - r.postedAt;
    },
  });
  const prng = new Prng(o.seed);
  const conns = new Array<Connection | undefined>(o.nodes * o.nodes);
  const msg = prng.bytes(o.size);
  // Post times only grow, so the posts go through a lane instead of the heap.
  const posts = net.queue.createLane();

  const postBatch = (first: number): void => {
    const last = Math.min(first + BATCH, o.messages);
    for (let i = first; i < last; i++) {
      const a = prng.int(0, o.nodes - 1);
      const b = (a + prng.int(1, o.nodes - 1)) % o.nodes;
      let conn = conns[a * o.nodes + b];
      if (conn === undefined) conn = conns[a * o.nodes + b] = net.connect(a, b);
      posts.call(i * GAP_NS, postMessage, net, conn, msg);
    }
    if (last < o.messages) net.queue.at(first * GAP_NS, () => postBatch(last));
  };

  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let peakHeap = 0;
  let lastLog = started;
  postBatch(0);
  while (net.queue.pending > 0) {
    net.queue.run(Infinity, SAMPLE_EVERY);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    if (o.log !== undefined && performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      o.log(`scale: ${net.queue.executed} events, virtual time ${(net.queue.now / 1e6).toFixed(2)} ms`);
    }
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  const completed = digest.count;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const liveHeapAfterRunBytes = gc === undefined ? null : process.memoryUsage().heapUsed;
  // Read after the measurement, so that the network cannot be collected before it.
  const connectionCount = net.connections.length;
  return {
    nodes: o.nodes,
    messages: o.messages,
    size: o.size,
    profile: profile.name,
    path: o.path,
    seed: o.seed,
    connections: connectionCount,
    completed,
    verifyFailures: net.counters.verifyFailures,
    events: net.queue.executed,
    wallSeconds,
    cpuSeconds,
    eventsPerSecond: net.queue.executed / wallSeconds,
    eventsPerCpuSecond: net.queue.executed / cpuSeconds,
    messagesPerSecond: completed / wallSeconds,
    virtualTimeNs: net.queue.now,
    meanLatencyNs: completed === 0 ? 0 : latencySum / completed,
    completionDigest: digest.hex(),
    peakHeapBytes: peakHeap,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    liveHeapAfterRunBytes,
  };
}

/** Event handler: the host posts `msg` on `conn`. */
function postMessage(net: NicNetwork, conn: Connection, msg: Uint8Array): void {
  net.post(conn, msg);
}

/**
 * Sum and XOR of a 32-bit mix of every completed message, so the digest
 * does not depend on completion order and costs no per-message memory.
 */
class CompletionDigest {
  count = 0;
  #sum = 0;
  #xor = 0;
  readonly #times = new Float64Array(2);
  readonly #words = new Uint32Array(this.#times.buffer);

  add(r: MessageRecord): void {
    this.#times[0] = r.postedAt;
    this.#times[1] = r.completedAt!;
    let h = mix(r.connection + 0x9e3779b9);
    h = mix(h ^ r.index);
    for (let i = 0; i < 4; i++) h = mix(h ^ this.#words[i]!);
    this.#sum = (this.#sum + h) >>> 0;
    this.#xor = (this.#xor ^ h) >>> 0;
    this.count++;
  }

  hex(): string {
    return this.#sum.toString(16).padStart(8, '0') + this.#xor.toString(16).padStart(8, '0');
  }
}

/** Finalizer of MurmurHash3: spreads every input bit over the 32-bit result. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Format a result as the lines the command prints. */
export function formatScaleResult(r: ScaleResult): string[] {
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return [
    `nodes ${r.nodes}, messages ${r.messages} of ${r.size} B (${r.completed} completed), connections ${r.connections}, ` +
      `profile ${r.profile}, path ${r.path}, seed ${r.seed}`,
    `events ${r.events} (${(r.events / Math.max(1, r.messages)).toFixed(2)} per message), wall ${r.wallSeconds.toFixed(1)} s, ` +
      `${Math.round(r.eventsPerSecond)} events/s, ${Math.round(r.messagesPerSecond)} messages/s ` +
      `(CPU ${r.cpuSeconds.toFixed(1)} s, ${Math.round(r.eventsPerCpuSecond)} events per CPU second)`,
    `virtual time ${(r.virtualTimeNs / 1e6).toFixed(2)} ms, mean latency ${(r.meanLatencyNs / 1000).toFixed(2)} us, ` +
      `verify failures ${r.verifyFailures}, completion digest ${r.completionDigest}`,
    `peak heap ${mib(r.peakHeapBytes)}, peak RSS ${mib(r.peakRssBytes)}, live heap after the run ` +
      (r.liveHeapAfterRunBytes === null ? 'not measured (run node with --expose-gc)' : mib(r.liveHeapAfterRunBytes)),
  ];
}

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : (process.argv[at + 1] ?? fallback);
}

function integerArgument(name: string, fallback: number, min: number, max: number): number {
  const text = argument(name, String(fallback));
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    console.error(`${name} '${text}' is not an integer in ${min}..${max}`);
    process.exit(2);
  }
  return value;
}

function main(): void {
  const path = argument('--path', 'attest-verify');
  if (!(PATH_KINDS as readonly string[]).includes(path)) {
    console.error(`--path '${path}' is not one of ${PATH_KINDS.join(', ')}`);
    process.exit(2);
  }
  const options: ScaleOptions = {
    nodes: integerArgument('--nodes', 64, 2, 4096),
    messages: integerArgument('--messages', 1_000_000, 1, 1e9),
    size: integerArgument('--size', 64, 0, 1 << 24),
    profile: argument('--profile', 'tnic'),
    path: path as PathKind,
    seed: integerArgument('--seed', randomSeed(), 0, 2 ** 32 - 1),
    log: (line) => console.error(line),
  };
  console.error(
    `scale: ${options.nodes} nodes, ${options.messages} messages of ${options.size} B, ` +
      `profile ${options.profile}, path ${options.path}, seed ${options.seed}`,
  );
  const result = runSimScale(options);
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
  else for (const line of formatScaleResult(result)) console.log(line);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();

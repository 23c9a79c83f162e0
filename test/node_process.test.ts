/**
 * Node processes over real UDP on 127.0.0.1: two `tnic node` processes run
 * the echo protocol with each other, and the test's own socket plays a
 * third peer of node n0 that sends genuine, replayed, forged and malformed
 * traffic. Then `tnic cluster up|down` starts and stops three processes
 * that the IP vendor attests and provisions.
 *
 * Every wait is bounded by WAIT_MS and fails with what did not happen; it
 * guards against hangs and checks no speed.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { UnknownSessionError } from '../api/errors.ts';
import { Tnic, decodeAttested, encodeAttested } from '../api/tnic_api.ts';
import { QueuePair, authSend, ibvSync, poll } from '../api/verbs.ts';
import { Prng } from '../sim/prng.ts';
import { DeviceHardware } from '../stack/bootstrap/device_controller.ts';
import { IpVendor } from '../stack/bootstrap/ip_vendor.ts';
import { DROP_REASONS, decodeFrame, emptyDropCounts } from '../stack/frame.ts';
import { ProvisioningServer, provisionFromVendor } from '../stack/node/bootstrap_link.ts';
import { CLUSTER_FILE, isNodeRunning, readCluster, type ClusterRecord } from '../stack/node/cluster.ts';
import { decodeEcho, encodeEcho } from '../systems/node/echo_message.ts';
import type { NodeStats } from '../systems/node/tnic_node.ts';
import { UdpTransport } from '../stack/udp_transport.ts';
import { encodeVerb } from '../stack/verbs_wire.ts';
import { malformedDatagram } from './datagram_arbitrary.ts';
import { testSeed } from './seed.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Upper bound on each wait for another process; a hang guard, not a performance check. */
const WAIT_MS = 20_000;
const ECHO_COUNT = 20;
const PROBE_DEVICE = 9;
const PROBE_SESSION = 1;
const KEY_N0_N1 = 'a1'.repeat(32);
const KEY_N0_PROBE = 'b2'.repeat(32);
const MALFORMED_DATAGRAMS = 100_000;
/** Datagrams drawn per fast-check sample; each draw uses the seed plus the round number. */
const DATAGRAM_BATCH = 1000;
/**
 * Datagrams and bytes sent before waiting for the node to count them, so its
 * socket buffer never overflows: Linux charges every datagram its buffer
 * overhead (about 1 KiB) against the receive buffer, which is 208 KiB where
 * net.core.rmem_max keeps its default. A datagram that would take a burst
 * past BURST_BYTES waits for the node first, so it goes alone or with less.
 */
const BURST_DATAGRAMS = 64;
const BURST_BYTES = 32 * 1024;
const MALFORMED_MESSAGES = 200;

const encoder = new TextEncoder();

/** A spawned `tnic node` with its stdout events and stderr log. */
interface NodeProcess {
  name: string;
  child: ChildProcess;
  events: Record<string, unknown>[];
  log: string[];
  exit: Promise<number | null>;
  /** Called after each stdout line is added to `events`. */
  onEvent: (() => void) | undefined;
}

const children: ChildProcess[] = [];

function startNode(name: string, configPath: string): NodeProcess {
  const child = spawn(process.execPath, ['bin/tnic.js', 'node', '--config', configPath], { cwd: REPO_ROOT });
  children.push(child);
  const node: NodeProcess = { name, child, events: [], log: [], exit: undefined!, onEvent: undefined };
  node.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      try {
        node.events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        node.events.push({ event: 'not-json', line });
      }
    }
    node.onEvent?.();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => node.log.push(chunk));
  return node;
}

/** Wait until `done()` is true, checking every 20 ms; fails after WAIT_MS with `awaited` and the node logs. */
async function until(done: () => boolean, awaited: string, nodes: NodeProcess[] = []): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) {
      const logs = nodes.map((n) => `--- ${n.name} log ---\n${n.log.join('')}`).join('\n');
      throw new Error(`${awaited} did not happen within ${WAIT_MS} ms\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Ask a node for its stats with SIGUSR1 and return the stats event it prints; fails after WAIT_MS. */
async function requestStats(node: NodeProcess): Promise<NodeStats> {
  const before = node.events.length;
  const isStats = (e: Record<string, unknown>): boolean => e.event === 'stats';
  const stats = new Promise<NodeStats>((resolve, reject) => {
    const timer = setTimeout(() => {
      node.onEvent = undefined;
      reject(new Error(`stats of ${node.name} did not arrive within ${WAIT_MS} ms\n${node.log.join('')}`));
    }, WAIT_MS);
    node.onEvent = () => {
      const event = node.events.slice(before).find(isStats);
      if (event === undefined) return;
      clearTimeout(timer);
      node.onEvent = undefined;
      resolve(event as unknown as NodeStats);
    };
  });
  node.child.kill('SIGUSR1');
  return stats;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((n, c) => n + c, 0);
}

/** UDP ports that were free a moment ago on 127.0.0.1. */
async function freePorts(count: number): Promise<number[]> {
  const sockets = Array.from({ length: count }, () => createSocket('udp4'));
  const ports = await Promise.all(
    sockets.map((s) => new Promise<number>((resolve) => s.bind(0, '127.0.0.1', () => resolve(s.address().port)))),
  );
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

describe('node processes over UDP', () => {
  let dir: string;
  let n0: NodeProcess;
  let n1: NodeProcess;
  let probeTnic: Tnic;
  let probe: UdpTransport;
  let junk: UdpTransport;
  let qp: QueuePair;
  let replies: number[];
  let n0Endpoint: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tnic-node-'));
    [probe, junk] = await Promise.all([UdpTransport.open(), UdpTransport.open()]);
    const [port0, port1] = (await freePorts(2)) as [number, number];
    n0Endpoint = `127.0.0.1:${port0}`;

    const n0Keys = [
      { session: 0, key: KEY_N0_N1 },
      { session: PROBE_SESSION, key: KEY_N0_PROBE },
    ];
    writeFileSync(join(dir, 'n0.keys.json'), JSON.stringify({ sessions: n0Keys }));
    writeFileSync(join(dir, 'n1.keys.json'), JSON.stringify({ sessions: [{ session: 0, key: KEY_N0_N1 }] }));
    const n1Peer = { name: 'n1', port: port1, device: 2, session: 0, send: ECHO_COUNT };
    const probePeer = { name: 'probe', port: probe.port, device: PROBE_DEVICE, session: PROBE_SESSION };
    const n0Config = { name: 'n0', device: 1, port: port0, peers: [n1Peer, probePeer], keys: 'n0.keys.json' };
    const n1Config = {
      name: 'n1',
      device: 2,
      port: port1,
      peers: [{ name: 'n0', port: port0, device: 1, session: 0, send: ECHO_COUNT }],
      keys: 'n1.keys.json',
    };
    writeFileSync(join(dir, 'n0.json'), JSON.stringify(n0Config));
    writeFileSync(join(dir, 'n1.json'), JSON.stringify(n1Config));
    n0 = startNode('n0', join(dir, 'n0.json'));
    n1 = startNode('n1', join(dir, 'n1.json'));
    // A SIGUSR1 before the node installs its handler would start Node's inspector instead.
    const listening = (node: NodeProcess) => () => node.events.some((e) => e.event === 'listening');
    await until(listening(n0), 'n0 listening', [n0]);
    await until(listening(n1), 'n1 listening', [n1]);

    probeTnic = await Tnic.open('model', PROBE_DEVICE);
    await probeTnic.provision(PROBE_SESSION, new Uint8Array(Buffer.from(KEY_N0_PROBE, 'hex')));
    await probeTnic.lock();
    const channel = probe.channel({ address: '127.0.0.1', port: port0 }, 0, { rtoMs: 50, maxRetries: 30 });
    qp = new QueuePair(probeTnic, channel, { session: PROBE_SESSION, peerDeviceId: 1 });
    replies = [];
    qp.onReadable = async () => {
      for (const m of await poll(qp)) replies.push(decodeEcho(m.msg).index);
    };
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all([probe?.close(), junk?.close()]);
    await probeTnic?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exchanges verified echoes between processes', async () => {
    const done = (node: NodeProcess, peer: string): boolean =>
      node.events.some((e) => e.event === 'echo-done' && e.peer === peer);
    await until(() => done(n0, 'n1') && done(n1, 'n0'), 'echo-done on both nodes', [n0, n1]);

    for (const [node, peer] of [[n0, 'n1'], [n1, 'n0']] as const) {
      const stats = (await requestStats(node)).peers[peer]!;
      expect(stats.sent, `${node.name} requests sent`).toBe(ECHO_COUNT);
      expect(stats.echoes, `${node.name} replies verified`).toBe(ECHO_COUNT);
      expect(stats.requests, `${node.name} requests answered`).toBe(ECHO_COUNT);
      expect(stats.delivered, `${node.name} delivered`).toBe(2 * ECHO_COUNT);
      expect(sum(stats.rejected), `${node.name} rejected`).toBe(0);
      expect(stats.unexpected, `${node.name} unexpected`).toBe(0);
    }
  });

  it('rejects a replayed and a forged message', async () => {
    await withTimeout(ibvSync(qp), 'ibvSync of the probe with n0');

    const first = await authSend(qp, encodeEcho({ kind: 'request', index: 0, payload: encoder.encode('first') }));
    await until(() => replies.length === 1, 'reply to the first request', [n0]);
    // The probe's host replays message 0 and forges counter 1 with another payload.
    qp.channel.send(encodeVerb({ op: 'attested', bytes: first }));
    const forgedMsg = encodeEcho({ kind: 'request', index: 1, payload: encoder.encode('forged') });
    const forged = encodeAttested({ ...decodeAttested(first), counter: 1n, msg: forgedMsg });
    qp.channel.send(encodeVerb({ op: 'attested', bytes: forged }));
    await authSend(qp, encodeEcho({ kind: 'request', index: 1, payload: encoder.encode('second') }));
    await until(() => replies.length === 2, 'reply to the second request', [n0]);

    const stats = (await requestStats(n0)).peers.probe!;
    expect(replies, 'replies in order').toEqual([0, 1]);
    expect(stats.requests, 'genuine requests answered').toBe(2);
    expect(stats.delivered, 'delivered').toBe(2);
    expect(stats.rejected.replayed, 'replay rejected').toBe(1);
    expect(stats.rejected['bad-tag'], 'forgery rejected').toBe(1);
  });

  it('survives 100,000 malformed datagrams', async () => {
    const seed = testSeed('node malformed datagrams');
    const before = await requestStats(n0);
    const expected = emptyDropCounts();
    let sent = 0;
    for (let round = 0; sent < MALFORMED_DATAGRAMS; round++) {
      const batch = fc.sample(malformedDatagram, { seed: (seed + round) | 0, numRuns: DATAGRAM_BATCH });
      let burstBytes = 0;
      let burst = 0;
      for (const datagram of batch) {
        if (sent === MALFORMED_DATAGRAMS) break;
        if (burst >= BURST_DATAGRAMS || (burst > 0 && burstBytes + datagram.length > BURST_BYTES)) {
          await waitForDrops(sent, before, seed);
          burst = 0;
          burstBytes = 0;
        }
        const decoded = decodeFrame(datagram);
        expected[typeof decoded === 'string' ? decoded : 'unknown-connection'] += 1;
        await junk.sendDatagram(n0Endpoint, datagram);
        sent += 1;
        burst += 1;
        burstBytes += datagram.length;
      }
      await waitForDrops(sent, before, seed);
    }

    const after = await requestStats(n0);
    console.log(`n0 dropped ${sent} malformed datagrams, by reason: ${JSON.stringify(expected)}`);
    expect(n0.child.exitCode, 'n0 still runs').toBeNull();
    for (const reason of DROP_REASONS) {
      const counted = after.datagrams.dropped[reason] - before.datagrams.dropped[reason];
      expect(counted, `datagrams dropped as ${reason} (seed ${seed})`).toBe(expected[reason]);
    }
    for (const reason of ['too-short', 'bad-magic', 'bad-version', 'bad-type', 'bad-length', 'bad-checksum'] as const) {
      expect(expected[reason], `the stimulus covers ${reason}`).toBeGreaterThan(0);
    }
    expect(after.peers.probe!.delivered, 'nothing delivered').toBe(before.peers.probe!.delivered);
    expect(sum(after.rejected), 'nothing reached the device').toBe(sum(before.rejected));
  });

  /** Wait until n0 has dropped `sent` datagrams since `before`; fails after WAIT_MS. */
  async function waitForDrops(sent: number, before: NodeStats, seed: number): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const dropped = sum((await requestStats(n0)).datagrams.dropped) - sum(before.datagrams.dropped);
      if (dropped >= sent) return;
      if (Date.now() > deadline) throw new Error(`n0 counted ${dropped} of ${sent} malformed datagrams (seed ${seed})`);
    }
  }

  it('survives malformed messages on a channel', async () => {
    const seed = testSeed('node malformed messages');
    const prng = new Prng(seed);
    const before = (await requestStats(n0)).peers.probe!;
    let badOpcodes = 0;
    let badAttested = 0;
    // Valid frames from the probe's channel whose content is garbage: an
    // undefined queue pair opcode, or an attested message of random bytes.
    for (let i = 0; i < MALFORMED_MESSAGES; i++) {
      if (prng.int(0, 1) === 0) {
        qp.channel.send(Uint8Array.of(prng.int(6, 255), ...prng.bytes(prng.int(0, 40))));
        badOpcodes += 1;
      } else {
        qp.channel.send(encodeVerb({ op: 'attested', bytes: prng.bytes(prng.int(0, 120)) }));
        badAttested += 1;
      }
    }
    await authSend(qp, encodeEcho({ kind: 'request', index: 2, payload: encoder.encode('after garbage') }));
    await until(() => replies.length === 3, `reply after the garbage (seed ${seed})`, [n0]);

    const after = (await requestStats(n0)).peers.probe!;
    expect(after.malformed - before.malformed, 'undefined opcodes counted').toBe(badOpcodes);
    expect(sum(after.rejected) - sum(before.rejected), 'garbage attested messages rejected').toBe(badAttested);
    expect(after.requests, 'only genuine requests answered').toBe(3);
    expect(after.delivered, 'only genuine messages delivered').toBe(3);
    expect(after.error, 'connection healthy').toBeNull();
  });

  it('prints final stats on SIGTERM', async () => {
    n1.child.kill('SIGTERM');
    const code = await withTimeout(n1.exit, 'n1 exit after SIGTERM');
    const final = n1.events.find((e) => e.event === 'stats' && e.final === true) as unknown as NodeStats | undefined;
    expect(code, 'exit code').toBe(0);
    expect(final?.peers.n0?.echoes, 'final stats').toBe(ECHO_COUNT);
  });
});

describe('bootstrap over TCP', () => {
  const key = new Uint8Array(32).fill(0x5a);
  let server: ProvisioningServer;
  let tnic: Tnic;
  const failures: string[] = [];

  beforeAll(async () => {
    const vendor = await IpVendor.create(encoder.encode('test controller'));
    server = await ProvisioningServer.listen(vendor, '127.0.0.1', (line) => failures.push(line));
  });

  afterAll(async () => {
    await server?.close();
  });

  beforeEach(async () => {
    tnic = await Tnic.open('model', 5);
  });

  afterEach(async () => {
    await tnic.close();
  });

  it('provisions an attested node', async () => {
    const hardware = await DeviceHardware.manufacture();
    server.expect('a', 5, [{ session: 2, key: key.slice() }]);
    server.report('a', hardware.publicKey);
    const sessions = await provisionFromVendor('a', hardware, tnic.device, { address: '127.0.0.1', port: server.port });
    const report = await server.result('a');

    expect(sessions, 'sessions loaded').toBe(1);
    expect(report.deviceId, 'device id').toBe(5);
    expect((await tnic.localSend(2, encoder.encode('hi'))).length, 'attests').toBe(48 + 2);
  });

  it('rejects an unreported hardware key', async () => {
    const hardware = await DeviceHardware.manufacture();
    const reported = await DeviceHardware.manufacture();
    server.expect('b', 5, [{ session: 2, key: key.slice() }]);
    server.report('b', reported.publicKey);
    const node = provisionFromVendor('b', hardware, tnic.device, { address: '127.0.0.1', port: server.port });

    await expect(node, 'node side').rejects.toThrow(/presented hardware key .* not the .* the manufacturer reported/);
    await expect(server.result('b'), 'vendor side').rejects.toMatchObject({ reason: 'unknown-device-key' });
    await expect(tnic.localSend(2, encoder.encode('hi')), 'no key').rejects.toBeInstanceOf(UnknownSessionError);
    expect(failures.some((line) => line.includes('bootstrap of node b')), 'failure logged').toBe(true);
  });
});

describe('tnic node config', () => {
  it('rejects an invalid field with exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tnic-node-config-'));
    try {
      const peers = [{ name: 'n1', port: 4000, device: 2, session: 0 }];
      const config = { name: 'n0', device: 1, port: 70000, peers, keys: 'k.json' };
      writeFileSync(join(dir, 'n0.json'), JSON.stringify(config));
      const node = startNode('n0', join(dir, 'n0.json'));
      const code = await withTimeout(node.exit, 'exit on an invalid config');
      const lines = node.log.join('').trim().split('\n');
      expect(code, 'exit code').toBe(2);
      expect(lines, 'one line').toHaveLength(1);
      expect(lines[0], 'names the field and the range').toContain("field 'port' is 70000; use an integer in 0..65535");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tnic cluster', () => {
  let dir: string;
  let record: ClusterRecord | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tnic-cluster-'));
  });

  afterAll(() => {
    for (const node of record?.nodes ?? []) if (isNodeRunning(node)) process.kill(node.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts and stops attested nodes', async () => {
    const up = await runCli(['cluster', 'up', '--nodes', '3', '--dir', dir, '--messages', '5']);
    expect(up.code, `cluster up exit code\n${up.stderr}`).toBe(0);
    expect(up.stdout, 'stop command').toContain(`tnic cluster down --dir ${dir}`);
    record = readCluster(dir);
    expect(record.nodes.map((n) => n.name), 'nodes').toEqual(['n0', 'n1', 'n2']);
    expect(record.nodes.every((n) => isNodeRunning(n)), 'all running').toBe(true);

    const echoDone = (out: string): number => out.split('\n').filter((l) => l.includes('"echo-done"')).length;
    await until(
      () => record!.nodes.every((n) => echoDone(readFileSync(n.stdout, 'utf8')) === 2),
      'echo-done for both peers of every cluster node',
    );
    for (const node of record.nodes) {
      expect(readFileSync(node.stderr, 'utf8'), `${node.name} attested`).toContain('attested by the vendor');
    }

    const down = await runCli(['cluster', 'down', '--dir', dir]);
    expect(down.code, `cluster down exit code\n${down.stderr}`).toBe(0);
    expect(down.stdout, 'count').toContain('stopped 3 node processes');
    expect(record.nodes.filter((n) => isNodeRunning(n)), 'still running').toEqual([]);
    for (const node of record.nodes) {
      const final = readFileSync(node.stdout, 'utf8').split('\n').filter((l) => l.includes('"final":true'));
      expect(final, `${node.name} final stats`).toHaveLength(1);
    }
    expect(() => readCluster(dir), 'cluster file removed').toThrow(CLUSTER_FILE);
  });
});

function withTimeout<T>(promise: Promise<T>, awaited: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${awaited} did not happen within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Run the tnic CLI to completion, bounded by WAIT_MS. */
async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['bin/tnic.js', ...args], { cwd: REPO_ROOT });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
    `tnic ${args.join(' ')}`,
  );
  return { code, stdout, stderr };
}

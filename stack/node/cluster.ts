/**
 * A cluster of local node processes (`tnic cluster up|down`). `startCluster`
 * writes one config per node and runs the IP vendor's provisioning server.
 * It starts every node as a detached process with its output in log files,
 * and registers each node's hardware key as the manufacturer would. It
 * returns once every node is attested and provisioned. The processes keep
 * running after the command ends, and `stopCluster` stops them by the pids
 * in the cluster file.
 *
 * Every pair of nodes shares one session, numbered (i + j) mod N, which
 * gives each node N - 1 distinct sessions. Each session key is random and
 * travels only over the bootstrap channel, never to disk.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InputError, TnicError } from '../../sim/errors.ts';
import { N_SESSIONS } from '../../sim/kernel_port.ts';
import { IpVendor } from '../bootstrap/ip_vendor.ts';
import type { SessionSecret } from '../bootstrap/provisioning.ts';
import { ensureRtlBuilt } from '../../verify/build_rtl.ts';
import type { Backend } from '../kernel_backend.ts';
import { ProvisioningServer } from './bootstrap_link.ts';
import type { PeerConfig } from './node_config.ts';

export const MAX_CLUSTER_NODES = N_SESSIONS;
export const CLUSTER_FILE = 'cluster.json';
/** Milliseconds a node may take from its start to reporting its hardware key and being provisioned. */
export const NODE_START_TIMEOUT_MS = 60_000;
/** Milliseconds a node may take to exit after SIGTERM before it gets SIGKILL. */
export const NODE_STOP_TIMEOUT_MS = 10_000;

const ADDRESS = '127.0.0.1';
const BIN = fileURLToPath(new URL('../../bin/tnic.js', import.meta.url));
const CONTROLLER_CODE = new TextEncoder().encode('tnic node controller v1');

export interface ClusterOptions {
  nodes: number;
  dir: string;
  backend: Backend;
  /** Echo requests each node sends to each peer. */
  messages: number;
  log: (line: string) => void;
}

export interface ClusterNode {
  name: string;
  device: number;
  port: number;
  pid: number;
  config: string;
  stdout: string;
  stderr: string;
}

export interface ClusterRecord {
  dir: string;
  backend: Backend;
  nodes: ClusterNode[];
}

export async function startCluster(options: ClusterOptions): Promise<ClusterRecord> {
  const dir = resolve(options.dir);
  const clusterFile = join(dir, CLUSTER_FILE);
  if (existsSync(clusterFile) && readCluster(dir).nodes.some((n) => isNodeRunning(n))) {
    throw new InputError(
      `a cluster is already running in ${dir}; stop it with: tnic cluster down --dir ${options.dir}`,
    );
  }
  mkdirSync(dir, { recursive: true });
  // Build the Verilator harness once here, so the nodes do not all build it at the same time.
  if (options.backend === 'rtl') ensureRtlBuilt({ log: options.log });

  const ports = await freeUdpPorts(options.nodes);
  const names = ports.map((_, i) => `n${i}`);
  const keys = pairKeys(options.nodes);
  const vendor = await IpVendor.create(CONTROLLER_CODE);
  const server = await ProvisioningServer.listen(vendor, ADDRESS, options.log);
  const record: ClusterRecord = { dir, backend: options.backend, nodes: [] };

  try {
    for (let i = 0; i < options.nodes; i++) {
      const node = writeNodeConfig(dir, i, names, ports, options, server.port);
      server.expect(node.name, node.device, sessionsOf(i, options.nodes, keys));
      node.pid = spawnNode(node);
      record.nodes.push(node);
      // Written after every start, so `cluster down` finds each process even if a later step fails.
      writeFileSync(clusterFile, `${JSON.stringify(record, null, 2)}\n`);
      options.log(`started node ${node.name} (pid ${node.pid}, UDP ${ADDRESS}:${node.port})`);
    }

    await Promise.all(
      record.nodes.map(async (node) => {
        server.report(node.name, await waitForHardwareKey(node));
        const report = await server.result(node.name);
        const sessions = `${report.sessions} sessions provisioned`;
        options.log(`node ${node.name}: attested, device id ${report.deviceId}, ${sessions}`);
      }),
    );
  } catch (err) {
    if (record.nodes.length > 0) {
      options.log(`stopping the ${record.nodes.length} started nodes after the error`);
      await stopCluster(options.dir, options.log);
    }
    throw err;
  } finally {
    await server.close();
    for (const key of keys.values()) key.fill(0);
  }
  return record;
}

/** Stop every running node of the cluster in `dir` and remove the cluster file; returns how many were stopped. */
export async function stopCluster(dirOption: string, log: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption);
  if (!existsSync(join(dir, CLUSTER_FILE))) {
    throw new InputError(`no cluster file ${join(dir, CLUSTER_FILE)}; give the --dir that cluster up used`);
  }
  const record = readCluster(dir);
  let stopped = 0;
  for (const node of record.nodes) {
    if (!isNodeRunning(node)) {
      log(`node ${node.name} (pid ${node.pid}) is not running`);
      continue;
    }
    process.kill(node.pid, 'SIGTERM');
    if (!(await waitForExit(node, NODE_STOP_TIMEOUT_MS))) {
      log(`node ${node.name} (pid ${node.pid}) did not exit within ${NODE_STOP_TIMEOUT_MS} ms; sending SIGKILL`);
      process.kill(node.pid, 'SIGKILL');
      await waitForExit(node, NODE_STOP_TIMEOUT_MS);
    }
    stopped += 1;
    log(`stopped node ${node.name} (pid ${node.pid}); its final stats are in ${node.stdout}`);
  }
  rmSync(join(dir, CLUSTER_FILE));
  return stopped;
}

export function readCluster(dir: string): ClusterRecord {
  const path = join(dir, CLUSTER_FILE);
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as ClusterRecord;
    if (!Array.isArray(record.nodes)) throw new Error('no nodes list');
    return record;
  } catch (err) {
    throw new InputError(`cluster file ${path} is unreadable (${(err as Error).message}); stop its processes by hand`);
  }
}

/**
 * True while the process `node.pid` runs this node's config. The command
 * line check keeps a reused pid from being signalled; a zombie, which an
 * init without reaping may leave, counts as exited.
 */
export function isNodeRunning(node: ClusterNode): boolean {
  const proc = `/proc/${node.pid}`;
  if (!existsSync(proc)) {
    try {
      process.kill(node.pid, 0);
      return true; // No /proc on this system: trust the pid.
    } catch {
      return false;
    }
  }
  try {
    const cmdline = readFileSync(join(proc, 'cmdline'), 'utf8');
    const state = readFileSync(join(proc, 'stat'), 'utf8').replace(/^.*\) /s, '')[0];
    return state !== 'Z' && cmdline.includes(node.config);
  } catch {
    return false;
  }
}

async function waitForExit(node: ClusterNode, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isNodeRunning(node)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function writeNodeConfig(
  dir: string,
  i: number,
  names: string[],
  ports: number[],
  options: ClusterOptions,
  vendorPort: number,
): ClusterNode {
  const peers: PeerConfig[] = [];
  for (let j = 0; j < options.nodes; j++) {
    if (j === i) continue;
    peers.push({
      name: names[j]!,
      address: ADDRESS,
      port: ports[j]!,
      device: j + 1,
      session: sessionOf(i, j, options.nodes),
      send: options.messages,
    });
  }
  const name = names[i]!;
  const config = {
    name,
    device: i + 1,
    backend: options.backend,
    address: ADDRESS,
    port: ports[i]!,
    peers,
    bootstrap: { address: ADDRESS, port: vendorPort },
  };
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return {
    name,
    device: i + 1,
    port: ports[i]!,
    pid: 0,
    config: path,
    stdout: join(dir, `${name}.out`),
    stderr: join(dir, `${name}.log`),
  };
}

function spawnNode(node: ClusterNode): number {
  const out = openSync(node.stdout, 'w');
  const err = openSync(node.stderr, 'w');
  try {
    const child = spawn(process.execPath, [BIN, 'node', '--config', node.config], {
      detached: true,
      stdio: ['ignore', out, err],
    });
    if (child.pid === undefined) throw new TnicError('cluster-start-failed', `could not start node ${node.name}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

/**
 * Read the node's hardware public key from the first `hardware-key` event in its output.
 * NOTE: this trusts the process that cluster up started to print its own key, in place
 * of a registry that the manufacturer fills when it fuses the key.
 */
async function waitForHardwareKey(node: ClusterNode): Promise<Uint8Array> {
  const deadline = Date.now() + NODE_START_TIMEOUT_MS;
  for (;;) {
    for (const line of readFileSync(node.stdout, 'utf8').split('\n')) {
      if (!line.includes('"hardware-key"')) continue;
      const event = JSON.parse(line) as { key?: unknown };
      if (typeof event.key === 'string' && /^[0-9a-f]{64}$/.test(event.key)) {
        return new Uint8Array(Buffer.from(event.key, 'hex'));
      }
    }
    if (!isNodeRunning(node)) {
      throw new TnicError('cluster-start-failed', `node ${node.name} exited during startup; see ${node.stderr}`);
    }
    if (Date.now() > deadline) {
      throw new TnicError(
        'cluster-start-failed',
        `node ${node.name} reported no hardware key within ${NODE_START_TIMEOUT_MS} ms; see ${node.stderr}`,
      );
    }
    await sleep(100);
  }
}

/**
 * Ports that were free a moment ago: bind each on 127.0.0.1, read it, and
 * release it. NOTE: another process may take a port before the node binds
 * it; the node then exits with an error naming the port.
 */
async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = Array.from({ length: count }, () => createSocket('udp4'));
  const ports = await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<number>((resolvePort, reject) => {
          socket.once('error', reject);
          socket.bind(0, ADDRESS, () => resolvePort(socket.address().port));
        }),
    ),
  );
  await Promise.all(sockets.map((socket) => new Promise<void>((done) => socket.close(() => done()))));
  return ports;
}

/** Return the session of nodes i and j: for a fixed i, (i + j) mod N differs for every j. */
function sessionOf(i: number, j: number, nodes: number): number {
  return (i + j) % nodes;
}

/** Make a random 32-byte key per pair of nodes, keyed "i,j" with i < j. */
function pairKeys(nodes: number): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (let i = 0; i < nodes; i++) {
    for (let j = i + 1; j < nodes; j++) keys.set(`${i},${j}`, new Uint8Array(randomBytes(32)));
  }
  return keys;
}

function sessionsOf(i: number, nodes: number, keys: Map<string, Uint8Array>): SessionSecret[] {
  const sessions: SessionSecret[] = [];
  for (let j = 0; j < nodes; j++) {
    if (j === i) continue;
    const key = keys.get(i < j ? `${i},${j}` : `${j},${i}`)!;
    sessions.push({ session: sessionOf(i, j, nodes), key: key.slice() });
  }
  return sessions;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

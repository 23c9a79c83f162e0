/**
 * A cluster of local node processes (`tnic cluster up|down|status`).
 * `startCluster` takes a layout: the processes, the sessions of each
 * device, and the config of each role. It writes one config per process
 * and runs the IP vendor's provisioning server. It starts every process as
 * a detached process with its output in log files, and registers each
 * one's hardware key as the manufacturer would. It returns once every
 * process is attested and provisioned and, for processes held until the
 * cluster starts, has reported its start. The processes keep running after
 * the command ends, and `stopCluster` stops them by the pids in the
 * cluster file.
 *
 * Processes whose layout names the same key label share one random
 * 32-byte session key. Keys travel only over the bootstrap channel, never
 * to disk.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InputError, TnicError } from '../../sim/errors.ts';
import { N_SESSIONS } from '../../sim/kernel_port.ts';
import { IpVendor } from '../bootstrap/ip_vendor.ts';
import type { BootstrapReport } from '../bootstrap/ip_vendor.ts';
import type { SessionSecret } from '../bootstrap/provisioning.ts';
import { ensureRtlBuilt } from '../../verify/build_rtl.ts';
import type { Backend } from '../kernel_backend.ts';
import { ProvisioningServer, type ClusterStart } from './bootstrap_link.ts';

/** Most processes of one cluster; each needs a session of its own in most layouts. */
export const MAX_CLUSTER_NODES = N_SESSIONS;
export const CLUSTER_FILE = 'cluster.json';
/** Milliseconds a node may take from its start to reporting its hardware key and being provisioned. */
export const NODE_START_TIMEOUT_MS = 60_000;
/** Milliseconds a node may take to exit after SIGTERM before it gets SIGKILL. */
export const NODE_STOP_TIMEOUT_MS = 10_000;

export const CLUSTER_ADDRESS = '127.0.0.1';
const ADDRESS = CLUSTER_ADDRESS;
const KEY_BYTES = 32;
const BIN = fileURLToPath(new URL('../../bin/tnic.js', import.meta.url));
const CONTROLLER_CODE = new TextEncoder().encode('tnic node controller v1');

/** One process of a layout. */
export interface ProcessPlan {
  name: string;
  device: number;
  /** The role the process plays, e.g. "replica" or "client"; shown in the cluster file. */
  role: string;
  /** Sessions of the device; processes that name the same key label share that session's key. */
  sessions: { session: number; key: string }[];
  /**
   * Whether the process waits for the vendor's start message, which comes
   * once every process is provisioned and carries the trust roots.
   */
  awaitStart: boolean;
  /** Processes whose client key certificates the start message carries. */
  certificatesOf: string[];
  /** Further fields of the process's config, e.g. `peers` or `system`. */
  config: Record<string, unknown>;
}

export interface ClusterLayout {
  /** The system the processes run, e.g. "echo" or "bft". */
  system: string;
  /** Process names, in start order; each gets a UDP port of its own. */
  names: readonly string[];
  /** Build every process's plan from the UDP port of each process name. */
  plan(ports: ReadonlyMap<string, number>): ProcessPlan[];
  /** The process whose summary file reports the end of the workload, if the system has one. */
  driver?: { name: string; summary: string; history?: string };
}

export interface ClusterOptions {
  layout: ClusterLayout;
  dir: string;
  backend: Backend;
  log: (line: string) => void;
}

export interface ClusterNode {
  name: string;
  /** Absent in cluster files written before roles existed. */
  role?: string;
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
  /** Absent in cluster files written before systems existed, which ran the echo protocol. */
  system?: string;
  nodes: ClusterNode[];
  /** Absolute paths of the driver's summary and history files. */
  driver?: { name: string; summary: string; history?: string };
}

export async function startCluster(options: ClusterOptions): Promise<ClusterRecord> {
  const { layout } = options;
  const dir = resolve(options.dir);
  const clusterFile = join(dir, CLUSTER_FILE);
  checkUnusedDir(dir, options.dir);
  mkdirSync(dir, { recursive: true });
  // Build the Verilator harness once here, so the nodes do not all build it at the same time.
  if (options.backend === 'rtl') ensureRtlBuilt({ log: options.log });

  const free = await freeUdpPorts(layout.names.length);
  const ports = new Map(layout.names.map((name, i) => [name, free[i]!]));
  const plans = layout.plan(ports);
  const keys = drawKeys(plans);
  const vendor = await IpVendor.create(CONTROLLER_CODE);
  const server = await ProvisioningServer.listen(vendor, ADDRESS, options.log);
  const record: ClusterRecord = { dir, backend: options.backend, system: layout.system, nodes: [] };
  if (layout.driver !== undefined) {
    const { name, summary, history } = layout.driver;
    record.driver = { name, summary: join(dir, summary), history: history === undefined ? undefined : join(dir, history) };
  }

  try {
    for (const plan of plans) {
      const node = writeNodeConfig(dir, plan, ports.get(plan.name)!, options.backend, server.port);
      server.expect(node.name, node.device, secretsOf(plan, keys), { holdUntilStart: plan.awaitStart });
      node.pid = spawnNode(node);
      record.nodes.push(node);
      // Written after every start, so `cluster down` finds each process even if a later step fails.
      writeFileSync(clusterFile, `${JSON.stringify(record, null, 2)}\n`);
      options.log(`started ${node.role} ${node.name} (pid ${node.pid}, UDP ${ADDRESS}:${node.port})`);
    }

    const reports = new Map<string, BootstrapReport>();
    await Promise.all(
      record.nodes.map(async (node) => {
        server.report(node.name, await waitForEvent(node, 'hardware-key', 'reported no hardware key'));
        const report = await server.result(node.name);
        reports.set(node.name, report);
        const sessions = `${report.sessions} sessions provisioned`;
        options.log(`node ${node.name}: attested, device id ${report.deviceId}, ${sessions}`);
      }),
    );
    await startHeldProcesses(plans, record, reports, server, vendor, options.log);
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

/**
 * Send every held process its start message, now that all are provisioned,
 * and wait until each reports that it started its role.
 */
async function startHeldProcesses(
  plans: readonly ProcessPlan[],
  record: ClusterRecord,
  reports: ReadonlyMap<string, BootstrapReport>,
  server: ProvisioningServer,
  vendor: IpVendor,
  log: (line: string) => void,
): Promise<void> {
  const held = plans.filter((plan) => plan.awaitStart);
  for (const plan of held) {
    const certificates = new Map(plan.certificatesOf.map((name) => [name, reports.get(name)!.clientCertificate]));
    const start: ClusterStart = { roots: vendor.trustRoots(), certificates };
    server.start(plan.name, start);
  }
  await Promise.all(
    held.map(async (plan) => {
      const node = record.nodes.find((n) => n.name === plan.name)!;
      await waitForEvent(node, 'started', 'did not start its role');
      log(`node ${node.name}: started as ${plan.role}`);
    }),
  );
}

/**
 * Reject a folder that already contains files: a running cluster's, or the
 * logs and results of an earlier one, which the new cluster would mix with
 * its own.
 */
function checkUnusedDir(dir: string, option: string): void {
  if (!existsSync(dir)) return;
  if (existsSync(join(dir, CLUSTER_FILE)) && readCluster(dir).nodes.some((n) => isNodeRunning(n))) {
    throw new InputError(`a cluster is already running in ${dir}; stop it with: tnic cluster down --dir ${option}`);
  }
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    throw new InputError(`--dir ${option} is not a folder; give the path of a new or empty folder`);
  }
  if (entries.length > 0) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', ...' : '');
    throw new InputError(
      `--dir ${option} already contains files of an earlier cluster (${shown}); give a new folder or remove this one`,
    );
  }
}

/** Stop every running node of the cluster in `dir` and remove the cluster file; returns how many were stopped. */
export async function stopCluster(dirOption: string, log: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption);
  const record = findCluster(dirOption);
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

/** Read the cluster file in the folder given as `--dir`; the error names a missing folder or file. */
export function findCluster(dirOption: string): ClusterRecord {
  const dir = resolve(dirOption);
  if (!existsSync(dir)) {
    throw new InputError(`--dir ${dirOption} does not exist; give the --dir that cluster up used`);
  }
  if (!existsSync(join(dir, CLUSTER_FILE))) {
    throw new InputError(
      `--dir ${dirOption} has no cluster file ${CLUSTER_FILE}: no cluster runs there; give the --dir that cluster up used`,
    );
  }
  return readCluster(dir);
}

export function readCluster(dir: string): ClusterRecord {
  const path = join(dir, CLUSTER_FILE);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`cluster file ${path} is unreadable (${(err as Error).message}); stop its processes by hand`);
  }
  checkClusterRecord(value, path);
  return value;
}

/**
 * Check the fields of a cluster file that status and down use, so that a
 * damaged file gives an error naming the field rather than "undefined" in
 * the output or a signal to a wrong pid.
 */
function checkClusterRecord(value: unknown, path: string): asserts value is ClusterRecord {
  const fail = (field: string, problem: string): never => {
    throw new InputError(
      `cluster file ${path}: field '${field}' ${problem}; cluster up writes it, so the file was edited or cut short. ` +
        `Restore it, or stop the processes by hand and start a new cluster`,
    );
  };
  const check = (record: Record<string, unknown>, field: string, label: string, type: ClusterFieldType): void => {
    const problem = clusterFieldProblem(record[field], type);
    if (problem !== undefined) fail(label, problem);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

  if (!isObject(value)) return fail('(top level)', 'is not a JSON object');
  check(value, 'dir', 'dir', 'string');
  check(value, 'backend', 'backend', 'string');
  check(value, 'system', 'system', 'string?');
  if (!Array.isArray(value.nodes) || value.nodes.length === 0) fail('nodes', 'is missing or empty');
  const nodes = value.nodes as unknown[];
  nodes.forEach((node, i) => {
    if (!isObject(node)) return fail(`nodes[${i}]`, 'is not an object');
    for (const [field, type] of Object.entries(CLUSTER_NODE_FIELDS)) check(node, field, `nodes[${i}].${field}`, type);
  });
  if (value.driver === undefined) return;
  if (!isObject(value.driver)) return fail('driver', 'is not an object');
  for (const field of ['name', 'summary'] as const) check(value.driver, field, `driver.${field}`, 'string');
  check(value.driver, 'history', 'driver.history', 'string?');
  const driverName = value.driver.name;
  if (!nodes.some((node) => (node as ClusterNode).name === driverName)) {
    fail('driver.name', `names ${JSON.stringify(driverName)}, which is none of the nodes`);
  }
}

/** A field type of a cluster file; `?` marks a field that files of earlier versions lack. */
type ClusterFieldType = 'string' | 'string?' | 'integer' | 'pid';

/** Describe what is wrong with a cluster file field, or return undefined when it is valid. */
function clusterFieldProblem(found: unknown, type: ClusterFieldType): string | undefined {
  if (found === undefined) return type === 'string?' ? undefined : 'is missing';
  const text = JSON.stringify(found);
  const excerpt = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  if (type === 'string' || type === 'string?') {
    return typeof found === 'string' && found !== '' ? undefined : `is ${excerpt}, not a non-empty string`;
  }
  const integer = typeof found === 'number' && Number.isSafeInteger(found);
  if (type === 'pid') return integer && found > 0 ? undefined : `is ${excerpt}, not a process id`;
  return integer && found >= 0 ? undefined : `is ${excerpt}, not an integer`;
}

const CLUSTER_NODE_FIELDS: Record<string, ClusterFieldType> = {
  name: 'string',
  role: 'string?',
  device: 'integer',
  port: 'integer',
  pid: 'pid',
  config: 'string',
  stdout: 'string',
  stderr: 'string',
};

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
  plan: ProcessPlan,
  port: number,
  backend: Backend,
  vendorPort: number,
): ClusterNode {
  const config = {
    name: plan.name,
    device: plan.device,
    backend,
    address: ADDRESS,
    port,
    ...plan.config,
    bootstrap: { address: ADDRESS, port: vendorPort },
  };
  const path = join(dir, `${plan.name}.json`);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return {
    name: plan.name,
    role: plan.role,
    device: plan.device,
    port,
    pid: 0,
    config: path,
    stdout: join(dir, `${plan.name}.out`),
    stderr: join(dir, `${plan.name}.log`),
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
 * Wait for the first event `kind` in the node's output. For `hardware-key`
 * returns the key the event carries, else an empty array.
 * NOTE: this trusts the process that cluster up started to print its own key, in place
 * of a registry that the manufacturer fills when it fuses the key.
 */
async function waitForEvent(node: ClusterNode, kind: string, failure: string): Promise<Uint8Array> {
  const deadline = Date.now() + NODE_START_TIMEOUT_MS;
  for (;;) {
    for (const line of readFileSync(node.stdout, 'utf8').split('\n')) {
      if (!line.includes(`"${kind}"`)) continue;
      const event = JSON.parse(line) as { event?: unknown; key?: unknown };
      if (event.event !== kind) continue;
      if (kind !== 'hardware-key') return new Uint8Array();
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
        `node ${node.name} ${failure} within ${NODE_START_TIMEOUT_MS} ms; see ${node.stderr}`,
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

/** Draw one random key per key label of the layout. */
function drawKeys(plans: readonly ProcessPlan[]): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (const plan of plans) {
    for (const { key } of plan.sessions) if (!keys.has(key)) keys.set(key, new Uint8Array(randomBytes(KEY_BYTES)));
  }
  return keys;
}

/** Copies of the keys of `plan`'s sessions; the provisioning server zeroes them after use. */
function secretsOf(plan: ProcessPlan, keys: ReadonlyMap<string, Uint8Array>): SessionSecret[] {
  return plan.sessions.map(({ session, key }) => ({ session, key: keys.get(key)!.slice() }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The distributed systems as OS processes over real UDP on 127.0.0.1.
 * `tnic cluster up --system bft|cr|peerreview|a2m` starts every role in its
 * own process, and the IP vendor attests and provisions each over the
 * bootstrap channel. The driver (client or witness) runs a small workload
 * and writes its summary. Then `tnic cluster down` stops the processes.
 * The input errors of `cluster up`, `status` and `down` exit with code 2.
 *
 * Every wait is bounded and fails with what did not happen and the
 * driver's log; it guards against hangs and checks no speed.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isNodeRunning, readCluster, type ClusterRecord } from '../stack/node/cluster.ts';
import type { Summary } from '../systems/node/system_role.ts';
import { checkJepsenLog, parseJepsenLog } from '../verify/linearizability.ts';
import { testSeed } from './seed.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Upper bound on `cluster up`, whose own wait for each process is 60 s; a hang guard. */
const UP_WAIT_MS = 90_000;
/** Upper bound on the driver's summary after `cluster up` returned; a hang guard. */
const SUMMARY_WAIT_MS = 60_000;
const CLI_WAIT_MS = 30_000;

const children: ChildProcess[] = [];
const started: ClusterRecord[] = [];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the tnic CLI to completion, bounded by `waitMs`. */
async function runCli(args: string[], waitMs = CLI_WAIT_MS): Promise<CliResult> {
  const child = spawn(process.execPath, ['bin/tnic.js', ...args], { cwd: REPO_ROOT });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let timer: NodeJS.Timeout | undefined;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`tnic ${args.join(' ')} did not exit within ${waitMs} ms\n${stderr}`)), waitMs);
  });
  const code = await Promise.race([exit, timeout]).finally(() => clearTimeout(timer));
  return { code, stdout, stderr };
}

/** Wait for the driver's summary file; fails after SUMMARY_WAIT_MS with the driver's log. */
async function waitForSummary(record: ClusterRecord): Promise<Summary> {
  const driver = record.driver!;
  const deadline = Date.now() + SUMMARY_WAIT_MS;
  while (!existsSync(driver.summary)) {
    if (Date.now() > deadline) {
      const logs = record.nodes.map((n) => `--- ${n.name} ---\n${readFileSync(n.stderr, 'utf8')}`).join('\n');
      throw new Error(`${driver.summary} was not written within ${SUMMARY_WAIT_MS} ms\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The file is written in one call; a read that races it would fail to parse, so retry once.
  try {
    return JSON.parse(readFileSync(driver.summary, 'utf8')) as Summary;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return JSON.parse(readFileSync(driver.summary, 'utf8')) as Summary;
  }
}

/** Start a cluster with `args`, check it came up, and return its record. */
async function clusterUp(dir: string, args: string[]): Promise<ClusterRecord> {
  const up = await runCli(['cluster', 'up', '--dir', dir, ...args], UP_WAIT_MS);
  expect(up.code, `cluster up exit code\n${up.stderr}`).toBe(0);
  expect(up.stdout, 'stop command').toContain(`tnic cluster down --dir ${dir}`);
  const record = readCluster(dir);
  started.push(record);
  expect(record.nodes.filter((n) => !isNodeRunning(n)).map((n) => n.name), 'exited after up').toEqual([]);
  for (const node of record.nodes) {
    expect(readFileSync(node.stderr, 'utf8'), `${node.name} attested`).toContain('attested by the vendor');
  }
  return record;
}

/** Stop the cluster and check that every process exited after printing its final stats. */
async function clusterDown(dir: string, record: ClusterRecord): Promise<void> {
  const down = await runCli(['cluster', 'down', '--dir', dir]);
  expect(down.code, `cluster down exit code\n${down.stderr}`).toBe(0);
  expect(down.stdout, 'count').toContain(`stopped ${record.nodes.length} node processes`);
  expect(record.nodes.filter((n) => isNodeRunning(n)).map((n) => n.name), 'still running').toEqual([]);
  for (const node of record.nodes) {
    const final = readFileSync(node.stdout, 'utf8').split('\n').filter((l) => l.includes('"final":true'));
    expect(final, `${node.name} final stats`).toHaveLength(1);
  }
}

describe('systems as node processes', () => {
  let root: string;
  let seed: number;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'tnic-system-'));
    seed = testSeed('system processes');
  });

  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const record of started) {
      for (const node of record.nodes) if (isNodeRunning(node)) process.kill(node.pid, 'SIGKILL');
    }
    rmSync(root, { recursive: true, force: true });
  });

  for (const system of ['bft', 'cr'] as const) {
    it(`runs ${system} to a linearizable history`, async () => {
      const dir = join(root, system);
      const workload = ['--processes', '3', '--operations', '5', '--seed', String(seed)];
      const record = await clusterUp(dir, ['--system', system, ...workload]);
      expect(record.nodes.map((n) => n.role), 'roles').toEqual(
        system === 'bft' ? ['replica', 'replica', 'replica', 'client'] : ['head', 'middle', 'tail', 'client'],
      );

      const summary = await waitForSummary(record);
      expect(summary.finished, `finished: ${summary.line}`).toBe(true);
    expect(summary.seed, 'workload seed').toBe(seed);
      expect(summary.seed, 'workload seed').toBe(seed);
      expect(summary.operations, 'operations').toBe(15);
      expect(summary.completed, 'completed').toBe(15);

      const history = readFileSync(record.driver!.history!, 'utf8');
      const operations = parseJepsenLog(history);
      expect(operations.filter((op) => Number.isFinite(op.ret)), 'completed in the history').toHaveLength(15);
      expect(checkJepsenLog(history).verdict, 'history').toBe('linearizable');

      const status = await runCli(['cluster', 'status', '--dir', dir]);
      expect(status.code, `status exit code\n${status.stderr}`).toBe(0);
      expect(status.stdout, 'status verdict').toContain(': linearizable');
      await clusterDown(dir, record);
    });
  }

  it('runs peerreview with clean audits', async () => {
    const dir = join(root, 'peerreview');
    const record = await clusterUp(dir, ['--system', 'peerreview', '--operations', '8', '--seed', String(seed)]);
    expect(record.nodes.map((n) => n.role), 'roles').toEqual(['source', 'child', 'child', 'witness']);

    const summary = await waitForSummary(record);
    expect(summary.finished, `finished: ${summary.line}`).toBe(true);
    expect(summary.seed, 'workload seed').toBe(seed);
    expect(summary.evidence, 'evidence').toEqual([]);
    // 8 chunks: the source sends 8; each child receives its 4, forwards them and receives the other 4.
    expect(summary.expected, 'expected log lengths').toEqual({ s: 8, c1: 12, c2: 12 });
    expect(summary.audited, 'audited log entries').toEqual({ s: 8, c1: 12, c2: 12 });
    expect(summary.completed, 'completed').toBe(summary.operations);
    await clusterDown(dir, record);
  });

  it('runs a2m with every entry verified', async () => {
    const dir = join(root, 'a2m');
    const workload = ['--processes', '2', '--operations', '6', '--seed', String(seed)];
    const record = await clusterUp(dir, ['--system', 'a2m', ...workload]);
    expect(record.nodes.map((n) => n.role), 'roles').toEqual(['server', 'client']);

    const summary = await waitForSummary(record);
    expect(summary.finished, `finished: ${summary.line}`).toBe(true);
    expect(summary.seed, 'workload seed').toBe(seed);
    expect(summary.operations, 'appends and lookups').toBe(24);
    expect(summary.completed, 'completed').toBe(24);
    expect(summary.appended, 'appended').toBe(12);
    expect(summary.verified, 'verified').toBe(24);
    expect(Object.values(summary.failed as Record<string, number>).every((n) => n === 0), 'no failure').toBe(true);
    await clusterDown(dir, record);
  });
});

// Each case runs its own CLI process on its own folder, so the cases run at the same time.
describe.concurrent('tnic cluster input errors', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'tnic-system-errors-'));
    mkdirSync(join(root, 'used'));
    writeFileSync(join(root, 'used', 'old.log'), 'an earlier run\n');
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  const cases: { name: string; args: () => string[]; message: string }[] = [
    {
      name: 'unknown system',
      args: () => ['cluster', 'up', '--system', 'raft', '--dir', join(root, 'a')],
      message: "--system 'raft' is not a system node processes run; use one of: echo, bft, cr, peerreview, a2m",
    },
    {
      name: 'even BFT replica count',
      args: () => ['cluster', 'up', '--system', 'bft', '--nodes', '4', '--dir', join(root, 'b')],
      message: '--nodes 4 does not fit bft: BFT runs 2f+1 replicas',
    },
    {
      name: 'too many BFT replicas for 16 sessions',
      args: () => ['cluster', 'up', '--system', 'bft', '--nodes', '9', '--dir', join(root, 'c')],
      message: 'an odd number from 3 to 7',
    },
    {
      name: 'chain of one node',
      args: () => ['cluster', 'up', '--system', 'cr', '--nodes', '1', '--dir', join(root, 'd')],
      message: '--nodes 1 does not fit cr: a chain has 2 to 15 nodes',
    },
    {
      name: 'option of another system',
      args: () => ['cluster', 'up', '--system', 'bft', '--messages', '3', '--dir', join(root, 'e')],
      message: '--messages does not apply to --system bft; use --operations',
    },
    {
      name: 'workload option of echo',
      args: () => ['cluster', 'up', '--operations', '3', '--dir', join(root, 'f')],
      // The line starts with the one option given, so no option the user left out is named.
      message: 'error: --operations does not apply to --system echo; use --messages',
    },
    {
      name: 'two workload options of echo',
      args: () => ['cluster', 'up', '--processes', '2', '--seed', '4', '--dir', join(root, 'g')],
      message: 'error: --processes and --seed do not apply to --system echo',
    },
    {
      name: 'used folder',
      args: () => ['cluster', 'up', '--system', 'a2m', '--dir', join(root, 'used')],
      message: 'already contains files of an earlier cluster (old.log); give a new folder or remove this one',
    },
    {
      name: 'status of a missing folder',
      args: () => ['cluster', 'status', '--dir', join(root, 'missing')],
      message: 'missing does not exist; give the --dir that cluster up used',
    },
    {
      name: 'down without a cluster',
      args: () => ['cluster', 'down', '--dir', join(root, 'used')],
      message: 'has no cluster file cluster.json: no cluster runs there',
    },
  ];

  for (const c of cases) {
    it(`rejects ${c.name} with exit code 2`, async ({ expect }) => {
      const result = await runCli(c.args());
      expect(result.code, `exit code\n${result.stderr}`).toBe(2);
      expect(result.stderr, 'message').toContain(c.message);
      expect(result.stdout, 'no process listed').not.toContain('pid');
    });
  }
});

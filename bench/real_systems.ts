/**
 * Real mode: the four systems as OS processes over UDP on 127.0.0.1 on this
 * machine (`tnic cluster up --system NAME`), one run per system and device,
 * timed by the client's wall clock. These are measurements of this machine,
 * never mixed with the simulated figures.
 *
 * Devices: ssl-lib computes HMACs in each node process and ssl-server in a
 * separate local server process per node, both really. The sgx and sev
 * baselines are left out: here they are ssl-lib with a modelled latency
 * that is never waited for. The model device runs the TNIC cycle model in
 * software, so its figure measures the simulator, not a NIC.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TnicError } from '../sim/errors.ts';
import type { Backend } from '../stack/kernel_backend.ts';
import { startCluster, stopCluster } from '../stack/node/cluster.ts';
import { DEFAULT_SIZES, systemLayout } from '../systems/node/cluster_layout.ts';
import type { SystemKind } from '../systems/node/system_config.ts';
import type { Summary } from '../systems/node/system_role.ts';
import { checkJepsenLog } from '../verify/linearizability.ts';

export const REAL_SYSTEMS: readonly SystemKind[] = ['a2m', 'bft', 'cr', 'peerreview'];
export const REAL_BACKENDS: readonly Backend[] = ['ssl-lib', 'ssl-server', 'model'];

/** Upper bound on one run's wait for the client's summary; a hang guard, not a performance check. */
const RUN_TIMEOUT_MS = 300_000;

export interface RealSystemRow {
  system: SystemKind;
  backend: Backend;
  /** Processes of the system, the client or witness included. */
  processes: number;
  /** Client processes issuing operations (for PeerReview: chunks streamed). */
  clients: number;
  /** Units of work planned and completed: operations, or log entries audited for PeerReview. */
  operations: number;
  completed: number;
  wallMs: number;
  perSecond: number;
  /** Linearizability of the client's history, for BFT and chain replication. */
  verdict: string | undefined;
  seed: number;
  /** Unit of work: an operation, an A2M append plus lookup, or an audited log entry. */
  unit: string;
}

export interface RealRunOptions {
  quick: boolean;
  seed: number;
  log(line: string): void;
}

const UNIT: Record<SystemKind, string> = {
  a2m: 'append + lookup',
  bft: 'operation',
  cr: 'operation',
  peerreview: 'audited log entry',
};

/** Run every system on every real-mode device and return one row per run. */
export async function runRealSystems(options: RealRunOptions): Promise<RealSystemRow[]> {
  const rows: RealSystemRow[] = [];
  const backends = options.quick ? (['ssl-lib'] as const) : REAL_BACKENDS;
  for (const system of REAL_SYSTEMS) {
    for (const backend of backends) {
      options.log(`real mode: ${system} on ${backend}`);
      rows.push(await runOne(system, backend, options));
    }
  }
  return rows;
}

async function runOne(system: SystemKind, backend: Backend, options: RealRunOptions): Promise<RealSystemRow> {
  const clients = options.quick ? 2 : 8;
  const operations = options.quick ? 10 : 100;
  const size = DEFAULT_SIZES[system];
  const dir = mkdtempSync(join(tmpdir(), `tnic-real-${system}-`));
  const quiet = (): void => {};
  try {
    const layout = systemLayout(system, size, { processes: clients, operations, seed: options.seed });
    const record = await startCluster({ layout, dir, backend, log: quiet });
    try {
      const driver = record.driver;
      if (driver === undefined) throw new TnicError('bench-failed', `the ${system} cluster has no client process`);
      const summary = await waitForSummary(driver.summary, `${system} on ${backend}`);
      const verdict =
        driver.history !== undefined && existsSync(driver.history)
          ? checkJepsenLog(readFileSync(driver.history, 'utf8'), {}, driver.history).verdict
          : undefined;
      if (!summary.finished || summary.completed !== summary.operations) {
        throw new TnicError('bench-failed', `${system} on ${backend}: ${summary.line}`);
      }
      return {
        system,
        backend,
        processes: record.nodes.length,
        clients: system === 'peerreview' ? 0 : clients,
        operations: summary.operations,
        completed: summary.completed,
        wallMs: summary.wallMs,
        perSecond: summary.wallMs > 0 ? (summary.completed * 1000) / summary.wallMs : 0,
        verdict,
        seed: options.seed,
        unit: UNIT[system],
      };
    } finally {
      await stopCluster(dir, quiet);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitForSummary(path: string, what: string): Promise<Summary> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (!existsSync(path)) {
    if (Date.now() > deadline) {
      throw new TnicError('bench-failed', `${what}: no summary at ${path} within ${RUN_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The file is written in one call, but a read that races the write can get a partial file, so retry once.
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Summary;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return JSON.parse(readFileSync(path, 'utf8')) as Summary;
  }
}

/**
 * `tnic run bft|cr|peerreview --scenario NAME`: run one fault scenario of a
 * system on the seeded simulated network or over real UDP sockets on
 * 127.0.0.1, print the scenario, its expected outcome, every check and
 * whether the run met it, and exit non-zero if not.
 */

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import { SimNetwork } from '../../stack/sim_network.ts';
import { UdpNetwork } from '../../stack/udp_network.ts';
import type { Backend } from '../../stack/tnic_device.ts';
import type { BatchSize } from '../../systems/bft/replica.ts';
import { bftScenarios } from '../../systems/scenarios/bft_scenarios.ts';
import { crScenarios } from '../../systems/scenarios/cr_scenarios.ts';
import {
  findPeerReviewScenario,
  peerReviewScenarios,
  type PeerReviewScenario,
} from '../../systems/scenarios/peerreview_scenarios.ts';
import { findScenario, type Scenario, type ScenarioResult } from '../../systems/scenarios/scenario.ts';
import { checkJepsenLog } from '../../verify/linearizability.ts';
import { BACKEND_HELP, parseBackend, parseIntOption } from '../options.ts';

interface SystemRunOptions {
  scenario: string;
  seed: number;
  transport: TransportName;
  backend: Backend;
  processes: number;
  operations: number;
  batch?: number;
}

interface PeerReviewRunOptions {
  scenario: string;
  seed: number;
  transport: TransportName;
  backend: Backend;
  chunks: number;
  auditInterval: number;
}

const MAX_PROCESSES = 64;
const MAX_OPERATIONS = 10_000;
const MAX_CHUNKS = 10_000;
const MAX_AUDIT_INTERVAL_MS = 10_000;

type TransportName = 'sim' | 'udp';

function parseTransport(value: string): TransportName {
  if (value !== 'sim' && value !== 'udp') {
    throw new TnicError('invalid-input', `--transport ${value} is not a transport; use sim or udp`);
  }
  return value;
}

/** The network of one run; a UDP network must be closed afterwards so its sockets do not keep the process alive. */
function openNetwork(transport: TransportName, seed: number): SimNetwork | UdpNetwork {
  return transport === 'udp' ? new UdpNetwork(seed) : new SimNetwork(seed);
}

/** "virtual ms" on the simulated network, "ms" of wall-clock time over UDP. */
function timeUnit(transport: TransportName): string {
  return transport === 'udp' ? 'wall-clock ms' : 'virtual ms';
}

function parseBatch(value: string): BatchSize {
  const n = Number(value);
  if (n !== 1 && n !== 8 && n !== 16) throw new TnicError('invalid-input', `--batch ${value} must be 1, 8 or 16`);
  return n;
}

async function runScenario(system: string, scenario: Scenario, opts: SystemRunOptions): Promise<void> {
  console.log(`system    ${system}`);
  console.log(`scenario  ${scenario.name}`);
  console.log(`expected  ${scenario.expected}`);
  console.log(`seed      ${opts.seed} (transport ${opts.transport}, backend ${opts.backend})`);

  const network = openNetwork(opts.transport, opts.seed);
  let result: ScenarioResult;
  try {
    result = await scenario.run({
      network,
      backend: opts.backend,
      seed: opts.seed,
      checkHistory: (history) => checkJepsenLog(history, {}, `${system} ${scenario.name} history`).verdict,
      log: (line) => console.error(line),
    });
  } finally {
    if (network instanceof UdpNetwork) await network.close();
  }

  for (const c of result.checks) console.log(`  ${c.passed ? 'pass' : 'FAIL'}  ${c.name}: ${c.observed}`);
  const took = `${Math.round(result.virtualMs)} ${timeUnit(opts.transport)}`;
  console.log(`operations ${result.completed} of ${result.operations} completed in ${took}`);
  console.log(`history   ${result.verdict}`);
  console.log(`result    ${result.met ? 'met' : 'NOT met'}`);
  if (!result.met) {
    throw new TnicError(
      'scenario-failed',
      `${system} scenario ${scenario.name} did not meet its expected outcome (seed ${opts.seed})`,
    );
  }
}

async function runPeerReviewScenario(scenario: PeerReviewScenario, opts: PeerReviewRunOptions): Promise<void> {
  console.log('system    peerreview');
  console.log(`scenario  ${scenario.name}`);
  console.log(`expected  ${scenario.expected}`);
  console.log(`seed      ${opts.seed} (transport ${opts.transport}, backend ${opts.backend})`);

  const network = openNetwork(opts.transport, opts.seed);
  let result: Awaited<ReturnType<PeerReviewScenario['run']>>;
  try {
    result = await scenario.run({ network, backend: opts.backend, seed: opts.seed, log: (line) => console.error(line) });
  } finally {
    if (network instanceof UdpNetwork) await network.close();
  }

  for (const c of result.checks) console.log(`  ${c.passed ? 'pass' : 'FAIL'}  ${c.name}: ${c.observed}`);
  result.evidence.forEach((e, i) => {
    const offline = result.offline[i]?.confirmed ? 'confirmed offline' : 'NOT confirmed offline';
    console.log(`evidence  against ${e.accused}: ${e.finding.kind} at log entry ${e.finding.index}, ${offline}`);
    console.log(`          ${e.finding.detail}`);
  });
  const audit = result.audit;
  const auditBytes = audit.requestBytes + audit.responseBytes;
  console.log(
    `audit     ${audit.requests} requests, ${audit.responses} responses, ${auditBytes} bytes, ` +
      `${audit.entriesAudited} log entries passed`,
  );
  console.log(`stream    ${result.chunks} chunks in ${Math.round(result.virtualMs)} ${timeUnit(opts.transport)}`);
  console.log(`result    ${result.met ? 'met' : 'NOT met'}`);
  if (!result.met) {
    throw new TnicError(
      'scenario-failed',
      `peerreview scenario ${scenario.name} did not meet its expected outcome (seed ${opts.seed})`,
    );
  }
}

/** Options of every system run: the scenario, seed, transport and backend. */
function addRunOptions(command: Command): Command {
  return command
    .requiredOption('--scenario <name>', 'fault scenario to run; an unknown name lists the valid ones')
    .option(
      '--seed <n>',
      'seed of the network and workload (0..4294967295)',
      parseIntOption('--seed', 0, 0xffff_ffff),
      1,
    )
    .option(
      '--transport <name>',
      'network: sim (seeded simulated network, virtual time) or udp (real UDP sockets on 127.0.0.1, wall-clock time)',
      parseTransport,
      'sim',
    )
    .option('--backend <name>', BACKEND_HELP, parseBackend, 'model');
}

/** Options of the replicated systems: the run options and the client workload. */
function addCommonOptions(command: Command): Command {
  return addRunOptions(command)
    .option(
      '--processes <n>',
      `client processes, each with one operation outstanding (1..${MAX_PROCESSES})`,
      parseIntOption('--processes', 1, MAX_PROCESSES),
      4,
    )
    .option(
      '--operations <n>',
      `operations per client process (1..${MAX_OPERATIONS})`,
      parseIntOption('--operations', 1, MAX_OPERATIONS),
      8,
    );
}

/** Add `bft`, `cr` and `peerreview` to the `tnic run` command. */
export function registerRunSystems(run: Command): void {
  addCommonOptions(
    run.command('bft').description('run a fault scenario of the BFT key-value store (2f+1 = 3 replicas) and check it'),
  )
    .option('--batch <n>', 'requests per leader batch: 1, 8 or 16', parseBatch, 8)
    .action(async (opts: SystemRunOptions) => {
      const scenarios = bftScenarios({
        batchSize: opts.batch as BatchSize,
        processes: opts.processes,
        operationsPerProcess: opts.operations,
      });
      await runScenario('bft', findScenario(scenarios, opts.scenario, 'bft'), opts);
    });

  addCommonOptions(
    run.command('cr').description('run a fault scenario of the chain-replicated key-value store (3 nodes)'),
  ).action(async (opts: SystemRunOptions) => {
    const scenarios = crScenarios({ processes: opts.processes, operationsPerProcess: opts.operations });
    await runScenario('cr', findScenario(scenarios, opts.scenario, 'cr'), opts);
  });

  addRunOptions(
    run
      .command('peerreview')
      .description('run a scenario of PeerReview (a source, two children and a witness) and check it'),
  )
    .option(
      '--chunks <n>',
      `chunks the source streams, one every 2 virtual ms (1..${MAX_CHUNKS})`,
      parseIntOption('--chunks', 1, MAX_CHUNKS),
      24,
    )
    .option(
      '--audit-interval <ms>',
      `virtual milliseconds between the witness's audit rounds (1..${MAX_AUDIT_INTERVAL_MS})`,
      parseIntOption('--audit-interval', 1, MAX_AUDIT_INTERVAL_MS),
      10,
    )
    .action(async (opts: PeerReviewRunOptions) => {
      const scenarios = peerReviewScenarios({ chunks: opts.chunks, auditIntervalMs: opts.auditInterval });
      await runPeerReviewScenario(findPeerReviewScenario(scenarios, opts.scenario), opts);
    });
}

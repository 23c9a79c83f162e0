/**
 * `tnic node --config FILE` runs one node process: it provisions its TNIC
 * device, binds UDP and runs the echo protocol with its peers, or one role
 * of a system (the config's `system` field), until SIGTERM or SIGINT.
 * Events and stats go to stdout as JSON lines, and the log goes to stderr.
 * SIGUSR1 prints the stats without stopping.
 *
 * `tnic cluster up|status|down` starts, inspects and stops a set of local
 * node processes that the IP vendor attests and provisions over the
 * bootstrap channel.
 */

import { existsSync, readFileSync } from 'node:fs';

import type { Command } from 'commander';

import { Tnic } from '../../api/tnic_api.ts';
import { InputError, TnicError } from '../../sim/errors.ts';
import { DeviceHardware } from '../../stack/bootstrap/device_controller.ts';
import { toHex } from '../../stack/bootstrap/certificates.ts';
import type { Backend } from '../../stack/kernel_backend.ts';
import { provisionFromVendor } from '../../stack/node/bootstrap_link.ts';
import {
  CLUSTER_FILE,
  findCluster,
  isNodeRunning,
  startCluster,
  stopCluster,
  type ClusterLayout,
  type ClusterRecord,
} from '../../stack/node/cluster.ts';
import { MAX_SEND, readKeyFile, readNodeConfig, type NodeConfig } from '../../stack/node/node_config.ts';
import {
  CLUSTER_SYSTEMS,
  DEFAULT_SIZES,
  echoLayout,
  systemLayout,
  type ClusterSystem,
} from '../../systems/node/cluster_layout.ts';
import { MAX_OPERATIONS, MAX_PROCESSES } from '../../systems/node/system_config.ts';
import { SystemNode } from '../../systems/node/system_node.ts';
import type { Summary } from '../../systems/node/system_role.ts';
import { TnicNode, type NodeOutput } from '../../systems/node/tnic_node.ts';
import { checkJepsenLog, HistoryFormatError, type Verdict } from '../../verify/linearizability.ts';
import { BACKEND_HELP, parseBackend, parseIntOption, rejectPseudoFileSystem } from '../options.ts';

const DEFAULT_CLUSTER_DIR = 'build/cluster';
const DEFAULT_MESSAGES = 10;
const DEFAULT_PROCESSES = 4;
const DEFAULT_OPERATIONS = 8;
const DEFAULT_CHUNKS = 24;
/** Largest --nodes the parser takes; each system checks its own range. */
const MAX_NODES_OPTION = 64;

interface ClusterUpOptions {
  system: ClusterSystem;
  nodes?: number;
  dir: string;
  backend: Backend;
  messages?: number;
  processes?: number;
  operations?: number;
  seed?: number;
}

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('run one node process: the echo protocol or one role of a system, over UDP (stop with SIGTERM)')
    .requiredOption('--config <file>', 'JSON config: name, device, backend, address, port, peers or system, keys or bootstrap')
    .action(async (opts: { config: string }) => {
      await runNode(readNodeConfig(opts.config));
    });

  const cluster = program.command('cluster').description('start, inspect or stop local node processes');
  cluster
    .command('up')
    .description(
      'start attested and provisioned node processes on 127.0.0.1: the echo protocol, or a system ' +
        '(BFT, chain replication, PeerReview, A2M) with a client that runs a workload',
    )
    .option('--system <name>', `what the processes run: ${CLUSTER_SYSTEMS.join(', ')}`, parseSystem, 'echo')
    .option(
      '--nodes <n>',
      'server processes: echo nodes (2..16, default 3), BFT replicas (odd, 3..7, default 3), ' +
        'chain nodes (2..15, default 3); PeerReview takes 3 stream nodes and A2M 1 server',
      parseIntOption('--nodes', 1, MAX_NODES_OPTION),
    )
    .option('--dir <dir>', 'new or empty folder for configs, logs, the cluster file and results', DEFAULT_CLUSTER_DIR)
    .option('--backend <name>', BACKEND_HELP, parseBackend, 'model' as Backend)
    .option(
      '--messages <n>',
      `echo only: requests each node sends to each peer (0..${MAX_SEND}, default ${DEFAULT_MESSAGES})`,
      parseIntOption('--messages', 0, MAX_SEND),
    )
    .option(
      '--processes <n>',
      `bft, cr, a2m: client processes, each with one operation outstanding (1..${MAX_PROCESSES}, default ${DEFAULT_PROCESSES})`,
      parseIntOption('--processes', 1, MAX_PROCESSES),
    )
    .option(
      '--operations <n>',
      `bft, cr, a2m: operations per client process (default ${DEFAULT_OPERATIONS}); ` +
        `peerreview: chunks the source streams (default ${DEFAULT_CHUNKS}); 1..${MAX_OPERATIONS}`,
      parseIntOption('--operations', 1, MAX_OPERATIONS),
    )
    .option('--seed <n>', 'seed of the client workload (0..4294967295, default 1)', parseIntOption('--seed', 0, 0xffff_ffff))
    .action(async (opts: ClusterUpOptions) => {
      const layout = clusterLayout(opts);
      rejectPseudoFileSystem('--dir', opts.dir);
      const log = (line: string): void => console.error(line);
      const record = await startCluster({ layout, dir: opts.dir, backend: opts.backend, log });
      printStarted(record, opts.dir);
    });

  cluster
    .command('status')
    .description('show which processes of a cluster run, the client\'s progress or summary, and the history verdict')
    .option('--dir <dir>', 'the folder given to cluster up', DEFAULT_CLUSTER_DIR)
    .action((opts: { dir: string }) => {
      printStatus(findCluster(opts.dir));
    });

  cluster
    .command('down')
    .description('stop the node processes that cluster up started, by the pids in its cluster file')
    .option('--dir <dir>', 'the folder given to cluster up', DEFAULT_CLUSTER_DIR)
    .action(async (opts: { dir: string }) => {
      const stopped = await stopCluster(opts.dir, (line) => console.error(line));
      console.log(`stopped ${stopped} node processes`);
    });
}

function parseSystem(value: string): ClusterSystem {
  if ((CLUSTER_SYSTEMS as readonly string[]).includes(value)) return value as ClusterSystem;
  throw new InputError(`--system '${value}' is not a system node processes run; use one of: ${CLUSTER_SYSTEMS.join(', ')}`);
}

/** Build the layout of `cluster up`, rejecting options that do not apply to the system. */
function clusterLayout(opts: ClusterUpOptions): ClusterLayout {
  const { system } = opts;
  const size = opts.nodes ?? DEFAULT_SIZES[system];
  const reject = (options: string[], fix: string): never => {
    const verb = options.length === 1 ? 'does' : 'do';
    throw new InputError(`${listWords(options)} ${verb} not apply to --system ${system}; ${fix}`);
  };
  if (system === 'echo') {
    const givenOptions = (['processes', 'operations', 'seed'] as const).filter((name) => opts[name] !== undefined);
    if (givenOptions.length > 0) reject(givenOptions.map((name) => `--${name}`), 'use --messages for the echo workload');
    return echoLayout(size, opts.messages ?? DEFAULT_MESSAGES);
  }
  if (opts.messages !== undefined) reject(['--messages'], 'use --operations (and --processes) for the workload');
  if (system === 'peerreview' && opts.processes !== undefined) {
    reject(['--processes'], 'PeerReview has one source; give the chunks with --operations');
  }
  const workload = {
    processes: opts.processes ?? DEFAULT_PROCESSES,
    operations: opts.operations ?? (system === 'peerreview' ? DEFAULT_CHUNKS : DEFAULT_OPERATIONS),
    seed: opts.seed ?? 1,
  };
  return systemLayout(system, size, workload);
}

/** Join words as "a", "a and b" or "a, b and c". */
function listWords(words: string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]!}`;
}

function printStarted(record: ClusterRecord, dirOption: string): void {
  for (const node of record.nodes) {
    const files = `events ${node.stdout}  log ${node.stderr}`;
    console.log(`${node.name}  ${node.role ?? 'echo'}  pid ${node.pid}  udp 127.0.0.1:${node.port}  ${files}`);
  }
  console.log(`cluster file ${record.dir}/${CLUSTER_FILE}`);
  const driver = record.driver;
  if (driver !== undefined) {
    const node = record.nodes.find((n) => n.name === driver.name)!;
    console.log(`follow the ${driver.name}: tail -f ${node.stderr}`);
    const history = driver.history === undefined ? '' : ` and its history to ${driver.history}`;
    console.log(`the ${driver.name} writes its summary to ${driver.summary}${history} when it finishes`);
    console.log(`status with: tnic cluster status --dir ${dirOption}`);
  }
  console.log(`stop with: tnic cluster down --dir ${dirOption}`);
}

/**
 * Print the processes of a cluster and its driver's progress or summary.
 * Exits like `tnic lincheck` on the driver's history: 0 linearizable, 1 not
 * linearizable, 2 unknown; 1 when the driver exited without a summary.
 */
function printStatus(record: ClusterRecord): void {
  // Read before the summary file, so a driver that exits after writing it is never taken for a crash.
  const running = new Set(record.nodes.filter((n) => isNodeRunning(n)).map((n) => n.name));
  const system = record.system ?? 'echo';
  console.log(`${system} cluster in ${record.dir}: ${running.size} of ${record.nodes.length} processes running`);
  for (const node of record.nodes) {
    const state = running.has(node.name) ? 'running' : 'exited';
    console.log(`  ${node.name}  ${node.role ?? 'echo'}  pid ${node.pid}  ${state}  log ${node.stderr}`);
  }
  const driver = record.driver;
  if (driver === undefined) return;
  const driverNode = record.nodes.find((n) => n.name === driver.name)!;

  if (!existsSync(driver.summary)) {
    if (!running.has(driver.name)) {
      const exited = record.nodes.filter((n) => !running.has(n.name));
      const subject = running.size === 0 ? 'the processes' : `the ${driver.name}`;
      throw new TnicError(
        'cluster-failed',
        `${subject} exited before the ${driver.name} wrote its summary ${driver.summary}; ` +
          `see the logs: ${exited.map((n) => n.stderr).join(', ')}`,
      );
    }
    const progress = lastEvent(driverNode.stdout, 'progress');
    const done =
      progress === undefined
        ? 'no progress reported yet'
        : `${String(progress.completed)} of ${String(progress.operations)} done`;
    console.log(`${driver.name}: not finished, ${done}; follow it with: tail -f ${driverNode.stderr}`);
    return;
  }

  const summary = readSummary(driver.summary, driver.name);
  console.log(`${driver.name}: ${summary.finished ? 'finished' : 'stopped'}, ${summary.line}`);
  console.log(`summary ${driver.summary}`);
  if (driver.history !== undefined && existsSync(driver.history)) {
    const verdict = checkHistory(driver.history, driver.name);
    const words = verdict === 'not-linearizable' ? 'not linearizable' : verdict;
    console.log(`history ${driver.history}: ${words}`);
    if (verdict === 'unknown') {
      console.log(`the check ran out of time; run: tnic lincheck ${driver.history} --time-budget MS`);
    }
    process.exitCode = VERDICT_EXIT_CODES[verdict];
  }
}

const VERDICT_EXIT_CODES: Record<Verdict, number> = { linearizable: 0, 'not-linearizable': 1, unknown: 2 };

/** Read the driver's summary file; a damaged one is an input error naming the file. */
function readSummary(path: string, driver: string): Summary {
  const damaged = (problem: string): InputError =>
    new InputError(
      `summary file ${path} ${problem}; if the ${driver} is still writing it, run status again, ` +
        'else the file was edited: remove it and start a new cluster',
    );
  let summary: unknown;
  try {
    summary = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw damaged('is not valid JSON');
  }
  const fields = summary as Partial<Summary> | null;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw damaged('is not a JSON object');
  if (typeof fields.finished !== 'boolean') throw damaged("has no boolean field 'finished'");
  if (typeof fields.line !== 'string') throw damaged("has no string field 'line'");
  return summary as Summary;
}

/** Check the driver's Jepsen history; a malformed one is an input error naming the file and line. */
function checkHistory(path: string, driver: string): Verdict {
  try {
    return checkJepsenLog(readFileSync(path, 'utf8'), {}, path).verdict;
  } catch (err) {
    if (!(err instanceof HistoryFormatError)) throw err;
    throw new InputError(`${err.message}; the ${driver} writes this history, so it was edited or cut short`);
  }
}

/** Return the last JSON event of `kind` in a node's event output, if any. */
function lastEvent(path: string, kind: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.includes(`"${kind}"`));
  for (const line of lines.reverse()) {
    try {
      const event = JSON.parse(line) as Record<string, unknown>;
      if (event.event === kind) return event;
    } catch {
      // A line cut off by a process that is still writing it.
    }
  }
  return undefined;
}

/** Provision the device, start the node, and serve until SIGTERM or SIGINT. */
async function runNode(config: NodeConfig): Promise<void> {
  const output: NodeOutput = {
    log: (line) => console.error(`${new Date().toISOString()} ${config.name}: ${line}`),
    event: (event) => console.log(JSON.stringify(event)),
  };
  output.log(`starting with device ${config.device} on the ${config.backend} backend`);
  const tnic = await Tnic.open(config.backend, config.device);
  let node: TnicNode | SystemNode;
  try {
    if (config.system === undefined) {
      await provision(config, tnic, output);
      node = await TnicNode.start(config, tnic, output);
    } else {
      node = await SystemNode.start(config, tnic, output);
    }
  } catch (err) {
    await tnic.close();
    throw err;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGUSR1', () => output.event({ event: 'stats', ...node.stats() }));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  output.log(`stopping on ${signal}`);
  output.event({ event: 'stats', final: true, ...node.stats() });
  await node.stop();
  await tnic.close();
  output.log('stopped');
  process.removeAllListeners('SIGUSR1');
}

async function provision(config: NodeConfig, tnic: Tnic, output: NodeOutput): Promise<void> {
  if (config.keys !== undefined) {
    const secrets = readKeyFile(config.keys, config);
    for (const { session, key } of secrets) {
      await tnic.provision(session, key);
      key.fill(0);
    }
    await tnic.lock();
    // NOTE: a key file skips remote attestation, so it replaces the bootstrap channel in tests only.
    output.log(`loaded ${secrets.length} session keys from the key file ${config.keys} (no remote attestation)`);
    return;
  }

  const bootstrap = config.bootstrap!;
  const hardware = await DeviceHardware.manufacture();
  // The launcher reads this public key, as the manufacturer's report of a genuine device.
  output.event({ event: 'hardware-key', node: config.name, key: toHex(hardware.publicKey) });
  const sessions = await provisionFromVendor(config.name, hardware, tnic.device, bootstrap);
  output.log(`attested by the vendor at ${bootstrap.address}:${bootstrap.port}; ${sessions} session keys loaded`);
}

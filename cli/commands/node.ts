/**
 * `tnic node --config FILE` runs one node process: it provisions its TNIC
 * device, binds UDP and runs the echo protocol with its peers until SIGTERM
 * or SIGINT. Events and stats go to stdout as JSON lines, and the log goes
 * to stderr. SIGUSR1 prints the stats without stopping.
 *
 * `tnic cluster up|down` starts and stops a set of local node processes
 * that the IP vendor attests and provisions over the bootstrap channel.
 */

import type { Command } from 'commander';

import { Tnic } from '../../api/tnic_api.ts';
import { InputError } from '../../sim/errors.ts';
import { DeviceHardware } from '../../stack/bootstrap/device_controller.ts';
import { toHex } from '../../stack/bootstrap/certificates.ts';
import type { Backend } from '../../stack/kernel_backend.ts';
import { provisionFromVendor } from '../../stack/node/bootstrap_link.ts';
import { CLUSTER_FILE, MAX_CLUSTER_NODES, startCluster, stopCluster } from '../../stack/node/cluster.ts';
import { MAX_SEND, readKeyFile, readNodeConfig, type NodeConfig } from '../../stack/node/node_config.ts';
import { TnicNode, type NodeOutput } from '../../systems/node/tnic_node.ts';
import { parseBackend, parseIntOption } from '../options.ts';

const DEFAULT_CLUSTER_DIR = 'build/cluster';
const SYSTEMS = ['echo'];

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('run one node process: echo protocol over UDP with attested messages (stop with SIGTERM)')
    .requiredOption('--config <file>', 'JSON config: name, device, backend, address, port, peers, keys or bootstrap')
    .action(async (opts: { config: string }) => {
      await runNode(readNodeConfig(opts.config));
    });

  const cluster = program.command('cluster').description('start or stop local node processes');
  cluster
    .command('up')
    .description('start N attested and provisioned node processes on 127.0.0.1 that run the echo protocol')
    .requiredOption(
      '--nodes <n>',
      `node processes to start (2..${MAX_CLUSTER_NODES})`,
      parseIntOption('--nodes', 2, MAX_CLUSTER_NODES),
    )
    .option('--dir <dir>', 'folder for configs, logs and the cluster file', DEFAULT_CLUSTER_DIR)
    .option('--backend <name>', 'device backend of every node: model or rtl', parseBackend, 'model' as Backend)
    .option(
      '--messages <n>',
      `echo requests each node sends to each peer (0..${MAX_SEND})`,
      parseIntOption('--messages', 0, MAX_SEND),
      10,
    )
    .option('--system <name>', `protocol the nodes run: ${SYSTEMS.join(', ')}`, parseSystem, 'echo')
    .action(async (opts: { nodes: number; dir: string; backend: Backend; messages: number }) => {
      const log = (line: string): void => console.error(line);
      const record = await startCluster({ ...opts, log });
      for (const node of record.nodes) {
        const files = `events ${node.stdout}  log ${node.stderr}`;
        console.log(`${node.name}  pid ${node.pid}  udp 127.0.0.1:${node.port}  ${files}`);
      }
      console.log(`cluster file ${record.dir}/${CLUSTER_FILE}`);
      console.log(`stop with: tnic cluster down --dir ${opts.dir}`);
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

function parseSystem(value: string): string {
  if (SYSTEMS.includes(value)) return value;
  throw new InputError(
    `--system '${value}' is not supported by node processes yet; use one of: ${SYSTEMS.join(', ')}`,
  );
}

/** Provision the device, start the node, and serve until SIGTERM or SIGINT. */
async function runNode(config: NodeConfig): Promise<void> {
  const output: NodeOutput = {
    log: (line) => console.error(`${new Date().toISOString()} ${config.name}: ${line}`),
    event: (event) => console.log(JSON.stringify(event)),
  };
  output.log(`starting with device ${config.device} on the ${config.backend} backend`);
  const tnic = await Tnic.open(config.backend, config.device);
  let node: TnicNode;
  try {
    await provision(config, tnic, output);
    node = await TnicNode.start(config, tnic, output);
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

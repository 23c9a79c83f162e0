/**
 * A node process that plays one role of a distributed system (the config's
 * `system` field). It binds its UDP port first, so datagrams from faster
 * peers find the socket. It then gets its session keys from the IP vendor
 * over the bootstrap channel and waits for the vendor's start message.
 * Last, it builds its one role on a UdpNetwork that names every other
 * process of the cluster as a remote node, and ticks the role until stop().
 *
 * Errors that a handler throws on the network are logged and counted. The
 * node keeps running, because a replica must not stop on one bad message.
 */

import type { Tnic } from '../../api/tnic_api.ts';
import { InputError, TnicError } from '../../api/errors.ts';
import { toHex } from '../../stack/bootstrap/certificates.ts';
import { DeviceHardware } from '../../stack/bootstrap/device_controller.ts';
import { provisionAndAwaitStart } from '../../stack/node/bootstrap_link.ts';
import { NODE_START_TIMEOUT_MS } from '../../stack/node/cluster.ts';
import type { NodeConfig } from '../../stack/node/node_config.ts';
import { UdpNetwork } from '../../stack/udp_network.ts';
import { SYSTEM_DEFINITIONS } from './cluster_layout.ts';
import { readSystemConfig, type SystemConfig } from './system_config.ts';
import { processNetwork, TICK_MS, type ProcessSpec, type SystemRole } from './system_role.ts';
import type { NodeOutput } from './tnic_node.ts';

/** Handler errors logged in full; later ones are only counted. */
const ERRORS_LOGGED = 20;

export class SystemNode {
  readonly #started = Date.now();
  #errors = 0;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  private constructor(
    readonly config: NodeConfig,
    readonly system: SystemConfig,
    readonly spec: ProcessSpec,
    private readonly network: UdpNetwork,
    private readonly role: SystemRole,
    private readonly output: NodeOutput,
  ) {}

  /** Bind, provision through the vendor, build the role and start it; `tnic` must be fresh and unlocked. */
  static async start(config: NodeConfig, tnic: Tnic, output: NodeOutput): Promise<SystemNode> {
    const system = readSystemConfig(config);
    const spec = findSpec(config, system);
    const network = new UdpNetwork(system.workload.seed, { address: config.address });
    try {
      const port = await bind(network, config);
      for (const node of system.nodes) {
        if (node.name !== config.name) network.addRemote(node.name, node.address, node.port);
      }
      const local = `${config.address}:${port}`;
      output.log(`${system.kind} ${spec.role} ${config.name} (device ${config.device}, ${config.backend}) on UDP ${local}`);
      output.event({ event: 'listening', node: config.name, local });

      const hardware = await DeviceHardware.manufacture();
      // The launcher reads this public key, as the manufacturer's report of a genuine device.
      output.event({ event: 'hardware-key', node: config.name, key: toHex(hardware.publicKey) });
      const bootstrap = config.bootstrap!;
      const { sessions, start } = await provisionAndAwaitStart(
        config.name,
        hardware,
        tnic.device,
        bootstrap,
        NODE_START_TIMEOUT_MS,
      );
      output.log(`attested by the vendor at ${bootstrap.address}:${bootstrap.port}; ${sessions} session keys loaded`);

      const definition = SYSTEM_DEFINITIONS[system.kind];
      const context = { name: config.name, system, tnic, network: processNetwork(network), start, output };
      const role = await definition.createRole(context, spec);
      const node = new SystemNode(config, system, spec, network, role, output);
      await role.start();
      output.log(`started as ${spec.role}`);
      output.event({ event: 'started', node: config.name, role: spec.role });
      node.#loop = node.#run();
      return node;
    } catch (error) {
      await network.close();
      throw error;
    }
  }

  stats(): Record<string, unknown> {
    return {
      node: this.config.name,
      system: this.system.kind,
      role: this.spec.role,
      device: this.config.device,
      uptimeMs: Date.now() - this.#started,
      handlerErrors: this.#errors,
      network: { ...this.network.stats },
      ...this.role.stats(),
    };
  }

  /** Stop ticking, let the role write what it has, and close the sockets; the device stays open. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#loop;
    await this.role.stop();
    await this.network.close();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        // A run that ends now returns at once, after throwing the first error a handler raised.
        await this.network.run({ untilMs: this.network.now });
        await this.role.tick();
      } catch (error) {
        this.#countError(error);
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
  }

  #countError(error: unknown): void {
    this.#errors += 1;
    if (this.#errors <= ERRORS_LOGGED) {
      const message = error instanceof Error ? error.message : String(error);
      this.output.log(`handler error ${this.#errors}: ${message}`);
      if (this.#errors === ERRORS_LOGGED) this.output.log('later handler errors are only counted in the stats');
    }
  }
}

/** Find this process in its system's layout and check that the config agrees with it. */
function findSpec(config: NodeConfig, system: SystemConfig): ProcessSpec {
  const specs = SYSTEM_DEFINITIONS[system.kind].processes(system.size);
  const spec = specs.find((s) => s.name === config.name);
  const where = `config ${config.file}`;
  if (spec === undefined) {
    const names = specs.map((s) => s.name).join(', ');
    throw new InputError(`${where}: ${system.kind} of size ${system.size} has no process '${config.name}'; use one of ${names}`);
  }
  if (spec.role !== system.role) {
    throw new InputError(`${where}: system field 'role' is '${system.role}', but ${spec.name} is the ${spec.role}; use '${spec.role}'`);
  }
  if (spec.device !== config.device) {
    throw new InputError(`${where}: field 'device' is ${config.device}, but ${spec.name} is device ${spec.device}; use ${spec.device}`);
  }
  for (const s of specs) {
    if (!system.nodes.some((n) => n.name === s.name)) {
      throw new InputError(`${where}: system field 'nodes' does not list process ${s.name}; add its address and port`);
    }
  }
  if (config.bootstrap === undefined) {
    throw new InputError(`${where}: a system node needs 'bootstrap', the vendor's provisioning server`);
  }
  return spec;
}

/** Bind this node's UDP socket; returns the bound port. */
async function bind(network: UdpNetwork, config: NodeConfig): Promise<number> {
  try {
    return await network.node(config.name, config.port).ready;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      throw new InputError(
        `config ${config.file}: cannot bind UDP ${config.address}:${config.port} (${code}); ` +
          "choose another 'port' or 'address'",
      );
    }
    throw err instanceof Error ? err : new TnicError('udp-bind-failed', String(err));
  }
}

/**
 * Bootstrapping of node processes over TCP: the IP vendor (stack/bootstrap)
 * runs a provisioning server, and each node's device controller replies to
 * the vendor's challenge, handshake and sealed provisioning record with
 * JSON lines. The vendor's checks are the ones of IpVendor.bootstrap, so a
 * node whose quote fails any of them gets no keys.
 *
 * The manufacturer's registry of genuine devices is modelled by `report`:
 * the launcher of a node passes its hardware public key to the server
 * through a path other than this connection (`tnic cluster up` reads it
 * from the node's event output). A node that names itself in its hello but presents
 * another hardware key is rejected as an unknown device.
 *
 * A node expected with `holdUntilStart` keeps the connection open after its
 * provisioning and waits for a `start` message, which the launcher sends
 * once every node of the cluster is provisioned. It carries the vendor's
 * trust roots and the client key certificates of the nodes whose signed
 * replies this node checks. So a client starts only once its replicas can
 * reply, and it has their certified keys.
 */

import { createServer, type Server, type Socket } from 'node:net';

import { TnicError } from '../../sim/errors.ts';
import { AttestationError } from '../bootstrap/attestation_error.ts';
import { toHex, type ControllerCertificate, type Quote } from '../bootstrap/certificates.ts';
import {
  decodeClientKeyCertificate,
  encodeClientKeyCertificate,
  type ClientKeyCertificate,
  type TrustRoots,
} from '../bootstrap/client_certificate.ts';
import type { ControllerPort, DeviceHardware } from '../bootstrap/device_controller.ts';
import type { BootstrapReport, IpVendor } from '../bootstrap/ip_vendor.ts';
import type { SessionSecret } from '../bootstrap/provisioning.ts';
import type { TnicDevice } from '../tnic_device.ts';
import { hex, hexField, JsonLineSocket, type JsonMessage } from './json_line_socket.ts';

/** Milliseconds either side waits for the other's next bootstrap message. */
export const BOOTSTRAP_STEP_TIMEOUT_MS = 30_000;

/** The start message, which the vendor sends a held node once the whole cluster is provisioned. */
export interface ClusterStart {
  roots: TrustRoots;
  /** Client key certificates of the nodes whose signed replies this node checks, by node name. */
  certificates: Map<string, ClientKeyCertificate>;
}

interface Expected {
  deviceId: number;
  sessions: SessionSecret[];
  hardwareKey: Deferred<Uint8Array>;
  result: Deferred<BootstrapReport>;
  /** Resolved by start(); undefined when the node is not held. */
  start: Deferred<ClusterStart> | undefined;
  connected: boolean;
}

/** The vendor's side: attests and provisions each expected node once. */
export class ProvisioningServer {
  readonly #expected = new Map<string, Expected>();
  readonly #sockets = new Set<Socket>();
  /** Resolves when close() begins, so held connections stop waiting for their start. */
  readonly #closing = deferred<undefined>();

  private constructor(
    readonly vendor: IpVendor,
    readonly server: Server,
    readonly port: number,
    private readonly log: (line: string) => void,
  ) {
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      void this.#serve(new JsonLineSocket(socket, `node ${socket.remoteAddress}:${socket.remotePort}`));
    });
  }

  /** Listen on `address` with a port the OS picks; `log` receives one line per failed bootstrap. */
  static async listen(vendor: IpVendor, address: string, log: (line: string) => void): Promise<ProvisioningServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, address, () => resolve());
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') {
      throw new TnicError('bootstrap-failed', 'the provisioning server has no TCP port');
    }
    return new ProvisioningServer(vendor, server, bound.port, log);
  }

  /**
   * Expect node `name` with `deviceId`; it will receive `sessions`, which are
   * zeroed afterwards. With `holdUntilStart` its connection stays open after
   * provisioning until start(name) sends the start message.
   */
  expect(name: string, deviceId: number, sessions: SessionSecret[], options: { holdUntilStart?: boolean } = {}): void {
    this.#expected.set(name, {
      deviceId,
      sessions,
      hardwareKey: deferred(),
      result: deferred(),
      start: options.holdUntilStart === true ? deferred() : undefined,
      connected: false,
    });
  }

  /** Send the start message to held node `name` once it is provisioned. */
  start(name: string, start: ClusterStart): void {
    const entry = this.#entry(name);
    if (entry.start === undefined) {
      throw new TnicError('bootstrap-failed', `node ${name} was not expected with holdUntilStart`);
    }
    entry.start.resolve(start);
  }

  /** Record the manufacturer's report of node `name`'s hardware public key. */
  report(name: string, hardwareKey: Uint8Array): void {
    this.#entry(name).hardwareKey.resolve(hardwareKey);
  }

  /** Resolves when node `name` is provisioned; rejects with the reason it was not. */
  result(name: string): Promise<BootstrapReport> {
    return this.#entry(name).result.promise;
  }

  async close(): Promise<void> {
    this.#closing.resolve(undefined);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const entry of this.#expected.values()) {
      for (const s of entry.sessions) s.key.fill(0);
    }
  }

  #entry(name: string): Expected {
    const entry = this.#expected.get(name);
    if (!entry) throw new TnicError('bootstrap-failed', `node ${name} is not expected by the provisioning server`);
    return entry;
  }

  async #serve(line: JsonLineSocket): Promise<void> {
    let entry: Expected | undefined;
    let name = '(no hello)';
    try {
      const hello = await line.next(['hello'], BOOTSTRAP_STEP_TIMEOUT_MS);
      name = String(hello.name);
      entry = this.#entry(name);
      if (entry.connected) throw new TnicError('bootstrap-failed', `node ${name} already ran bootstrap once`);
      entry.connected = true;

      const hardwareKey = await withTimeout(entry.hardwareKey.promise, `the hardware key report of node ${name}`);
      this.vendor.registerDevice(hardwareKey, entry.deviceId);
      const image = this.vendor.controllerImage;
      line.send({ type: 'image', code: hex(image.code), vendorKey: hex(image.vendorKey) });

      const report = await this.vendor.bootstrap(remoteController(line, name, hardwareKey), entry.sessions);
      line.send({ type: 'done', deviceId: report.deviceId, sessions: report.sessions });
      entry.result.resolve(report);
      if (entry.start !== undefined) {
        const start = await Promise.race([entry.start.promise, this.#closing.promise]);
        if (start !== undefined) line.send(encodeStart(start));
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log(`bootstrap of node ${name} from ${line.peer} failed: ${message}`);
      line.send({ type: 'error', message });
      entry?.result.reject(err);
    } finally {
      line.close();
    }
  }
}

/** Wrap the controller of node `name` at the far end of `line` as the port the vendor calls. */
function remoteController(line: JsonLineSocket, name: string, hardwareKey: Uint8Array): ControllerPort {
  const ask = async (request: JsonMessage): Promise<JsonMessage> => {
    line.send(request);
    return line.next([request.type], BOOTSTRAP_STEP_TIMEOUT_MS);
  };
  return {
    quote: async (nonce) => {
      const quote = decodeQuote(await ask({ type: 'quote', nonce: hex(nonce) }));
      if (hex(quote.certificate.hardwareKey) !== hex(hardwareKey)) {
        throw new AttestationError(
          'unknown-device-key',
          `node ${name} presented hardware key ${hex(quote.certificate.hardwareKey).slice(0, 16)}..., ` +
            `not the ${hex(hardwareKey).slice(0, 16)}... the manufacturer reported for it`,
        );
      }
      return quote;
    },
    acceptHandshake: async (hello) => {
      const reply = await ask({ type: 'handshake', ephemeral: hex(hello.ephemeral), signature: hex(hello.signature) });
      return {
        ephemeral: hexField(reply, 'ephemeral', 'handshake'),
        signature: hexField(reply, 'signature', 'handshake'),
      };
    },
    provision: async (record) => {
      const reply = await ask({ type: 'provision', record: hex(record) });
      return hexField(reply, 'record', 'provisioning acknowledgement');
    },
  };
}

/**
 * Run the node's side of bootstrap: connect to the vendor, boot the
 * controller image it ships, and reply until the device is provisioned and
 * locked. Returns the number of sessions loaded.
 */
export async function provisionFromVendor(
  name: string,
  hardware: DeviceHardware,
  device: TnicDevice,
  vendor: { address: string; port: number },
): Promise<number> {
  const line = await connectToVendor(vendor);
  try {
    return await answerVendor(line, name, hardware, device);
  } catch (err) {
    line.send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    line.close();
  }
}

/**
 * Provision like provisionFromVendor, then wait up to `startTimeoutMs` for
 * the vendor's start message, which comes once every node of the cluster
 * is provisioned. Returns the sessions loaded and the start message.
 */
export async function provisionAndAwaitStart(
  name: string,
  hardware: DeviceHardware,
  device: TnicDevice,
  vendor: { address: string; port: number },
  startTimeoutMs: number,
): Promise<{ sessions: number; start: ClusterStart }> {
  const line = await connectToVendor(vendor);
  try {
    const sessions = await answerVendor(line, name, hardware, device);
    const start = decodeStart(await line.next(['start'], startTimeoutMs));
    return { sessions, start };
  } catch (err) {
    line.send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    line.close();
  }
}

function connectToVendor(vendor: { address: string; port: number }): Promise<JsonLineSocket> {
  const peer = `vendor ${vendor.address}:${vendor.port}`;
  return JsonLineSocket.connect(vendor.address, vendor.port, peer, BOOTSTRAP_STEP_TIMEOUT_MS);
}

/** Reply to the vendor until it reports the device provisioned; returns the number of sessions loaded. */
async function answerVendor(
  line: JsonLineSocket,
  name: string,
  hardware: DeviceHardware,
  device: TnicDevice,
): Promise<number> {
  line.send({ type: 'hello', name });
  const image = await line.next(['image'], BOOTSTRAP_STEP_TIMEOUT_MS);
  const controller = await hardware.bootController(
    { code: hexField(image, 'code', 'image'), vendorKey: hexField(image, 'vendorKey', 'image') },
    device,
  );

  for (;;) {
    const m = await line.next(['quote', 'handshake', 'provision', 'done'], BOOTSTRAP_STEP_TIMEOUT_MS);
    if (m.type === 'done') return Number(m.sessions);
    if (m.type === 'quote') {
      line.send({ type: 'quote', ...encodeQuote(await controller.quote(hexField(m, 'nonce', 'challenge'))) });
    } else if (m.type === 'handshake') {
      const hello = {
        ephemeral: hexField(m, 'ephemeral', 'handshake'),
        signature: hexField(m, 'signature', 'handshake'),
      };
      const reply = await controller.acceptHandshake(hello);
      line.send({ type: 'handshake', ephemeral: hex(reply.ephemeral), signature: hex(reply.signature) });
    } else {
      const ack = await controller.provision(hexField(m, 'record', 'provisioning record'));
      line.send({ type: 'provision', record: hex(ack) });
    }
  }
}

/**
 * NOTE: the start message travels as plain JSON after the sealed
 * provisioning record. Its contents are public, but a party that can
 * rewrite this TCP connection could swap the trust roots; sealing them in
 * the provisioning channel would need a change to its record format.
 */
function encodeStart(start: ClusterStart): JsonMessage {
  const devices = [...start.roots.devices].map(([hardwareKey, device]) => ({ hardwareKey, device }));
  const certificates = [...start.certificates].map(([name, c]) => ({ name, certificate: hex(encodeClientKeyCertificate(c)) }));
  return { type: 'start', measurement: toHex(start.roots.measurement), devices, certificates };
}

function decodeStart(m: JsonMessage): ClusterStart {
  const fail = (what: string): never => {
    throw new AttestationError('channel-failed', `the vendor's start message is invalid: ${what}`);
  };
  const devices = new Map<string, number>();
  if (!Array.isArray(m.devices)) fail("'devices' is not a list");
  for (const entry of m.devices as unknown[]) {
    const fields = (entry ?? {}) as Record<string, unknown>;
    const device = fields.device;
    if (typeof device !== 'number' || !Number.isInteger(device)) fail('a device entry has no integer device id');
    devices.set(hex(hexField(fields, 'hardwareKey', 'start message')), device as number);
  }
  const certificates = new Map<string, ClientKeyCertificate>();
  if (!Array.isArray(m.certificates)) fail("'certificates' is not a list");
  for (const entry of m.certificates as unknown[]) {
    const fields = (entry ?? {}) as Record<string, unknown>;
    if (typeof fields.name !== 'string') fail('a certificate entry has no node name');
    const bytes = hexField(fields, 'certificate', 'start message');
    try {
      certificates.set(fields.name as string, decodeClientKeyCertificate(bytes));
    } catch (err) {
      fail(`the certificate of ${String(fields.name)}: ${(err as Error).message}`);
    }
  }
  return { roots: { measurement: hexField(m, 'measurement', 'start message'), devices }, certificates };
}

function encodeQuote(q: Quote): Record<string, unknown> {
  const c = q.certificate;
  return {
    nonce: hex(q.nonce),
    signature: hex(q.signature),
    certificate: {
      hardwareKey: hex(c.hardwareKey),
      measurement: hex(c.measurement),
      controllerKey: hex(c.controllerKey),
      signature: hex(c.signature),
    },
  };
}

function decodeQuote(m: JsonMessage): Quote {
  const c = m.certificate;
  if (typeof c !== 'object' || c === null) {
    throw new AttestationError('channel-failed', 'the quote has no certificate object');
  }
  const fields = c as Record<string, unknown>;
  const certificate: ControllerCertificate = {
    hardwareKey: hexField(fields, 'hardwareKey', 'certificate'),
    measurement: hexField(fields, 'measurement', 'certificate'),
    controllerKey: hexField(fields, 'controllerKey', 'certificate'),
    signature: hexField(fields, 'signature', 'certificate'),
  };
  return { nonce: hexField(m, 'nonce', 'quote'), signature: hexField(m, 'signature', 'quote'), certificate };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A result that no caller awaits must not become an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function withTimeout<T>(promise: Promise<T>, awaited: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TnicError('bootstrap-failed', `${awaited} timed out after ${BOOTSTRAP_STEP_TIMEOUT_MS} ms`)),
      BOOTSTRAP_STEP_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

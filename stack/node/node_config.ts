/**
 * The configuration of one node process (`tnic node --config FILE`), read
 * from JSON and checked field by field. Every error names the file, the
 * field and the fix, and is an InputError, so the CLI exits with code 2.
 *
 * A node gets its session keys in one of two ways: `bootstrap` names the IP
 * vendor's provisioning server, which attests the node's controller and
 * sends the keys over the secure channel (stack/bootstrap), or `keys` names
 * a key file. The key file replaces the bootstrap channel in tests only,
 * because it skips remote attestation and leaves the keys on disk.
 */

import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { dirname, resolve } from 'node:path';

import { InputError } from '../../sim/errors.ts';
import { MAX_INPUT_BYTES, N_SESSIONS } from '../../sim/kernel_port.ts';
import { ATTESTED_OVERHEAD } from '../attested_message.ts';
import { MAX_FRAME_PAYLOAD } from '../frame.ts';
import { BACKENDS, type Backend } from '../kernel_backend.ts';
import { MAX_SESSION_KEY_BYTES, type SessionSecret } from '../bootstrap/provisioning.ts';

/** Bytes the echo protocol adds in front of the payload: kind u8 and index u32. */
export const ECHO_HEADER_BYTES = 5;
/** Maximum echo payload, so one datagram carries the verb opcode, alpha, header, echo header and payload. */
export const MAX_MESSAGE_BYTES = Math.min(
  MAX_FRAME_PAYLOAD - 1 - ATTESTED_OVERHEAD - ECHO_HEADER_BYTES,
  MAX_INPUT_BYTES - ECHO_HEADER_BYTES,
);
export const MAX_SEND = 1_000_000;
const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export interface PeerConfig {
  name: string;
  address: string;
  port: number;
  /** Device id of the peer's TNIC, which the peer writes into every header it attests. */
  device: number;
  /** Session shared with this peer; both ends name the same one. */
  session: number;
  /** Echo requests this node sends to the peer once both ends have synced. */
  send: number;
}

export interface BootstrapEndpoint {
  address: string;
  port: number;
}

export interface NodeConfig {
  /** Path of the config file, for messages. */
  file: string;
  name: string;
  device: number;
  backend: Backend;
  address: string;
  /** UDP port to bind; 0 lets the OS pick one. */
  port: number;
  peers: PeerConfig[];
  /** Absolute path of the key file, when keys do not come over the bootstrap channel. */
  keys: string | undefined;
  bootstrap: BootstrapEndpoint | undefined;
  /**
   * The role of a distributed system (BFT, chain replication, PeerReview,
   * A2M) that the node runs instead of the echo protocol, unchecked here:
   * systems/node/system_config.ts checks it. Undefined for an echo node.
   */
  system: Record<string, unknown> | undefined;
  /** Payload bytes of each echo request. */
  messageBytes: number;
  /** First retransmission timeout of the reliable channel, in milliseconds. */
  retransmitTimeoutMs: number;
  /** Retransmissions of one frame before its channel fails; covers a peer that starts late. */
  maxRetries: number;
}

const NODE_FIELDS = [
  'name',
  'device',
  'backend',
  'address',
  'port',
  'peers',
  'keys',
  'bootstrap',
  'messageBytes',
  'retransmitTimeoutMs',
  'maxRetries',
  'system',
];
const PEER_FIELDS = ['name', 'address', 'port', 'device', 'session', 'send'];

/** Defaults that give a peer about 11 s to start: 50 ms doubling up to 400 ms, 30 times. */
export const DEFAULT_RETRANSMIT_TIMEOUT_MS = 50;
export const DEFAULT_MAX_RETRIES = 30;

/** Read and check a node config; throws InputError naming the field and the fix. */
export function readNodeConfig(path: string): NodeConfig {
  const value = readJsonFile(path, 'config');
  return checkNodeConfig(value, path);
}

export function checkNodeConfig(value: unknown, file: string): NodeConfig {
  const fields = new Fields(`config ${file}`, value, NODE_FIELDS);
  // Fields are checked in the order a config lists them, so the first error is the first bad field.
  const name = fields.name('name');
  const device = fields.integer('device', 0, 0xffff_ffff);
  const backend = fields.backend('backend');
  const address = fields.address('address', '127.0.0.1');
  const port = fields.integer('port', 0, 65535);
  const system = fields.optionalObject('system');
  // A system node finds its peers in its 'system' field, so only an echo node lists them.
  const peers =
    system === undefined || fields.has('peers')
      ? fields.list('peers', 1, N_SESSIONS).map((peer, i) => checkPeer(peer, file, i))
      : [];
  const keys = fields.optionalString('keys');
  const bootstrap = fields.optionalObject('bootstrap');

  const config: NodeConfig = {
    file,
    name,
    device,
    backend,
    address,
    port,
    peers,
    keys: keys === undefined ? undefined : resolve(dirname(file), keys),
    bootstrap: bootstrap === undefined ? undefined : checkBootstrap(bootstrap, file),
    system,
    messageBytes: fields.integer('messageBytes', 0, MAX_MESSAGE_BYTES, 32),
    retransmitTimeoutMs: fields.integer('retransmitTimeoutMs', 1, 10_000, DEFAULT_RETRANSMIT_TIMEOUT_MS),
    maxRetries: fields.integer('maxRetries', 0, 1000, DEFAULT_MAX_RETRIES),
  };

  if ((config.keys === undefined) === (config.bootstrap === undefined)) {
    throw new InputError(
      `config ${file}: give exactly one of 'bootstrap' (the vendor's provisioning server) or 'keys' (a key file)`,
    );
  }
  if (system !== undefined && config.peers.length > 0) {
    throw new InputError(`config ${file}: a node with a 'system' takes its peers from the system; remove 'peers'`);
  }
  if (system !== undefined && config.keys !== undefined) {
    throw new InputError(
      `config ${file}: a system node takes its keys from the vendor only; replace 'keys' with 'bootstrap'`,
    );
  }
  checkPeersDistinct(config);
  return config;
}

function checkPeer(value: unknown, file: string, index: number): PeerConfig {
  const fields = new Fields(`config ${file}: peers[${index}]`, value, PEER_FIELDS);
  return {
    name: fields.name('name'),
    address: fields.address('address', '127.0.0.1'),
    port: fields.integer('port', 1, 65535),
    device: fields.integer('device', 0, 0xffff_ffff),
    session: fields.integer('session', 0, N_SESSIONS - 1),
    send: fields.integer('send', 0, MAX_SEND, 0),
  };
}

function checkBootstrap(value: Record<string, unknown>, file: string): BootstrapEndpoint {
  const fields = new Fields(`config ${file}: bootstrap`, value, ['address', 'port']);
  return { address: fields.address('address', '127.0.0.1'), port: fields.integer('port', 1, 65535) };
}

/** Peers need distinct names, endpoints and sessions, none equal to this node's own. */
function checkPeersDistinct(config: NodeConfig): void {
  const seen = { name: new Set([config.name]), endpoint: new Set<string>(), session: new Set<number>() };
  config.peers.forEach((peer, i) => {
    const where = `config ${config.file}: peers[${i}]`;
    const endpoint = `${peer.address}:${peer.port}`;
    if (seen.name.has(peer.name)) {
      throw new InputError(
        `${where}.name '${peer.name}' is used twice or is this node's name; give each peer its own name`,
      );
    }
    if (seen.endpoint.has(endpoint)) {
      throw new InputError(
        `${where}: address and port ${endpoint} belong to another peer; give each peer its own port`,
      );
    }
    if (seen.session.has(peer.session)) {
      throw new InputError(
        `${where}.session ${peer.session} is shared with another peer; give each peer its own session`,
      );
    }
    if (peer.device === config.device) {
      throw new InputError(`${where}.device ${peer.device} is this node's own device id; use the peer's device id`);
    }
    seen.name.add(peer.name);
    seen.endpoint.add(endpoint);
    seen.session.add(peer.session);
  });
}

/**
 * Read a key file, `{"sessions": [{"session": N, "key": "hex"}]}`, and check
 * that it contains a key for every peer's session. Key values never appear in
 * an error message.
 */
export function readKeyFile(path: string, config: NodeConfig): SessionSecret[] {
  const fields = new Fields(`key file ${path}`, readJsonFile(path, 'key file'), ['sessions']);
  const secrets = fields.list('sessions', 1, N_SESSIONS).map((entry, i) => {
    const entryFields = new Fields(`key file ${path}: sessions[${i}]`, entry, ['session', 'key']);
    return { session: entryFields.integer('session', 0, N_SESSIONS - 1), key: entryFields.key('key') };
  });
  const sessions = new Set<number>();
  for (const { session } of secrets) {
    if (sessions.has(session)) {
      throw new InputError(`key file ${path}: session ${session} appears twice; keep one key per session`);
    }
    sessions.add(session);
  }
  for (const peer of config.peers) {
    if (!sessions.has(peer.session)) {
      throw new InputError(`key file ${path} has no key for session ${peer.session} of peer ${peer.name}; add it`);
    }
  }
  return secrets;
}

function readJsonFile(path: string, kind: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InputError(`cannot read ${kind} ${path}: ${code}; check the path`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // The parser's message may quote the text, and a key file contains keys.
    throw new InputError(`${kind} ${path} is not valid JSON; check quotes, commas and braces`);
  }
}

/** Typed access to the fields of one JSON object; every error names `where` and the field. */
export class Fields {
  readonly #record: Record<string, unknown>;

  constructor(
    private readonly where: string,
    value: unknown,
    known: readonly string[],
  ) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InputError(`${where} must be a JSON object`);
    }
    this.#record = value as Record<string, unknown>;
    for (const field of Object.keys(this.#record)) {
      if (!known.includes(field)) {
        throw new InputError(`${where}: unknown field '${field}'; use only ${known.join(', ')}`);
      }
    }
  }

  has(field: string): boolean {
    return this.#record[field] !== undefined;
  }

  integer(field: string, min: number, max: number, fallback?: number): number {
    const value = this.#record[field];
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InputError(`${this.where}: field '${field}' is ${shown(value)}; use an integer in ${min}..${max}`);
    }
    return value;
  }

  name(field: string): string {
    const value = this.#record[field];
    if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
      throw new InputError(
        `${this.where}: field '${field}' is ${shown(value)}; use 1 to 64 letters, digits, '.', '_' or '-'`,
      );
    }
    return value;
  }

  address(field: string, fallback: string): string {
    const value = this.#record[field] ?? fallback;
    if (typeof value !== 'string' || !isIPv4(value)) {
      throw new InputError(`${this.where}: field '${field}' is ${shown(value)}; use an IPv4 address such as 127.0.0.1`);
    }
    return value;
  }

  backend(field: string): Backend {
    const value = this.#record[field] ?? 'model';
    if (typeof value !== 'string' || !(BACKENDS as readonly string[]).includes(value)) {
      throw new InputError(`${this.where}: field '${field}' is ${shown(value)}; use one of: ${BACKENDS.join(', ')}`);
    }
    return value as Backend;
  }

  /** Read a string that must be one of `values`. */
  choice<T extends string>(field: string, values: readonly T[]): T {
    const value = this.#record[field];
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      throw new InputError(`${this.where}: field '${field}' is ${shown(value)}; use one of: ${values.join(', ')}`);
    }
    return value as T;
  }

  list(field: string, min: number, max: number): unknown[] {
    const value = this.#record[field];
    if (!Array.isArray(value) || value.length < min || value.length > max) {
      const got = Array.isArray(value) ? `a list of ${value.length}` : shown(value);
      throw new InputError(`${this.where}: field '${field}' is ${got}; use a list of ${min} to ${max} entries`);
    }
    return value;
  }

  optionalString(field: string): string | undefined {
    const value = this.#record[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') {
      throw new InputError(`${this.where}: field '${field}' is ${shown(value)}; use a file path`);
    }
    return value;
  }

  optionalObject(field: string): Record<string, unknown> | undefined {
    const value = this.#record[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InputError(`${this.where}: field '${field}' is ${shown(value)}; use an object`);
    }
    return value as Record<string, unknown>;
  }

  /** Read a hex key; the value itself never appears in an error. */
  key(field: string): Uint8Array {
    const value = this.#record[field];
    const valid = typeof value === 'string' && /^(?:[0-9a-fA-F]{2})+$/.test(value);
    if (!valid || value.length / 2 > MAX_SESSION_KEY_BYTES) {
      throw new InputError(
        `${this.where}: field '${field}' is not a key; ` +
          `use an even number of hex digits for 1..${MAX_SESSION_KEY_BYTES} bytes`,
      );
    }
    return new Uint8Array(Buffer.from(value, 'hex'));
  }
}

function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

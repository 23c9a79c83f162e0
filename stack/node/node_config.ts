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
  if (typeof value === 'object' && value !== null && 'sessions' in value) {
    // Checked first, so that no later error quotes a key of a key file given as the config.
    throw new InputError(
      `config ${file} has a 'sessions' field, so it looks like a key file; ` +
        `give the node config to --config and name the key file in its 'keys' field`,
    );
  }
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
  const keys = checkKeyFilePath(fields);
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

/** Read the `keys` field, a path; a bad value is never quoted, because it may be a pasted key. */
function checkKeyFilePath(fields: Fields): string | undefined {
  const keys = fields.optionalString('keys', true);
  if (keys !== undefined && /^[0-9a-fA-F]{16,}$/.test(keys)) {
    throw new InputError(
      `${fields.where}: field 'keys' is ${keys.length} hex digits, which looks like a key rather than a path; ` +
        `put the key into a key file and give the file's path`,
    );
  }
  return keys;
}

function checkPeer(value: unknown, file: string, index: number): PeerConfig {
  const fields = new Fields(`config ${file}`, value, PEER_FIELDS, { path: `peers[${index}]` });
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
    if (isOwnEndpoint(config, peer)) {
      throw new InputError(
        `${where}: address and port ${endpoint} are this node's own; give the peer's address and port`,
      );
    }
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
 * True when `peer` is this node's own UDP endpoint. Port 0 lets the OS pick
 * a port, so it matches no peer; 0.0.0.0 binds every local address.
 */
function isOwnEndpoint(config: NodeConfig, peer: PeerConfig): boolean {
  if (config.port === 0 || peer.port !== config.port) return false;
  return peer.address === config.address || config.address === '0.0.0.0' || peer.address === '0.0.0.0';
}

/**
 * Read a key file, `{"sessions": [{"session": N, "key": "hex"}]}`, and check
 * that it contains a key for every peer's session. Key values never appear in
 * an error message.
 */
export function readKeyFile(path: string, config: NodeConfig): SessionSecret[] {
  const where = `key file ${path}`;
  const value = readJsonFile(path, 'key file', `named by the 'keys' field of config ${config.file}`);
  const example = '{"session": 0, "key": "<hex>"}';
  const options = { secret: true, example: `{"sessions": [${example}]}` };
  const fields = new Fields(where, value, ['sessions'], options);
  const secrets = fields.list('sessions', 1, N_SESSIONS, example).map((entry, i) => {
    const entryFields = new Fields(where, entry, ['session', 'key'], { secret: true, path: `sessions[${i}]`, example });
    return { session: entryFields.integer('session', 0, N_SESSIONS - 1), key: entryFields.key('key') };
  });

  // Entries are named by index only: no value of a key file appears in a message.
  const firstIndex = new Map<number, number>();
  secrets.forEach(({ session }, i) => {
    const first = firstIndex.get(session);
    if (first !== undefined) {
      throw new InputError(
        `${where}: fields 'sessions[${first}].session' and 'sessions[${i}].session' name the same session; ` +
          'keep one key per session',
      );
    }
    firstIndex.set(session, i);
  });
  for (const peer of config.peers) {
    if (!firstIndex.has(peer.session)) {
      throw new InputError(
        `${where}: field 'sessions' has no key for session ${peer.session} of peer ${peer.name}; ` +
          `add {"session": ${peer.session}, "key": "<hex>"} to it`,
      );
    }
  }
  return secrets;
}

/** Read and parse a JSON file; `source` names where its path came from, for the message. */
function readJsonFile(path: string, kind: string, source?: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'an unknown error';
    const from = source === undefined ? '' : ` (${source})`;
    throw new InputError(`cannot read ${kind} ${path}${from}: ${code}; check the path`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // The parser's message may quote the text, and a key file contains keys.
    throw new InputError(`${kind} ${path} is not valid JSON; check quotes, commas and braces`);
  }
}

/** Options of a Fields reader: the path of its object and whether its file contains keys. */
export interface FieldsOptions {
  /** Path of the object inside its file, such as `sessions[0]`, put in front of every field name. */
  path?: string;
  /**
   * Set for a file that contains keys: errors then give only the type or
   * length of a bad value and never quote a value or an unknown field name.
   */
  secret?: boolean;
  /** An object of the expected shape, shown in the fix when the value is not an object. */
  example?: string;
}

/**
 * Typed access to the fields of one JSON object. Every error names `where`
 * (the file), the field path and the fix. Without `secret`, an error quotes
 * the bad value unless it looks like key material (a run of 16 or more hex
 * digits). With `secret`, it never quotes one.
 */
export class Fields {
  readonly #record: Record<string, unknown>;
  readonly #path: string | undefined;
  readonly #secret: boolean;

  constructor(
    readonly where: string,
    value: unknown,
    known: readonly string[],
    options: FieldsOptions = {},
  ) {
    this.#path = options.path;
    this.#secret = options.secret ?? false;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const subject = this.#path === undefined ? where : `${where}: field '${this.#path}'`;
      const shape = options.example === undefined ? 'a JSON object' : `a JSON object such as ${options.example}`;
      throw new InputError(`${subject} is ${describeType(value)}; use ${shape}`);
    }
    this.#record = value as Record<string, unknown>;
    for (const field of Object.keys(this.#record)) {
      if (known.includes(field)) continue;
      const owner = this.#path === undefined ? where : `${where}: field '${this.#path}'`;
      const hidden = `named by ${count(field.length, 'character', 'characters')} (not shown)`;
      const name = this.#secret || looksLikeKey(field) ? hidden : `'${field}'`;
      throw new InputError(`${owner} has an unknown field ${name}; use only ${known.join(', ')}`);
    }
  }

  has(field: string): boolean {
    return this.#record[field] !== undefined;
  }

  integer(field: string, min: number, max: number, fallback?: number): number {
    const value = this.#record[field];
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const outside = Number.isInteger(value) ? `an integer outside ${min}..${max}` : undefined;
      this.#reject(field, value, `use an integer in ${min}..${max}`, false, outside);
    }
    return value;
  }

  name(field: string): string {
    const value = this.#record[field];
    if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
      this.#reject(field, value, "use 1 to 64 letters, digits, '.', '_' or '-'");
    }
    return value;
  }

  address(field: string, fallback: string): string {
    const value = this.#record[field] ?? fallback;
    if (typeof value !== 'string' || !isIPv4(value)) {
      this.#reject(field, value, 'use an IPv4 address such as 127.0.0.1');
    }
    return value;
  }

  backend(field: string): Backend {
    const value = this.#record[field] ?? 'model';
    if (typeof value !== 'string' || !(BACKENDS as readonly string[]).includes(value)) {
      this.#reject(field, value, `use one of: ${BACKENDS.join(', ')}`);
    }
    return value as Backend;
  }

  /** Read a string that must be one of `values`. */
  choice<T extends string>(field: string, values: readonly T[]): T {
    const value = this.#record[field];
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      this.#reject(field, value, `use one of: ${values.join(', ')}`);
    }
    return value as T;
  }

  /** Read a list of `min` to `max` entries; `example` shows one entry in the fix. */
  list(field: string, min: number, max: number, example?: string): unknown[] {
    const value = this.#record[field];
    if (!Array.isArray(value) || value.length < min || value.length > max) {
      const entries = example === undefined ? 'entries' : `entries such as ${example}`;
      this.#reject(field, value, `use a list of ${min} to ${max} ${entries}`);
    }
    return value;
  }

  /** Read an optional non-empty string; `secret` hides a bad value even when the reader does not. */
  optionalString(field: string, secret = false): string | undefined {
    const value = this.#record[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') {
      this.#reject(field, value, 'use a file path', secret);
    }
    return value;
  }

  optionalObject(field: string): Record<string, unknown> | undefined {
    const value = this.#record[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.#reject(field, value, 'use an object');
    }
    return value as Record<string, unknown>;
  }

  /** Read a hex key; the value itself never appears in an error. */
  key(field: string): Uint8Array {
    const value = this.#record[field];
    const valid = typeof value === 'string' && /^(?:[0-9a-fA-F]{2})+$/.test(value);
    if (!valid || value.length / 2 > MAX_SESSION_KEY_BYTES) {
      const fix = `use an even number of hex digits for 1..${MAX_SESSION_KEY_BYTES} bytes`;
      this.#reject(field, value, fix, true);
    }
    return new Uint8Array(Buffer.from(value, 'hex'));
  }

  /** Return the path of `field` inside its file, for messages. */
  label(field: string): string {
    return this.#path === undefined ? field : `${this.#path}.${field}`;
  }

  /** Throw for a bad `value`; `typeOnly` replaces the type description of a hidden value. */
  #reject(field: string, value: unknown, fix: string, secret = false, typeOnly?: string): never {
    const hidden = this.#secret || secret;
    const described = hidden ? (typeOnly ?? describeType(value)) : shown(value);
    throw new InputError(`${this.where}: field '${this.label(field)}' is ${described}; ${fix}`);
  }
}

/** Quote a value for an error, unless it may contain a key: then give only its type. */
function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  if (looksLikeKey(text)) return `${describeType(value)} (not shown: it looks like a key)`;
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** Describe a JSON value by its type and size only, never by its content. */
function describeType(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${count(value.length, 'entry', 'entries')}`;
  switch (typeof value) {
    case 'string':
      return `a string of ${count(value.length, 'character', 'characters')}`;
    case 'number':
      return Number.isInteger(value) ? 'an integer' : 'a number that is not an integer';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return `an object with ${count(Object.keys(value).length, 'field', 'fields')}`;
    default:
      return typeof value;
  }
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** True when `text` contains a run of 16 or more hex digits, which may be (part of) a key. */
function looksLikeKey(text: string): boolean {
  return /[0-9a-fA-F]{16,}/.test(text);
}

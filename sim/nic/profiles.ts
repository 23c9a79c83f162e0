/**
 * Device profiles: the attestation unit (a hardware HMAC core on the NIC or
 * an HMAC on a host CPU, maybe inside a TEE) and the network stack around
 * it. Profiles are loaded from JSON (sim/nic/profiles.json by default) and
 * checked field by field. An invalid file raises an InputError that names
 * the profile, the field, the value and what is expected.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { InputError } from '../errors.ts';

export const DEFAULT_PROFILES_FILE = fileURLToPath(new URL('./profiles.json', import.meta.url));

export type HashName = 'sha256' | 'sha384';
export type TagPlacement = 'leading' | 'trailing';

/** Fields every attestation unit has. */
interface AttestationFormat {
  /** HMAC of the functional attestation, which produces the real tag bytes. */
  hash: HashName;
  /** Bytes of the attestation field on the wire; the tag is zero-padded to it. */
  tagFieldBytes: number;
  /** leading: tag || header || msg (hash over header || msg); trailing: msg || header || tag. */
  tagPlacement: TagPlacement;
  /** A message size counts the tag field and the 16-byte header, as in the published benchmarks. */
  sizeIncludesAttestation: boolean;
}

/**
 * Hardware HMAC core. Cycles for L hashed bytes, input never stalling:
 * blockCycles x (ceil((prefixBytes + L + paddingBytes) / blockBytes) + outerBlocks) + fixedCycles.
 */
export interface HmacCoreParams extends AttestationFormat {
  model: 'hmac-core';
  location: 'nic';
  clockMHz: number;
  blockBytes: number;
  blockCycles: number;
  /** Bytes hashed before the message (a key block), 0 when the inner state is precomputed. */
  prefixBytes: number;
  paddingBytes: number;
  outerBlocks: number;
  fixedCycles: number;
  /** Engines that each work on one message at a time. */
  engines: number;
  /** Input port width; the port is shared by all engines. */
  portBytesPerCycle: number;
  /** Cycles the port spends on each command besides the data. */
  portCommandCycles: number;
}

/** HMAC on a host CPU: a fixed access cost (IPC, enclave or VM transition) plus compute. */
export interface CpuParams extends AttestationFormat {
  model: 'cpu';
  location: 'host';
  accessNs: number;
  /** Compute time for up to 64 hashed bytes. */
  computeNs: number;
  /** Compute time per hashed byte beyond the first 64. */
  computeNsPerByte: number;
  /** Messages attested in parallel. */
  workers: number;
}

export type KernelParams = HmacCoreParams | CpuParams;

export interface StackParams {
  /** Host software time to post a work request and ring the doorbell. */
  hostPostNs: number;
  /** Host software time to find a completion. */
  pollNs: number;
  /** Synchronous host-device copy of a local attest (local_send without a network). */
  localTransferNs: number;
  dmaReadLatencyNs: number;
  dmaWriteLatencyNs: number;
  /** PCIe DMA bandwidth in bytes per ns (GB/s), per direction. */
  dmaBytesPerNs: number;
  /** RoCE request generation latency per packet. */
  txPipelineNs: number;
  /** RoCE request decoder latency per packet. */
  rxPipelineNs: number;
  /** Path MTU: the largest RoCE payload per packet. */
  mtu: number;
  linkGbps: number;
  propagationNs: number;
  retransmitTimeoutNs: number;
  /** The responder acknowledges every this many packets and every last packet of a message. */
  ackEveryPackets: number;
  /** Sent but unacknowledged packets a queue pair allows. */
  maxInflightPackets: number;
}

export interface Profile {
  name: string;
  description: string;
  notes: string[];
  kernel: KernelParams;
  stack: StackParams;
}

export const ROCE_MTUS = [256, 512, 1024, 2048, 4096] as const;

/** Read and check every profile in `file`. */
export function loadProfiles(file = DEFAULT_PROFILES_FILE): Map<string, Profile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read profile file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`profile file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseProfiles(json, file);
}

/** Check a parsed profile file; `source` names it in errors. */
export function parseProfiles(json: unknown, source: string): Map<string, Profile> {
  if (!isObject(json) || !isObject(json.profiles)) {
    throw new InputError(`${source}: expected an object with a "profiles" object mapping names to profiles`);
  }
  const out = new Map<string, Profile>();
  for (const [name, raw] of Object.entries(json.profiles)) {
    out.set(name, parseProfile(name, raw, `${source}: profile "${name}"`));
  }
  if (out.size === 0) throw new InputError(`${source}: "profiles" is empty; add at least one profile`);
  return out;
}

/** Look up `name`, listing the known names when it is missing. */
export function getProfile(profiles: Map<string, Profile>, name: string): Profile {
  const p = profiles.get(name);
  if (p === undefined) {
    throw new InputError(`profile '${name}' not found; known profiles: ${[...profiles.keys()].join(', ')}`);
  }
  return p;
}

function parseProfile(name: string, raw: unknown, where: string): Profile {
  const r = new FieldReader(raw, where);
  const description = r.string('description');
  const notes = r.optionalStrings('notes');
  const kernel = parseKernel(r.object('kernel'), `${where} field kernel`);
  const stack = parseStack(r.object('stack'), `${where} field stack`);
  r.done();
  return { name, description, notes, kernel, stack };
}

function parseKernel(raw: unknown, where: string): KernelParams {
  const r = new FieldReader(raw, where);
  const model = r.choice('model', ['hmac-core', 'cpu'] as const);
  const format = {
    hash: r.choice('hash', ['sha256', 'sha384'] as const),
    tagFieldBytes: r.integer('tagFieldBytes', 1, 1024),
    tagPlacement: r.choice('tagPlacement', ['leading', 'trailing'] as const),
    sizeIncludesAttestation: r.boolean('sizeIncludesAttestation'),
  };
  const tagBytes = format.hash === 'sha256' ? 32 : 48;
  if (format.tagFieldBytes < tagBytes) {
    throw new InputError(
      `${where}.tagFieldBytes ${format.tagFieldBytes} is smaller than the ${tagBytes}-byte ${format.hash} tag; use at least ${tagBytes}`,
    );
  }

  if (model === 'hmac-core') {
    const params: HmacCoreParams = {
      model,
      location: r.choice('location', ['nic'] as const),
      ...format,
      clockMHz: r.number('clockMHz', 1, 10_000),
      blockBytes: r.integer('blockBytes', 1, 4096),
      blockCycles: r.integer('blockCycles', 1, 1_000_000),
      prefixBytes: r.integer('prefixBytes', 0, 4096),
      paddingBytes: r.integer('paddingBytes', 0, 4096),
      outerBlocks: r.integer('outerBlocks', 0, 16),
      fixedCycles: r.integer('fixedCycles', 0, 1_000_000),
      engines: r.integer('engines', 1, 1024),
      portBytesPerCycle: r.integer('portBytesPerCycle', 1, 4096),
      portCommandCycles: r.integer('portCommandCycles', 0, 1_000_000),
    };
    r.done();
    return params;
  }
  const params: CpuParams = {
    model,
    location: r.choice('location', ['host'] as const),
    ...format,
    accessNs: r.number('accessNs', 0, 1e12),
    computeNs: r.number('computeNs', 0, 1e12),
    computeNsPerByte: r.number('computeNsPerByte', 0, 1e9),
    workers: r.integer('workers', 1, 1024),
  };
  r.done();
  return params;
}

function parseStack(raw: unknown, where: string): StackParams {
  const r = new FieldReader(raw, where);
  const params: StackParams = {
    hostPostNs: r.number('hostPostNs', 0, 1e12),
    pollNs: r.number('pollNs', 0, 1e12),
    localTransferNs: r.number('localTransferNs', 0, 1e12),
    dmaReadLatencyNs: r.number('dmaReadLatencyNs', 0, 1e12),
    dmaWriteLatencyNs: r.number('dmaWriteLatencyNs', 0, 1e12),
    dmaBytesPerNs: r.number('dmaBytesPerNs', 1e-6, 1e6, true),
    txPipelineNs: r.number('txPipelineNs', 0, 1e12),
    rxPipelineNs: r.number('rxPipelineNs', 0, 1e12),
    mtu: r.integer('mtu', 256, 4096),
    linkGbps: r.number('linkGbps', 1e-3, 1e6, true),
    propagationNs: r.number('propagationNs', 0, 1e12),
    retransmitTimeoutNs: r.number('retransmitTimeoutNs', 1, 1e15, true),
    ackEveryPackets: r.integer('ackEveryPackets', 1, 1 << 20),
    maxInflightPackets: r.integer('maxInflightPackets', 1, 1 << 22),
  };
  if (!(ROCE_MTUS as readonly number[]).includes(params.mtu)) {
    throw new InputError(`${where}.mtu ${params.mtu} is not a RoCE path MTU; use one of ${ROCE_MTUS.join(', ')}`);
  }
  r.done();
  return params;
}

/** Reads the fields of one JSON object and rejects unknown ones, so a misspelt field is named. */
class FieldReader {
  readonly #obj: Record<string, unknown>;
  readonly #seen = new Set<string>();

  constructor(
    raw: unknown,
    readonly where: string,
  ) {
    if (!isObject(raw)) throw new InputError(`${where}: expected an object, got ${describe(raw)}`);
    this.#obj = raw;
  }

  #get(key: string): unknown {
    this.#seen.add(key);
    const v = this.#obj[key];
    if (v === undefined) throw new InputError(`${this.where}.${key} is missing; add it (see sim/nic/profiles.json)`);
    return v;
  }

  string(key: string): string {
    const v = this.#get(key);
    if (typeof v !== 'string') throw new InputError(`${this.where}.${key} must be a string, got ${describe(v)}`);
    return v;
  }

  optionalStrings(key: string): string[] {
    if (this.#obj[key] === undefined) {
      this.#seen.add(key);
      return [];
    }
    const v = this.#get(key);
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      throw new InputError(`${this.where}.${key} must be an array of strings, got ${describe(v)}`);
    }
    return v as string[];
  }

  object(key: string): unknown {
    return this.#get(key);
  }

  boolean(key: string): boolean {
    const v = this.#get(key);
    if (typeof v !== 'boolean') throw new InputError(`${this.where}.${key} must be true or false, got ${describe(v)}`);
    return v;
  }

  choice<T extends string>(key: string, options: readonly T[]): T {
    const v = this.#get(key);
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
      throw new InputError(`${this.where}.${key} is ${describe(v)}; use one of: ${options.join(', ')}`);
    }
    return v as T;
  }

  /** Read a finite number in [min, max], or in (0, max] with `exclusiveMin`. */
  number(key: string, min: number, max: number, exclusiveMin = false): number {
    const v = this.#get(key);
    const low = exclusiveMin ? 0 : min;
    const ok = typeof v === 'number' && Number.isFinite(v) && v <= max && (exclusiveMin ? v > low : v >= min);
    if (!ok) {
      const range = exclusiveMin ? `greater than ${low} and at most ${max}` : `in ${min}..${max}`;
      throw new InputError(`${this.where}.${key} is ${describe(v)}; expected a number ${range}`);
    }
    return v as number;
  }

  integer(key: string, min: number, max: number): number {
    const v = this.#get(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InputError(`${this.where}.${key} is ${describe(v)}; expected an integer in ${min}..${max}`);
    }
    return v;
  }

  /** Reject fields that were never read. */
  done(): void {
    for (const key of Object.keys(this.#obj)) {
      if (!this.#seen.has(key)) {
        throw new InputError(`${this.where}.${key} is not a known field; remove it or check its spelling`);
      }
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  if (v === undefined) return 'missing';
  return JSON.stringify(v) ?? String(v);
}

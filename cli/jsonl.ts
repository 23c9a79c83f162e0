/**
 * Reading JSON-lines input files for the kernel commands. Every line is
 * checked before anything runs, and an error names the file, the line, the
 * field and what is expected.
 */

import { readFileSync } from 'node:fs';

import { InputError } from '../sim/errors.ts';
import { COUNTER_MAX, MAX_INPUT_BYTES, N_SESSIONS, TAG_BYTES } from '../sim/kernel_port.ts';

export type JsonRecord = Record<string, unknown>;

/** Parsed lines with their 1-based line numbers; blank lines are skipped. */
export function readJsonLines(path: string): { line: number; record: JsonRecord }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reasons: Record<string, string> = { ENOENT: 'not found', EISDIR: 'is a folder', EACCES: 'permission denied' };
    const reason = reasons[code ?? ''] ?? code ?? String(err);
    throw new InputError(`cannot read input file ${path}: ${reason}; check the path`);
  }

  const out: { line: number; record: JsonRecord }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      // V8's message quotes the line, which may hold a key, so only its position is kept.
      const position = /position (\d+)/.exec((err as Error).message)?.[1];
      const at = position === undefined ? '' : ` at column ${Number(position) + 1}`;
      throw new InputError(`${path}:${i + 1}: invalid JSON${at}; check quotes, commas and braces`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InputError(`${path}:${i + 1}: expected a JSON object per line`);
    }
    out.push({ line: i + 1, record: value as JsonRecord });
  });
  if (out.length === 0) throw new InputError(`input file ${path} has no JSON lines; give one transaction per line`);
  return out;
}

/** Field accessors that throw an InputError naming `where` (file:line). */
export class FieldReader {
  constructor(
    private readonly where: string,
    private readonly record: JsonRecord,
  ) {}

  #get(name: string): unknown {
    if (!(name in this.record)) throw new InputError(`${this.where}: missing field '${name}'`);
    return this.record[name];
  }

  u32(name: string, max = 0xffffffff): number {
    const v = this.#get(name);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      const described = typeof v === 'number' ? String(v) : JSON.stringify(v);
      throw new InputError(`${this.where}: field '${name}' is ${described}, expected an integer in 0..${max}`);
    }
    return v;
  }

  session(): number {
    const v = this.#get('session');
    if (typeof v === 'number' && Number.isInteger(v) && v >= N_SESSIONS) {
      throw new InputError(
        `${this.where}: session ${v} is out of range; the keystore has sessions 0..${N_SESSIONS - 1}`,
      );
    }
    return this.u32('session', N_SESSIONS - 1);
  }

  /** Read a u64 given as a decimal string (or a safe integer number). */
  counter(name: string): bigint {
    const v = this.#get(name);
    if (typeof v === 'number' && !Number.isSafeInteger(v)) {
      throw new InputError(
        `${this.where}: field '${name}' is a JSON number beyond 2^53, which JSON parsers round; give it as a decimal string`,
      );
    }
    const text = typeof v === 'number' ? String(v) : v;
    if (typeof text !== 'string' || !/^\d{1,20}$/.test(text) || BigInt(text) > COUNTER_MAX) {
      throw new InputError(
        `${this.where}: field '${name}' is ${JSON.stringify(v)}, expected a decimal string in 0..${COUNTER_MAX}`,
      );
    }
    return BigInt(text);
  }

  hex(name: string, exactBytes?: number): Uint8Array {
    const v = this.#get(name);
    // The value is never echoed: the field may hold a key.
    if (typeof v !== 'string') {
      throw new InputError(`${this.where}: field '${name}' is a ${typeof v}, expected a hex string`);
    }
    const bad = v.search(/[^0-9a-fA-F]/);
    if (bad >= 0) {
      throw new InputError(`${this.where}: field '${name}' has a non-hex character at offset ${bad}`);
    }
    if (v.length % 2 !== 0) {
      throw new InputError(`${this.where}: field '${name}' has an odd number of hex digits (${v.length})`);
    }
    const bytes = new Uint8Array(Buffer.from(v, 'hex'));
    if (exactBytes !== undefined && bytes.length !== exactBytes) {
      throw new InputError(
        `${this.where}: field '${name}' has ${bytes.length} bytes, expected ${exactBytes} (${2 * exactBytes} hex digits)`,
      );
    }
    if (bytes.length > MAX_INPUT_BYTES) {
      throw new InputError(`${this.where}: field '${name}' has ${bytes.length} bytes, the kernel takes at most ${MAX_INPUT_BYTES}`);
    }
    return bytes;
  }

  tag(name: string): Uint8Array {
    return this.hex(name, TAG_BYTES);
  }
}

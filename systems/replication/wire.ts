/**
 * Protocol messages as UTF-8 JSON. The bytes go inside an attested message,
 * so the device authenticates them; a sender whose device is genuine may
 * still be Byzantine, so every decoded message is checked field by field by
 * its reader before use.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parse JSON bytes; returns undefined when they are not valid UTF-8 JSON. */
export function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

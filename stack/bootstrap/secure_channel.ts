/**
 * The mutually authenticated channel between the IP vendor and a device
 * controller: an ephemeral X25519 exchange whose public halves each side
 * signs with its long-term Ed25519 key (see ip_vendor.ts and
 * device_controller.ts), then ChaCha20-Poly1305 records under keys derived
 * with HKDF-SHA256 from the shared secret and the handshake transcript.
 *
 * Record: counter u64 || ciphertext || 16-byte tag. Each direction has its
 * own key and counts its records from 0; a record is accepted only with the
 * next counter, so a replayed, reordered or dropped record fails the channel.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';

import { AttestationError } from './attestation_error.ts';

export type ChannelRole = 'vendor' | 'controller';

const KEY_BYTES = 32;
const TAG_BYTES = 16;
const COUNTER_BYTES = 8;
const HKDF_INFO = 'tnic bootstrap channel v1';

export interface Ephemeral {
  privateKey: KeyObject;
  /** The raw 32-byte X25519 public key. */
  publicKey: Uint8Array;
}

export function newEphemeral(): Ephemeral {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, publicKey: new Uint8Array(Buffer.from(jwk.x!, 'base64url')) };
}

export class SecureChannel {
  #sendKey: Buffer;
  #receiveKey: Buffer;
  #sent = 0n;
  #received = 0n;

  private constructor(sendKey: Buffer, receiveKey: Buffer) {
    this.#sendKey = sendKey;
    this.#receiveKey = receiveKey;
  }

  /** Derive both directions' keys; `transcript` is every handshake byte both sides signed. */
  static derive(role: ChannelRole, own: Ephemeral, peerPublic: Uint8Array, transcript: Uint8Array): SecureChannel {
    let shared: Buffer;
    try {
      const publicKey = createPublicKey({
        key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublic).toString('base64url') },
        format: 'jwk',
      });
      shared = diffieHellman({ privateKey: own.privateKey, publicKey });
    } catch (err) {
      throw new AttestationError('channel-failed', `the peer's X25519 key is invalid: ${String(err)}`);
    }
    const salt = createHash('sha256').update(transcript).digest();
    const keys = Buffer.from(hkdfSync('sha256', shared, salt, HKDF_INFO, 2 * KEY_BYTES));
    shared.fill(0);
    const toController = keys.subarray(0, KEY_BYTES);
    const toVendor = keys.subarray(KEY_BYTES);
    return role === 'vendor'
      ? new SecureChannel(Buffer.from(toController), Buffer.from(toVendor))
      : new SecureChannel(Buffer.from(toVendor), Buffer.from(toController));
  }

  seal(plaintext: Uint8Array): Uint8Array {
    const header = counterBytes(this.#sent++);
    const cipher = createCipheriv('chacha20-poly1305', this.#sendKey, nonceOf(header), { authTagLength: TAG_BYTES });
    cipher.setAAD(header, { plaintextLength: plaintext.length });
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return new Uint8Array(Buffer.concat([header, body, cipher.getAuthTag()]));
  }

  /** Decrypt the next record; throws AttestationError('channel-failed') unless it is intact and next in order. */
  open(record: Uint8Array): Uint8Array {
    if (record.length < COUNTER_BYTES + TAG_BYTES) {
      throw new AttestationError('channel-failed', `record of ${record.length} bytes is too short to hold a counter and tag`);
    }
    const header = Buffer.from(record.subarray(0, COUNTER_BYTES));
    const counter = header.readBigUInt64BE(0);
    if (counter !== this.#received) {
      throw new AttestationError(
        'channel-failed',
        `record counter ${counter} is not the expected ${this.#received} (replayed, reordered or lost)`,
      );
    }
    const decipher = createDecipheriv('chacha20-poly1305', this.#receiveKey, nonceOf(header), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(header, { plaintextLength: record.length - COUNTER_BYTES - TAG_BYTES });
    decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
    try {
      const plain = Buffer.concat([
        decipher.update(record.subarray(COUNTER_BYTES, record.length - TAG_BYTES)),
        decipher.final(),
      ]);
      this.#received += 1n;
      return new Uint8Array(plain);
    } catch {
      throw new AttestationError('channel-failed', `record ${counter} failed authentication (tampered or wrong key)`);
    }
  }

  /** Overwrite both keys; the channel cannot be used afterwards. */
  destroy(): void {
    this.#sendKey.fill(0);
    this.#receiveKey.fill(0);
  }
}

function counterBytes(counter: bigint): Buffer {
  const out = Buffer.alloc(COUNTER_BYTES);
  out.writeBigUInt64BE(counter);
  return out;
}

/** 96-bit nonce: four zero bytes and the record counter; unique per key because counters never repeat. */
function nonceOf(header: Buffer): Buffer {
  return Buffer.concat([Buffer.alloc(4), header]);
}

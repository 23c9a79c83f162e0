/**
 * The device side of bootstrapping. `DeviceHardware` is the manufactured
 * device: a unique Ed25519 key pair replaces the secret key fused into
 * the chip. Booting a controller image measures it (SHA-256), makes a fresh
 * controller key pair for this device and image, and has the hardware key
 * certify both. The `DeviceController` then answers the vendor's nonce
 * challenge, runs its half of the authenticated handshake, and loads the
 * secrets that arrive over that channel into the TNIC device, then locks it.
 * Last, it certifies the TNIC device's client key C_pub with the controller
 * key and returns that certificate in the sealed acknowledgement.
 *
 * The hardware and controller secret keys stay in private fields; nothing
 * returns, serializes or logs them.
 */

import { createHash } from 'node:crypto';

import { keygenAsync, signAsync } from '@noble/ed25519';

import type { TnicDevice } from '../tnic_device.ts';
import { AttestationError } from './attestation_error.ts';
import {
  concatBytes,
  signCertificate,
  signQuote,
  verifySignature,
  PUBLIC_KEY_BYTES,
  type ControllerCertificate,
  type Quote,
} from './certificates.ts';
import { signClientKey } from './client_certificate.ts';
import { decodeProvisioning, encodeProvisioningAck } from './provisioning.ts';
import { newEphemeral, SecureChannel } from './secure_channel.ts';

/** A controller binary and the IP vendor's public key embedded in it; both are measured. */
export interface ControllerImage {
  code: Uint8Array;
  vendorKey: Uint8Array;
}

/** The vendor's half of the handshake, signed with the vendor key. */
export interface VendorHello {
  ephemeral: Uint8Array;
  signature: Uint8Array;
}

/** The controller's half of the handshake, signed with the controller key. */
export interface ControllerHello {
  ephemeral: Uint8Array;
  signature: Uint8Array;
}

/** The controller operations the vendor calls; a test may put an attacker in between. */
export interface ControllerPort {
  quote(nonce: Uint8Array): Promise<Quote>;
  acceptHandshake(hello: VendorHello): Promise<ControllerHello>;
  /** Take one sealed provisioning record; returns the sealed acknowledgement. */
  provision(record: Uint8Array): Promise<Uint8Array>;
}

const encoder = new TextEncoder();
const MEASUREMENT_LABEL = encoder.encode('tnic controller image v1');
const VENDOR_HELLO_LABEL = encoder.encode('tnic handshake vendor v1');
const CONTROLLER_HELLO_LABEL = encoder.encode('tnic handshake controller v1');

/** SHA-256 over the code and the embedded vendor key, so a swapped vendor key changes the measurement. */
export function measureController(image: ControllerImage): Uint8Array {
  const hash = createHash('sha256').update(MEASUREMENT_LABEL).update(image.code).update(image.vendorKey);
  return new Uint8Array(hash.digest());
}

/** Build the bytes the vendor signs in its hello, bound to the quote it just verified. */
export function vendorHelloBody(quote: Quote, ephemeral: Uint8Array): Uint8Array {
  return concatBytes(VENDOR_HELLO_LABEL, quote.signature, ephemeral);
}

/** Build the bytes the controller signs in its hello, which are also the channel's transcript. */
export function controllerHelloBody(quote: Quote, vendorEphemeral: Uint8Array, ephemeral: Uint8Array): Uint8Array {
  return concatBytes(CONTROLLER_HELLO_LABEL, quote.signature, vendorEphemeral, ephemeral);
}

export class DeviceHardware {
  readonly #secretKey: Uint8Array;

  private constructor(
    readonly publicKey: Uint8Array,
    secretKey: Uint8Array,
  ) {
    this.#secretKey = secretKey;
  }

  /** Make a device with a fresh hardware key pair, as the manufacturer fuses it. */
  static async manufacture(): Promise<DeviceHardware> {
    const { publicKey, secretKey } = await keygenAsync();
    return new DeviceHardware(publicKey, secretKey);
  }

  /** Boot `image` on this device with the TNIC device it controls. */
  async bootController(image: ControllerImage, device: TnicDevice): Promise<DeviceController> {
    if (image.vendorKey.length !== PUBLIC_KEY_BYTES) {
      throw new AttestationError(
        'vendor-not-authenticated',
        `the embedded vendor key has ${image.vendorKey.length} bytes, not ${PUBLIC_KEY_BYTES}`,
      );
    }
    const controller = await keygenAsync();
    const certificate = await signCertificate(
      { hardwareKey: this.publicKey, measurement: measureController(image), controllerKey: controller.publicKey },
      this.#secretKey,
    );
    return new DeviceController(certificate, controller.secretKey, image.vendorKey.slice(), device);
  }
}

export type ControllerState = 'booted' | 'quoted' | 'connected' | 'provisioned' | 'failed';

export class DeviceController implements ControllerPort {
  #state: ControllerState = 'booted';
  readonly #secretKey: Uint8Array;
  #lastQuote: Quote | undefined;
  #channel: SecureChannel | undefined;

  constructor(
    readonly certificate: ControllerCertificate,
    secretKey: Uint8Array,
    /** The IP vendor's public key, embedded in the controller image. */
    readonly vendorKey: Uint8Array,
    readonly device: TnicDevice,
  ) {
    this.#secretKey = secretKey;
  }

  get state(): ControllerState {
    return this.#state;
  }

  async quote(nonce: Uint8Array): Promise<Quote> {
    this.#expectState(['booted', 'quoted'], 'answer a challenge');
    this.#lastQuote = await signQuote(nonce.slice(), this.certificate, this.#secretKey);
    this.#state = 'quoted';
    return this.#lastQuote;
  }

  async acceptHandshake(hello: VendorHello): Promise<ControllerHello> {
    this.#expectState(['quoted'], 'start the channel');
    const quote = this.#lastQuote!;
    if (!(await verifySignature(hello.signature, vendorHelloBody(quote, hello.ephemeral), this.vendorKey))) {
      this.#state = 'failed';
      throw new AttestationError(
        'vendor-not-authenticated',
        'the handshake is not signed by the vendor key embedded in the controller image',
      );
    }
    const ephemeral = newEphemeral();
    const transcript = controllerHelloBody(quote, hello.ephemeral, ephemeral.publicKey);
    this.#channel = SecureChannel.derive('controller', ephemeral, hello.ephemeral, transcript);
    this.#state = 'connected';
    return { ephemeral: ephemeral.publicKey, signature: await signAsync(transcript, this.#secretKey) };
  }

  async provision(record: Uint8Array): Promise<Uint8Array> {
    this.#expectState(['connected'], 'take provisioning secrets');
    const channel = this.#channel!;
    try {
      const plan = decodeProvisioning(channel.open(record));
      // NOTE: TnicDevice sets its id once, at open, and offers no later
      // SET_ID, so the controller checks the assigned id instead of loading it.
      if (plan.deviceId !== this.device.deviceId) {
        throw new AttestationError(
          'wrong-device-id',
          `the vendor assigned device id ${plan.deviceId}, but this device has id ${this.device.deviceId}`,
        );
      }
      for (const { session, key } of plan.sessions) {
        await this.device.provision(session, key);
        key.fill(0);
      }
      await this.device.lock();
      await this.#expectOnlyVendorKeys(plan.sessions.map((s) => s.session));
      // Certified only now, because C_priv signs only tags of this keystore, which contains the vendor's keys alone.
      const clientCertificate = await signClientKey(
        { controller: this.certificate, deviceId: this.device.deviceId, clientKey: this.device.clientKey },
        this.#secretKey,
      );
      this.#state = 'provisioned';
      return channel.seal(
        encodeProvisioningAck({ deviceId: plan.deviceId, sessions: plan.sessions.length, clientCertificate }),
      );
    } catch (err) {
      this.#state = 'failed';
      throw err;
    } finally {
      channel.destroy();
      this.#channel = undefined;
    }
  }

  /** Fail unless the locked keystore has keys for exactly `sessions` and none that the host loaded earlier. */
  async #expectOnlyVendorKeys(sessions: readonly number[]): Promise<void> {
    const extra = (await this.device.keyedSessions()).filter((s) => !sessions.includes(s));
    if (extra.length > 0) {
      throw new AttestationError(
        'unexpected-keys',
        `device ${this.device.deviceId} has keys for sessions ${extra.join(', ')} that the vendor did not send; ` +
          'reset the device and bootstrap it again',
      );
    }
  }

  #expectState(allowed: readonly ControllerState[], action: string): void {
    if (!allowed.includes(this.#state)) {
      throw new AttestationError(
        'channel-failed',
        `the controller cannot ${action} in state '${this.#state}'; boot it again to restart bootstrapping`,
      );
    }
  }
}

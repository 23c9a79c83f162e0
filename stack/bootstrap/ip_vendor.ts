/**
 * The IP vendor's side of bootstrapping and remote attestation:
 *
 * 1. send a fresh nonce to the device controller;
 * 2. check the quote: the hardware key is one the manufacturer registered,
 *    it signed the controller certificate, the measured controller image is
 *    the expected one, the quote responds to this nonce, and the certified
 *    controller key signed it;
 * 3. run the handshake: the vendor signs its X25519 half with its own key,
 *    which the controller image embeds, and checks the controller's half
 *    against the certified controller key;
 * 4. send the device id and session keys over the channel, and check the
 *    acknowledgement and the client key certificate in it, which must
 *    chain back to this vendor's trust roots through the attested
 *    controller certificate.
 *
 * Any failed check ends bootstrapping with an AttestationError naming the
 * reason, before a secret is sent.
 */

import { randomBytes } from 'node:crypto';

import { keygenAsync, signAsync } from '@noble/ed25519';

import { InputError } from '../../sim/errors.ts';
import { AttestationError } from './attestation_error.ts';
import {
  certificateBody,
  quoteBody,
  toHex,
  verifySignature,
  NONCE_BYTES,
  type Quote,
} from './certificates.ts';
import {
  checkClientKeyChain,
  type ClientKeyCertificate,
  type TrustRoots,
} from './client_certificate.ts';
import {
  controllerHelloBody,
  measureController,
  vendorHelloBody,
  type ControllerImage,
  type ControllerPort,
} from './device_controller.ts';
import {
  checkPlan,
  decodeProvisioningAck,
  encodeProvisioning,
  type SessionSecret,
} from './provisioning.ts';
import { newEphemeral, SecureChannel } from './secure_channel.ts';

export interface BootstrapReport {
  deviceId: number;
  sessions: number;
  /** Hex of the hardware public key that was attested. */
  hardwareKey: string;
  /** The device's certified client key, for clients that check its signed replies. */
  clientCertificate: ClientKeyCertificate;
}

export class IpVendor {
  readonly #secretKey: Uint8Array;
  /** Genuine devices from the manufacturer: hardware public key (hex) to device id. */
  #devices = new Map<string, number>();
  #outstanding = new Set<string>();
  #spent = new Set<string>();

  /** The controller image this vendor builds: the code with the vendor's public key embedded. */
  readonly controllerImage: ControllerImage;
  /** The measurement of controllerImage, the only one whose quotes are accepted. */
  readonly expectedMeasurement: Uint8Array;

  private constructor(
    readonly publicKey: Uint8Array,
    secretKey: Uint8Array,
    controllerCode: Uint8Array,
  ) {
    this.#secretKey = secretKey;
    this.controllerImage = { code: controllerCode.slice(), vendorKey: publicKey };
    this.expectedMeasurement = measureController(this.controllerImage);
  }

  /** Make a vendor with a fresh key pair and the controller image it ships, built from `controllerCode`. */
  static async create(controllerCode: Uint8Array): Promise<IpVendor> {
    if (controllerCode.length === 0) throw new InputError('the controller code is empty');
    const { publicKey, secretKey } = await keygenAsync();
    return new IpVendor(publicKey, secretKey, controllerCode);
  }

  /** Record a genuine device, as the manufacturer reports it, and the id it is to get. */
  registerDevice(hardwareKey: Uint8Array, deviceId: number): void {
    if (!Number.isInteger(deviceId) || deviceId < 0 || deviceId > 0xffff_ffff) {
      throw new InputError(`device id ${deviceId} must be an integer in 0..2^32-1`);
    }
    this.#devices.set(toHex(hardwareKey), deviceId);
  }

  /** Return what clients trust: the registered devices and the controller measurement; copies. */
  trustRoots(): TrustRoots {
    return { measurement: this.expectedMeasurement.slice(), devices: new Map(this.#devices) };
  }

  /** Issue a fresh nonce, which is accepted in one quote only. */
  challenge(): Uint8Array {
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    this.#outstanding.add(toHex(nonce));
    return nonce;
  }

  /**
   * Check a quote against the challenge `nonce`, which is spent whatever
   * the outcome. Returns the device id registered for the hardware key.
   */
  async verifyQuote(nonce: Uint8Array, quote: Quote): Promise<number> {
    const challenge = toHex(nonce);
    const wasOutstanding = this.#outstanding.delete(challenge);
    this.#spent.add(challenge);

    const cert = quote.certificate;
    const deviceId = this.#devices.get(toHex(cert.hardwareKey));
    if (deviceId === undefined) {
      throw new AttestationError(
        'unknown-device-key',
        `hardware key ${toHex(cert.hardwareKey).slice(0, 16)}... is not a registered device`,
      );
    }
    if (!(await verifySignature(cert.signature, certificateBody(cert), cert.hardwareKey))) {
      throw new AttestationError(
        'bad-certificate-signature',
        `the controller certificate of device ${deviceId} is not signed by its hardware key`,
      );
    }
    if (toHex(cert.measurement) !== toHex(this.expectedMeasurement)) {
      throw new AttestationError(
        'wrong-measurement',
        `device ${deviceId} runs controller ${toHex(cert.measurement).slice(0, 16)}..., ` +
          `not the expected ${toHex(this.expectedMeasurement).slice(0, 16)}...`,
      );
    }
    this.#checkNonce(challenge, wasOutstanding, toHex(quote.nonce), deviceId);
    if (!(await verifySignature(quote.signature, quoteBody(quote.nonce, cert), cert.controllerKey))) {
      throw new AttestationError(
        'bad-quote-signature',
        `the quote of device ${deviceId} is not signed by its certified controller key`,
      );
    }
    return deviceId;
  }

  /** Attest the controller behind `port`, then provision `sessions` and its registered device id. */
  async bootstrap(port: ControllerPort, sessions: readonly SessionSecret[]): Promise<BootstrapReport> {
    const nonce = this.challenge();
    const quote = await port.quote(nonce);
    const deviceId = await this.verifyQuote(nonce, quote);
    const plan = { deviceId, sessions: sessions.map((s) => ({ session: s.session, key: s.key.slice() })) };
    checkPlan(plan);

    const ephemeral = newEphemeral();
    const signature = await signAsync(vendorHelloBody(quote, ephemeral.publicKey), this.#secretKey);
    const reply = await port.acceptHandshake({ ephemeral: ephemeral.publicKey, signature });
    const transcript = controllerHelloBody(quote, ephemeral.publicKey, reply.ephemeral);
    if (!(await verifySignature(reply.signature, transcript, quote.certificate.controllerKey))) {
      throw new AttestationError(
        'channel-failed',
        `the handshake of device ${deviceId} is not signed by its certified controller key`,
      );
    }

    const channel = SecureChannel.derive('vendor', ephemeral, reply.ephemeral, transcript);
    try {
      const plain = encodeProvisioning(plan);
      const record = channel.seal(plain);
      plain.fill(0);
      for (const s of plan.sessions) s.key.fill(0);
      const ack = decodeProvisioningAck(channel.open(await port.provision(record)));
      if (ack.deviceId !== deviceId || ack.sessions !== plan.sessions.length) {
        throw new AttestationError(
          'channel-failed',
          `device ${ack.deviceId} acknowledged ${ack.sessions} sessions; expected device ${deviceId} ` +
            `with ${plan.sessions.length}`,
        );
      }
      await this.#checkClientCertificate(ack.clientCertificate, quote, deviceId);
      return {
        deviceId,
        sessions: ack.sessions,
        hardwareKey: toHex(quote.certificate.hardwareKey),
        clientCertificate: ack.clientCertificate,
      };
    } finally {
      channel.destroy();
    }
  }

  /** Check that the attested controller certified the client key of device `deviceId`, back to the roots. */
  async #checkClientCertificate(certificate: ClientKeyCertificate, quote: Quote, deviceId: number): Promise<void> {
    const attested = quote.certificate;
    const sameController =
      toHex(certificateBody(certificate.controller)) === toHex(certificateBody(attested)) &&
      toHex(certificate.controller.signature) === toHex(attested.signature);
    if (!sameController || certificate.deviceId !== deviceId) {
      throw new AttestationError(
        'bad-client-key-certificate',
        `the client key certificate of device ${deviceId} names device ${certificate.deviceId} or a controller ` +
          'other than the attested one',
      );
    }
    const problem = await checkClientKeyChain(certificate, this.trustRoots());
    if (problem !== undefined) throw new AttestationError('bad-client-key-certificate', problem.detail);
  }

  #checkNonce(challenge: string, wasOutstanding: boolean, answered: string, deviceId: number): void {
    if (answered === challenge && wasOutstanding) return;
    if (answered === challenge || this.#spent.has(answered) || this.#outstanding.has(answered)) {
      throw new AttestationError(
        'replayed-nonce',
        `the quote of device ${deviceId} responds to an earlier challenge, not the current nonce`,
      );
    }
    throw new AttestationError('wrong-nonce', `the quote of device ${deviceId} responds to a nonce this vendor never issued`);
  }
}

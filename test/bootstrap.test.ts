import { keygenAsync, signAsync } from '@noble/ed25519';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { UnknownSessionError } from '../api/errors.ts';
import { checkClientKeyChain, checkSignedReply, Tnic, type Backend } from '../api/tnic_api.ts';
import { AttestationError, type AttestationFailure } from '../stack/bootstrap/attestation_error.ts';
import { signCertificate, type Quote } from '../stack/bootstrap/certificates.ts';
import {
  DeviceHardware,
  type ControllerImage,
  type ControllerPort,
  type DeviceController,
} from '../stack/bootstrap/device_controller.ts';
import { IpVendor } from '../stack/bootstrap/ip_vendor.ts';
import { SecureChannel, newEphemeral } from '../stack/bootstrap/secure_channel.ts';

const SESSION = 3;
const DEVICE_ID = 7;
const CODE = new TextEncoder().encode('controller binary v1');

interface Setup {
  vendor: IpVendor;
  hardware: DeviceHardware;
  image: ControllerImage;
}

/** Create a vendor with its controller image, and a device it has not registered yet. */
async function setup(): Promise<Setup> {
  const vendor = await IpVendor.create(CODE);
  return { vendor, hardware: await DeviceHardware.manufacture(), image: vendor.controllerImage };
}

async function expectRejected(promise: Promise<unknown>, reason: AttestationFailure): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, 'an AttestationError').toBeInstanceOf(AttestationError);
  expect((error as AttestationError).reason, 'rejection reason').toBe(reason);
}

describe.each(['model', 'rtl'] as Backend[])('bootstrap on the %s backend', (backend) => {
  let tnic: Tnic;
  let s: Setup;
  let controller: DeviceController;
  const key = new Uint8Array(32).fill(0x33);

  beforeAll(async () => {
    tnic = await Tnic.open(backend, DEVICE_ID);
  });

  beforeEach(async () => {
    await tnic.device.reset();
    s = await setup();
    s.vendor.registerDevice(s.hardware.publicKey, DEVICE_ID);
    controller = await s.hardware.bootController(s.image, tnic.device);
  });

  afterAll(async () => {
    await tnic.close();
  });

  it('provisions an attested device', async () => {
    const report = await s.vendor.bootstrap(controller, [{ session: SESSION, key }]);
    expect(report.deviceId, 'registered id').toBe(DEVICE_ID);
    expect(report.sessions, 'one session').toBe(1);
    expect(controller.state, 'controller state').toBe('provisioned');

    const wire = await tnic.localSend(SESSION, new TextEncoder().encode('hello'));
    expect(wire.length, 'attested message').toBe(48 + 5);
    await expect(tnic.provision(SESSION + 1, key), 'locked after provisioning').rejects.toThrow(/locked/);
  });

  it('certifies the client key', async () => {
    const report = await s.vendor.bootstrap(controller, [{ session: SESSION, key }]);
    const certificate = report.clientCertificate;
    expect(certificate.clientKey, 'the device C_pub').toEqual(tnic.clientKey);
    expect(certificate.deviceId, 'device id').toBe(DEVICE_ID);
    expect(await checkClientKeyChain(certificate, s.vendor.trustRoots()), 'chain to the roots').toBeUndefined();

    const signed = await tnic.attestAndSign(SESSION, new TextEncoder().encode('reply'));
    expect(await checkSignedReply(signed, certificate.clientKey), 'reply verifies').toBe(true);
    await tnic.device.reset();
    expect(tnic.clientKey, 'reset replaces C_pub').not.toEqual(certificate.clientKey);
  });

  it('rejects keys the vendor did not send', async () => {
    // The host loads a key of its own before the vendor provisions the device.
    await tnic.provision(SESSION + 6, key);
    await expectRejected(s.vendor.bootstrap(controller, [{ session: SESSION, key }]), 'unexpected-keys');
    expect(controller.state, 'controller gave up').toBe('failed');
  });

  it('rejects an unknown device key', async () => {
    const stranger = await DeviceHardware.manufacture();
    const rogue = await stranger.bootController(s.image, tnic.device);
    await expectRejected(s.vendor.bootstrap(rogue, [{ session: SESSION, key }]), 'unknown-device-key');
    await expect(tnic.localSend(SESSION, new Uint8Array(1)), 'no key').rejects.toBeInstanceOf(UnknownSessionError);
  });

  it('rejects a wrong controller measurement', async () => {
    const patched = await s.hardware.bootController({ ...s.image, code: new TextEncoder().encode('patched') }, tnic.device);
    await expectRejected(s.vendor.bootstrap(patched, [{ session: SESSION, key }]), 'wrong-measurement');
    await expect(tnic.localSend(SESSION, new Uint8Array(1)), 'no key').rejects.toBeInstanceOf(UnknownSessionError);
  });

  it('rejects a replayed nonce', async () => {
    const earlier = s.vendor.challenge();
    const oldQuote = await controller.quote(earlier);
    await s.vendor.verifyQuote(earlier, oldQuote);

    // An attacker responds to the next challenge with the recorded quote.
    const replaying: ControllerPort = {
      quote: async () => oldQuote,
      acceptHandshake: (hello) => controller.acceptHandshake(hello),
      provision: (record) => controller.provision(record),
    };
    await expectRejected(s.vendor.bootstrap(replaying, [{ session: SESSION, key }]), 'replayed-nonce');
    await expect(tnic.localSend(SESSION, new Uint8Array(1)), 'no key').rejects.toBeInstanceOf(UnknownSessionError);
  });

  it('rejects a certificate signed by the wrong key', async () => {
    const attacker = await keygenAsync();
    const port: ControllerPort = {
      quote: async (nonce): Promise<Quote> => {
        const genuine = await controller.quote(nonce);
        // Same claimed hardware key, but signed with the attacker's key.
        const { signature: _dropped, ...body } = genuine.certificate;
        const certificate = await signCertificate(body, attacker.secretKey);
        return { ...genuine, certificate };
      },
      acceptHandshake: (hello) => controller.acceptHandshake(hello),
      provision: (record) => controller.provision(record),
    };
    await expectRejected(s.vendor.bootstrap(port, [{ session: SESSION, key }]), 'bad-certificate-signature');
    await expect(tnic.localSend(SESSION, new Uint8Array(1)), 'no key').rejects.toBeInstanceOf(UnknownSessionError);
  });
});

describe('bootstrap checks', () => {
  let tnic: Tnic;

  beforeAll(async () => {
    tnic = await Tnic.open('model', DEVICE_ID);
  });

  beforeEach(async () => {
    await tnic.device.reset();
  });

  afterAll(async () => {
    await tnic.close();
  });

  it('rejects a nonce never issued', async () => {
    const s = await setup();
    s.vendor.registerDevice(s.hardware.publicKey, DEVICE_ID);
    const controller = await s.hardware.bootController(s.image, tnic.device);
    const nonce = s.vendor.challenge();
    const quote = await controller.quote(new Uint8Array(32).fill(9));
    await expectRejected(s.vendor.verifyQuote(nonce, quote), 'wrong-nonce');
  });

  it('rejects a quote signed by another key', async () => {
    const s = await setup();
    s.vendor.registerDevice(s.hardware.publicKey, DEVICE_ID);
    const controller = await s.hardware.bootController(s.image, tnic.device);
    const other = await s.hardware.bootController(s.image, tnic.device);
    const nonce = s.vendor.challenge();
    const quote = await other.quote(nonce);
    await expectRejected(
      s.vendor.verifyQuote(nonce, { ...quote, certificate: controller.certificate }),
      'bad-quote-signature',
    );
  });

  it('controller rejects an unknown vendor', async () => {
    const s = await setup();
    const controller = await s.hardware.bootController(s.image, tnic.device);
    await controller.quote(s.vendor.challenge());
    const impostor = await keygenAsync();
    const ephemeral = newEphemeral().publicKey;
    const signature = await signAsync(new Uint8Array(64), impostor.secretKey);
    await expectRejected(controller.acceptHandshake({ ephemeral, signature }), 'vendor-not-authenticated');
    expect(controller.state, 'controller gave up').toBe('failed');
    await expect(tnic.localSend(SESSION, new Uint8Array(1)), 'no key').rejects.toBeInstanceOf(UnknownSessionError);
  });

  it('rejects a controller image with another vendor key', async () => {
    const s = await setup();
    s.vendor.registerDevice(s.hardware.publicKey, DEVICE_ID);
    const { publicKey } = await keygenAsync();
    const controller = await s.hardware.bootController({ code: CODE, vendorKey: publicKey }, tnic.device);
    await expectRejected(s.vendor.bootstrap(controller, [{ session: SESSION, key: new Uint8Array(32) }]), 'wrong-measurement');
  });

  it('controller rejects a wrong device id', async () => {
    const s = await setup();
    s.vendor.registerDevice(s.hardware.publicKey, DEVICE_ID + 1);
    const controller = await s.hardware.bootController(s.image, tnic.device);
    await expectRejected(s.vendor.bootstrap(controller, [{ session: SESSION, key: new Uint8Array(32) }]), 'wrong-device-id');
    await expect(tnic.localSend(SESSION, new Uint8Array(1)), 'no key').rejects.toBeInstanceOf(UnknownSessionError);
  });

  it('secure channel rejects replayed and tampered records', () => {
    const vendorSide = newEphemeral();
    const controllerSide = newEphemeral();
    const transcript = new Uint8Array([1, 2, 3]);
    const sender = SecureChannel.derive('vendor', vendorSide, controllerSide.publicKey, transcript);
    const receiver = SecureChannel.derive('controller', controllerSide, vendorSide.publicKey, transcript);

    const first = sender.seal(new Uint8Array([42]));
    expect(receiver.open(first), 'round trip').toEqual(new Uint8Array([42]));
    expect(() => receiver.open(first), 'replay').toThrow(/counter 0 is not the expected 1/);

    const second = sender.seal(new Uint8Array([43]));
    second[second.length - 1]! ^= 1;
    expect(() => receiver.open(second), 'tampered tag').toThrow(/failed authentication/);
  });
});

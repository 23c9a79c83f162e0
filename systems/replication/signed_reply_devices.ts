/**
 * Replica devices whose replies clients can check: each device is
 * bootstrapped by one IP vendor (remote attestation of its controller,
 * session keys over the secure channel, lock), and its controller then
 * certifies its client key C_pub. Clients get the certificates and the
 * vendor's trust roots, never a session key.
 *
 * Bootstrapping is deployment machinery below the programming API, so this
 * file uses stack/bootstrap directly, as the node process does.
 */

import { InputError } from '../../api/errors.ts';
import { Tnic, type Backend, type ClientKeyCertificate, type TrustRoots } from '../../api/tnic_api.ts';
import { DeviceHardware } from '../../stack/bootstrap/device_controller.ts';
import { IpVendor } from '../../stack/bootstrap/ip_vendor.ts';

export interface CertifiedDevices {
  /** One locked device per entry of the request, in the same order. */
  devices: Tnic[];
  /** The client key certificate of each device, in the same order. */
  certificates: ClientKeyCertificate[];
  /** The vendor's trust roots, which clients check the certificates against. */
  roots: TrustRoots;
}

const CONTROLLER_CODE = new TextEncoder().encode('tnic replica controller v1');

/**
 * Open a device for each `{ device, sessions }`, register it with a fresh
 * vendor and bootstrap it with the keys of its sessions from `keys`.
 */
export async function openCertified(
  backend: Backend,
  requested: readonly { device: number; sessions: readonly number[] }[],
  keys: ReadonlyMap<number, Uint8Array>,
): Promise<CertifiedDevices> {
  const vendor = await IpVendor.create(CONTROLLER_CODE);
  const devices: Tnic[] = [];
  const certificates: ClientKeyCertificate[] = [];
  try {
    for (const { device, sessions } of requested) {
      const tnic = await Tnic.open(backend, device);
      devices.push(tnic);
      const hardware = await DeviceHardware.manufacture();
      vendor.registerDevice(hardware.publicKey, device);
      const controller = await hardware.bootController(vendor.controllerImage, tnic.device);
      const secrets = sessions.map((session) => {
        const key = keys.get(session);
        if (key === undefined) throw new InputError(`no key drawn for session ${session}; draw keys for every session`);
        return { session, key };
      });
      const report = await vendor.bootstrap(controller, secrets);
      certificates.push(report.clientCertificate);
    }
  } catch (error) {
    await Promise.all(devices.map((d) => d.close()));
    throw error;
  }
  return { devices, certificates, roots: vendor.trustRoots() };
}

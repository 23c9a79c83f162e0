/**
 * Devices for a cluster: one TNIC per node, each provisioned with the
 * session keys it needs and then locked. In a deployment the IP vendor
 * sends these keys over the bootstrap secure channel; here the caller plays
 * the vendor and draws fresh random keys for every run.
 */

import { randomBytes } from 'node:crypto';

import { Tnic, type Backend } from '../../api/tnic_api.ts';

export const SESSION_KEY_BYTES = 32;

/** Fresh random keys for `sessions`. */
export function drawSessionKeys(sessions: readonly number[]): Map<number, Uint8Array> {
  return new Map(sessions.map((s) => [s, new Uint8Array(randomBytes(SESSION_KEY_BYTES))]));
}

/** Open a device, load the keys of `sessions` and lock it. */
export async function openProvisioned(
  backend: Backend,
  deviceId: number,
  sessions: readonly number[],
  keys: ReadonlyMap<number, Uint8Array>,
): Promise<Tnic> {
  const tnic = await Tnic.open(backend, deviceId);
  try {
    for (const session of sessions) {
      const key = keys.get(session);
      if (key === undefined) throw new Error(`no key drawn for session ${session}`);
      await tnic.provision(session, key);
    }
    await tnic.lock();
    return tnic;
  } catch (error) {
    await tnic.close();
    throw error;
  }
}

/**
 * Modelled latency of the CPU baseline devices, from the device profiles
 * of the NIC simulator (sim/nic/profiles.json), so a baseline device and
 * `tnic sim` charge the same time for the same command.
 *
 * A command that computes an HMAC costs the profile's Attest latency for
 * its message. That is accessNs (server round trip, enclave transition or
 * VM exit) plus computeNs for up to 64 hashed bytes, plus computeNsPerByte
 * for each further hashed byte, counting the 16-byte header. For the SGX
 * profile and a 64-byte message that is 16 + 29 + 0.144 = 45.144 us. Any
 * other command (a key load, set-id, lock, or a command rejected before the
 * HMAC) costs accessNs alone.
 *
 * The latency is reported next to the result (see BaselineKernel), never
 * waited for, so runs stay fast and deterministic.
 */

import type { KernelRequest, KernelResult } from '../../sim/kernel_port.ts';
import { localAttestNs } from '../../sim/nic/experiments.ts';
import { getProfile, loadProfiles, type CpuParams, type Profile } from '../../sim/nic/profiles.ts';
import { TnicError } from '../../sim/errors.ts';

export type BaselineBackend = 'ssl-lib' | 'ssl-server' | 'sgx' | 'sev';
export const BASELINE_BACKENDS: readonly BaselineBackend[] = ['ssl-lib', 'ssl-server', 'sgx', 'sev'];

/** Profile in sim/nic/profiles.json that each baseline takes its latency from. */
export const PROFILE_OF_BASELINE: Readonly<Record<BaselineBackend, string>> = {
  'ssl-lib': 'ssl-lib',
  'ssl-server': 'ssl-server',
  sgx: 'sgx',
  sev: 'amd-sev',
};

/** Totals over the commands a baseline device ran since it was opened (a reset keeps them). */
export interface BaselineCosts {
  commands: number;
  /** Modelled latency summed over every command, in nanoseconds. */
  modelledNs: number;
  /** Commands that computed an HMAC: session -> message length in bytes -> commands. */
  hmacBySession: Map<number, Map<number, number>>;
}

/** Merge the per-session counts of `costs` into message length -> commands, over `sessions` (default all). */
export function hmacLengths(costs: BaselineCosts, sessions?: (session: number) => boolean): Map<number, number> {
  const merged = new Map<number, number>();
  for (const [session, lengths] of costs.hmacBySession) {
    if (sessions !== undefined && !sessions(session)) continue;
    for (const [length, count] of lengths) merged.set(length, (merged.get(length) ?? 0) + count);
  }
  return merged;
}

let profiles: Map<string, Profile> | undefined;

/** Look up the profile of `backend`, reading the default profile file on first use. */
export function baselineProfile(backend: BaselineBackend): Profile {
  profiles ??= loadProfiles();
  const profile = getProfile(profiles, PROFILE_OF_BASELINE[backend]);
  if (profile.kernel.model !== 'cpu') {
    throw new TnicError(
      'invalid-profile',
      `profile "${profile.name}" of the ${backend} baseline has kernel model "${profile.kernel.model}"; it must be "cpu"`,
    );
  }
  return profile;
}

/** Check whether the command computed an HMAC: an accepted ATTEST, or a VERIFY or CHECK of a session with a key. */
export function computedHmac(req: KernelRequest, res: KernelResult): boolean {
  if (req.op === 'attest') return res.status === 'ok';
  if (req.op === 'verify' || req.op === 'check') return res.status !== 'unknown-session';
  return false;
}

/** Charges each command its modelled latency and keeps the totals. */
export class CostMeter {
  readonly #profile: Profile;
  readonly #costs: BaselineCosts = { commands: 0, modelledNs: 0, hmacBySession: new Map() };

  constructor(backend: BaselineBackend) {
    this.#profile = baselineProfile(backend);
  }

  /** Add one command to the totals and return its modelled latency in nanoseconds. */
  charge(req: KernelRequest, res: KernelResult): number {
    let ns = (this.#profile.kernel as CpuParams).accessNs;
    if (computedHmac(req, res) && 'msg' in req) {
      const length = req.msg.length;
      ns = localAttestNs(this.#profile, length);
      let lengths = this.#costs.hmacBySession.get(req.session);
      if (lengths === undefined) {
        lengths = new Map();
        this.#costs.hmacBySession.set(req.session, lengths);
      }
      lengths.set(length, (lengths.get(length) ?? 0) + 1);
    }
    this.#costs.commands += 1;
    this.#costs.modelledNs += ns;
    return ns;
  }

  /** A copy of the totals. */
  get costs(): BaselineCosts {
    const hmacBySession = new Map([...this.#costs.hmacBySession].map(([s, lengths]) => [s, new Map(lengths)]));
    return { ...this.#costs, hmacBySession };
  }
}

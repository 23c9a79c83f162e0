/**
 * Byzantine host hooks shared by the scenarios. A hook receives every
 * message that its node's host sends. These hooks forge, replay or delay
 * attested messages without access to the device's keys.
 */

import { decodeAttested, encodeAttested } from '../../api/tnic_api.ts';
import type { HostHook } from '../replication/network.ts';
import type { SeededRandom } from '../replication/prng.ts';

/** Before every message to one of `targets`, send a forgery: new content under a random tag. */
export function forgeBefore(targets: readonly string[], random: SeededRandom): HostHook {
  return ({ to, bytes }) => {
    if (!targets.includes(to)) return [bytes];
    const genuine = decodeAttested(bytes);
    const msg = new TextEncoder().encode(JSON.stringify({ t: 'forged', seed: random.int(0, 1e9) }));
    return [encodeAttested({ ...genuine, msg, alpha: random.bytes(32) }), bytes];
  };
}

/** After the first `after` messages to each peer, send the first message to that peer again with every later one. */
export function replayFirst(after: number): HostHook {
  const first = new Map<string, Uint8Array>();
  const sent = new Map<string, number>();
  return ({ to, bytes }) => {
    const count = (sent.get(to) ?? 0) + 1;
    sent.set(to, count);
    if (!first.has(to)) first.set(to, bytes);
    return count > after ? [bytes, first.get(to)!] : [bytes];
  };
}

/** Hold back every `every`-th message to `target` by `delayMs`, so later messages overtake it. */
export function delayEvery(target: string, every: number, delayMs: number): HostHook {
  let count = 0;
  return ({ to, bytes }) => {
    if (to !== target) return [bytes];
    count += 1;
    return count % every === 0 ? [{ bytes, delayMs }] : [bytes];
  };
}

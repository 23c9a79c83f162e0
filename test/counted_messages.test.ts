import { describe, expect, it } from 'vitest';

import type { AttestedMessage } from '../api/tnic_api.ts';
import { Prng } from '../sim/prng.ts';
import { CountedMessages, OUT_OF_ORDER_WINDOW } from '../systems/replication/counted_messages.ts';
import { testSeed } from './seed.ts';

const message = (device: number, session: number, counter: bigint): AttestedMessage => ({
  alpha: new Uint8Array(32),
  device,
  session,
  counter,
  msg: new Uint8Array(0),
});

describe('counted messages', () => {
  it('counts each counter once, in any order', () => {
    const seed = testSeed('counted messages shuffle');
    const rng = new Prng(seed);
    const counters = Array.from({ length: 2000 }, (_, i) => BigInt(i));
    for (let i = counters.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [counters[i], counters[j]] = [counters[j]!, counters[i]!];
    }
    const seen = new CountedMessages();
    for (const c of counters) expect(seen.add(message(1, 0, c)), `seed ${seed}: first copy of ${c}`).toBe(true);
    for (const c of counters) expect(seen.add(message(1, 0, c)), `seed ${seed}: second copy of ${c}`).toBe(false);
    // Every counter 0..1999 arrived, so the low mark passed them all and nothing is held.
    expect(seen.held, 'counters held above the low mark').toBe(0);
  });

  it('keeps streams of devices and sessions apart', () => {
    const seen = new CountedMessages();
    expect(seen.add(message(1, 0, 5n))).toBe(true);
    expect(seen.add(message(2, 0, 5n)), 'same counter, other device').toBe(true);
    expect(seen.add(message(1, 1, 5n)), 'same counter, other session').toBe(true);
    expect(seen.add(message(1, 0, 5n)), 'replay').toBe(false);
  });

  it('bounds a stream that skips counters', () => {
    const seen = new CountedMessages();
    // Only the odd counters reach this client: the even ones never come.
    for (let i = 0; i < 5 * OUT_OF_ORDER_WINDOW; i++) {
      expect(seen.add(message(1, 0, BigInt(2 * i + 1))), `counter ${2 * i + 1}`).toBe(true);
    }
    expect(seen.held, 'counters held').toBeLessThanOrEqual(OUT_OF_ORDER_WINDOW);
    // The newest counters are still recognized as replays.
    expect(seen.add(message(1, 0, BigInt(2 * (5 * OUT_OF_ORDER_WINDOW - 1) + 1))), 'newest replayed').toBe(false);
    // An even counter far behind the window is given up: rejected, never counted.
    expect(seen.add(message(1, 0, 0n)), 'counter 0, below the low mark').toBe(false);
  });
});

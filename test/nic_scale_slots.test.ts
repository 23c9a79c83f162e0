// AttestationUnit.attestSlot and verifyStatusSlot, which the simulator calls with the slot
// that loadKey returned, checked against attest and verifyStatus on a twin pair of units.

import { describe, expect, it } from 'vitest';

import { InputError } from '../sim/errors.ts';
import { AttestationUnit } from '../sim/nic/attestation_unit.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';
import { Prng } from '../sim/prng.ts';
import { testSeed } from './seed.ts';

const PROFILES = loadProfiles();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Sender and receiver units with the same keys, and the slot each returned per session. */
function unitPair(profile: string, sessions: readonly number[], prng: Prng) {
  const kernel = getProfile(PROFILES, profile).kernel;
  const sender = new AttestationUnit(kernel, 1);
  const receiver = new AttestationUnit(kernel, 2);
  const senderSlots: number[] = [];
  const receiverSlots: number[] = [];
  for (const session of sessions) {
    const key = prng.bytes(32);
    senderSlots.push(sender.loadKey(session, key));
    receiverSlots.push(receiver.loadKey(session, key));
  }
  return { sender, receiver, senderSlots, receiverSlots };
}

describe('attestation unit slot paths', () => {
  // Session numbers include 0, one above 2^31 and one past 2^32, whose `session | 0` differs from the session.
  const SESSIONS = [0, 3, 1000, 2 ** 31 + 5, 2 ** 32 + 9, 12, 13, 14, 15, 16];

  it.each(['tnic', 'tnic-prototype', 'ssl-server'])('agree with the session paths for profile %s', (profile) => {
    const seed = testSeed(`nic scale slots ${profile}`);
    const keys = new Prng(seed);
    const bySlot = unitPair(profile, SESSIONS, keys);
    const bySession = unitPair(profile, SESSIONS, new Prng(seed));
    const prng = new Prng(seed ^ 0x5a5a);

    for (let i = 0; i < 300; i++) {
      const k = prng.int(0, SESSIONS.length - 1);
      const session = SESSIONS[k]!;
      const msg = prng.bytes(prng.int(0, 200));
      const fast = bySlot.sender.attestSlot(bySlot.senderSlots[k]!, session, msg);
      const general = bySession.sender.attest(session, msg);
      expect(hex(fast), `message ${i} on session ${session}`).toBe(hex(general));

      // Every fifth message is delivered twice, and every seventh has one flipped bit.
      const copy = fast.slice();
      if (i % 7 === 3) copy[prng.int(0, copy.length - 1)]! ^= 1 << prng.int(0, 7);
      const deliveries = i % 5 === 0 ? 2 : 1;
      for (let d = 0; d < deliveries; d++) {
        const fastStatus = bySlot.receiver.verifyStatusSlot(bySlot.receiverSlots[k]!, session, copy);
        const generalStatus = bySession.receiver.verifyStatus(session, copy);
        expect(fastStatus, `message ${i} on session ${session}, delivery ${d}`).toBe(generalStatus);
      }
    }
  });

  it('rejects a slot that belongs to another session', () => {
    const { sender, receiver, senderSlots, receiverSlots } = unitPair('tnic', [7, 8], new Prng(1));
    const attested = sender.attestSlot(senderSlots[0]!, 7, Uint8Array.of(1, 2, 3));
    expect(() => sender.attestSlot(senderSlots[1]!, 7, Uint8Array.of(1))).toThrow(InputError);
    expect(() => sender.attestSlot(5, 7, Uint8Array.of(1))).toThrow(InputError);
    expect(receiver.verifyStatusSlot(receiverSlots[1]!, 7, attested)).toBe('unknown-session');
    expect(receiver.verifyStatusSlot(-1, 7, attested)).toBe('unknown-session');
    expect(receiver.verifyStatusSlot(receiverSlots[0]!, 7, attested)).toBe('ok');
  });

  it('rejects sessions equal only modulo 2^32', () => {
    // 5 and 2^32 + 5 share the stored word `session | 0`; neither may use the other's slot.
    const { sender, senderSlots } = unitPair('tnic', [5, 2 ** 32 + 6], new Prng(3));
    expect(() => sender.attestSlot(senderSlots[0]!, 2 ** 32 + 5, Uint8Array.of(1)), 'session 2^32 + 5 on the slot of 5').toThrow(InputError);
    expect(() => sender.attestSlot(senderSlots[0]!, 5.7, Uint8Array.of(1)), 'session 5.7 on the slot of 5').toThrow(InputError);
    expect(() => sender.attestSlot(senderSlots[1]!, 6, Uint8Array.of(1)), 'session 6 on the slot of 2^32 + 6').toThrow(InputError);
    expect(() => sender.attestSlot(senderSlots[1]!, 2 ** 32 + 6, Uint8Array.of(1)), 'the slot of 2^32 + 6 itself').not.toThrow();
  });

  it('reports a message shorter than header and tag as malformed', () => {
    const { receiver, receiverSlots } = unitPair('tnic', [7], new Prng(2));
    expect(receiver.verifyStatusSlot(receiverSlots[0]!, 7, new Uint8Array(10))).toBe('malformed');
    expect(receiver.verifyStatusSlot(99, 7, new Uint8Array(10))).toBe('malformed');
    expect(receiver.verifyStatus(7, new Uint8Array(10))).toBe('malformed');
  });
});

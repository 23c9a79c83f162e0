/**
 * Tag checks of attested messages forwarded by a third party, with no
 * counter state. One runs checkForwarded on a TNIC device provisioned with
 * the session keys. The other computes the tag in software from the keys,
 * for an offline checker that has no device. Both check
 * alpha = HMAC-SHA256(key[session], header || msg).
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

import { InputError } from '../../api/errors.ts';
import { decodeAttested, type AttestedMessage, type Tnic } from '../../api/tnic_api.ts';

export type TagVerdict = 'ok' | 'bad-tag' | 'unknown-session' | 'malformed';

export interface TagChecker {
  check(wire: Uint8Array): Promise<TagVerdict>;
}

/** Check tags with checkForwarded on `tnic`; counters on the device are neither read nor changed. */
export function deviceTagChecker(tnic: Tnic): TagChecker {
  return {
    async check(wire) {
      const result = await tnic.checkForwarded(wire);
      switch (result.reason) {
        case 'ok':
        case 'bad-tag':
        case 'unknown-session':
        case 'malformed':
          return result.reason;
        default:
          // CHECK reads no counter, so no counter verdict can come back.
          throw new InputError(`checkForwarded returned '${result.reason}', which a tag check cannot return`);
      }
    },
  };
}

/** Check tags in software with the session keys; the keys stay in this process and are never printed. */
export function keyTagChecker(keys: ReadonlyMap<number, Uint8Array>): TagChecker {
  return {
    async check(wire) {
      let message: AttestedMessage;
      try {
        message = decodeAttested(wire);
      } catch (error) {
        if (error instanceof InputError) return 'malformed';
        throw error;
      }
      const key = keys.get(message.session);
      if (key === undefined) return 'unknown-session';
      // The wire bytes are alpha || header || msg, and the tag covers header || msg.
      const expected = createHmac('sha256', key).update(wire.subarray(message.alpha.length)).digest();
      return timingSafeEqual(message.alpha, expected) ? 'ok' : 'bad-tag';
    },
  };
}

import { describe, expect, it } from 'vitest';

import { checkBootstrap } from '../verify/protocol/bootstrap_check.ts';

describe('bootstrapping against a man-in-the-middle', () => {
  it('keeps keys secret and never misconfigures the device', async () => {
    const results = await checkBootstrap();
    const violations = results.flatMap((r) => r.violations.map((v) => `${r.strategy}: ${v}`));
    expect(violations, violations.join('\n')).toEqual([]);

    expect(results[0]?.outcome, 'the unattacked run provisions the device').toBe('provisioned');
    const replay = results.find((r) => r.strategy === 'replay-quote');
    expect(replay?.outcome).toBe('rejected: replayed-nonce');

    // Every flipped byte in the quote, the handshake or the first provisioning record is caught.
    for (const r of results.filter((x) => /^flip (quote|vendor-hello|controller-hello|record)/.test(x.strategy))) {
      expect(r.outcome, r.strategy).toMatch(/^rejected: /);
    }
    expect(results.length, 'strategies run').toBeGreaterThan(10);
  });
});

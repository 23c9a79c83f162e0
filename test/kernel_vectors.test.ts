import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AttestationKernel } from '../sim/kernel_port.ts';
import { openKernel } from '../stack/kernel_backend.ts';
import { loadVectors, runVectors } from '../verify/vectors.ts';

describe.each(['model', 'rtl'] as const)('HMAC vectors on the %s kernel', (backend) => {
  let kernel: AttestationKernel;
  beforeAll(async () => {
    kernel = await openKernel(backend);
  });
  afterAll(async () => {
    await kernel.close();
  });

  it('accepts valid tags and rejects invalid ones', async () => {
    const report = await runVectors(kernel);
    expect(report.failures, report.failures.join('\n')).toEqual([]);
    expect(report.cases).toBe(loadVectors().length);
    // 7 RFC 4231 cases + 174 Wycheproof cases, of which 108 carry invalid tags.
    expect(report.cases).toBe(181);
    expect(report.invalid).toBe(108);
    expect(report.valid + report.invalid + report.truncated).toBe(report.cases);
  });
});

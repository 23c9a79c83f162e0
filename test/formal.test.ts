import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

describe('RTL proofs with yosys and ABC pdr', () => {
  it('proves counter properties and still reaches a result', () => {
    const r = spawnSync(
      'bash',
      [join(REPO_ROOT, 'verify', 'formal', 'run_proofs.sh'), '-t', '120', 'verify_counter_is_recv_cnt', 'recv_cnt_step', 'reject_keeps_recv_cnt', 'reach_result'],
      { encoding: 'utf8', cwd: REPO_ROOT },
    );
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, out).toBe(0);
    for (const property of ['verify_counter_is_recv_cnt', 'recv_cnt_step', 'reject_keeps_recv_cnt']) {
      expect(out, `${property} proved without a bound`).toMatch(new RegExp(`${property}\\s+pdr \\(unbounded\\)\\s+PROVED`));
    }
    // A false assertion must fail, or the assumptions would make every proof vacuous.
    expect(out).toMatch(/reach_result\s+pdr\s+FAILED at frame \d+/);
  });
});

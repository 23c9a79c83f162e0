import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

const run = promisify(execFile);

describe('RTL proofs with yosys and ABC pdr', () => {
  // pdr needs about 40 s for recv_cnt_step on an idle core. The limits leave
  // room for a loaded machine, because a pdr timeout reports UNKNOWN, not PROVED.
  // The proofs run asynchronously, so the test worker stays responsive meanwhile.
  it('proves counter properties and still reaches a result', { timeout: 900_000 }, async () => {
    const script = join(REPO_ROOT, 'verify', 'formal', 'run_proofs.sh');
    const properties = ['verify_counter_is_recv_cnt', 'recv_cnt_step', 'reject_keeps_recv_cnt', 'reach_result'];
    const r = await run('bash', [script, '-t', '300', ...properties], { cwd: REPO_ROOT }).then(
      ({ stdout, stderr }) => ({ status: 0, out: `${stdout}${stderr}` }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ status: err.code ?? -1, out: `${err.stdout}${err.stderr}` }),
    );
    expect(r.status, r.out).toBe(0);
    for (const property of ['verify_counter_is_recv_cnt', 'recv_cnt_step', 'reject_keeps_recv_cnt']) {
      expect(r.out, `${property} proved without a bound`).toMatch(new RegExp(`${property}\\s+pdr \\(unbounded\\)\\s+PROVED`));
    }
    // A false assertion must fail, or the assumptions would make every proof vacuous.
    expect(r.out).toMatch(/reach_result\s+pdr\s+FAILED at frame \d+/);
  });
});

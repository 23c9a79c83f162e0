/**
 * Commands whose stdout closes early, as in `tnic ... | head -1`: each
 * stops without a stack trace and keeps the exit code it had set, or 0.
 * Every command here writes far more than fits in a pipe (64 KiB on Linux),
 * so it always writes after `head` has exited and always meets EPIPE.
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-stdout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TNIC = join(REPO_ROOT, 'bin', 'tnic.js');
const KEY = 'c0ffee00112233445566778899aabbcc';
/** Lines of each input: enough output to fill a pipe several times over. */
const LINES = 3000;

/** Run `tnic ARGS | head -N` in bash; returns head's output, tnic's stderr and tnic's exit code. */
function pipeToHead(args: string[], lines: number): { status: number; stdout: string; stderr: string } {
  const quoted = [TNIC, ...args].map((a) => `'${a}'`).join(' ');
  const script = `'${process.execPath}' ${quoted} 2>"$ERR" | head -${lines}; echo "\${PIPESTATUS[0]}" >"$CODE"`;
  const errFile = join(dir, 'stderr.txt');
  const codeFile = join(dir, 'code.txt');
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, ERR: errFile, CODE: codeFile } });
  const read = (path: string): string => readFileSync(path, 'utf8');
  return { status: Number(read(codeFile).trim()), stdout: r.stdout, stderr: read(errFile) };
}

describe('tnic with stdout closed early', () => {
  it('stops kernel attest quietly with exit 0', () => {
    const input = join(dir, 'attest.jsonl');
    const line = JSON.stringify({ session: 1, key: KEY, msg: '00' });
    writeFileSync(input, `${Array.from({ length: LINES }, () => line).join('\n')}\n`);
    const r = pipeToHead(['kernel', 'attest', '--input', input], 1);

    expect(r.stdout.trim().split('\n'), 'head printed one line').toHaveLength(1);
    expect(r.stderr, 'no stack trace').not.toMatch(/EPIPE|\n\s+at /);
    expect(r.status, r.stderr).toBe(0);
  });

  it.each([
    { verdict: 'linearizable', read: 1, code: 0 },
    { verdict: 'not linearizable', read: 2, code: 1 },
  ])('keeps lincheck exit code $code when $verdict', ({ read, code }) => {
    // A write and a read on each of LINES keys, so --keys prints LINES lines; the last read decides the verdict.
    const history: string[] = [];
    for (let k = 0; k < LINES; k++) {
      const value = k === LINES - 1 ? read : 1;
      history.push(`INFO jepsen.util - 0 :invoke :write [k${k} 1]`, `INFO jepsen.util - 0 :ok :write [k${k} 1]`);
      history.push(`INFO jepsen.util - 1 :invoke :read [k${k} nil]`, `INFO jepsen.util - 1 :ok :read [k${k} ${value}]`);
    }
    const file = join(dir, `keys-${code}.log`);
    writeFileSync(file, `${history.join('\n')}\n`);
    const r = pipeToHead(['lincheck', '--keys', file], 0);

    expect(r.stdout, 'head printed nothing').toBe('');
    expect(r.stderr, 'no stack trace').not.toMatch(/EPIPE|\n\s+at /);
    expect(r.status, r.stderr).toBe(code);
  });

  it('stops cluster status quietly', () => {
    // A cluster file of LINES exited processes; the pid is this test's, whose command line names no config.
    const cluster = join(dir, 'cluster');
    mkdirSync(cluster);
    const nodes = Array.from({ length: LINES }, (_, i) => ({
      name: `n${i}`,
      role: 'echo',
      device: i + 1,
      port: 4000,
      pid: process.pid,
      config: join(cluster, `n${i}.json`),
      stdout: join(cluster, `n${i}.out`),
      stderr: join(cluster, `n${i}.log`),
    }));
    writeFileSync(join(cluster, 'cluster.json'), JSON.stringify({ dir: cluster, backend: 'model', system: 'echo', nodes }));
    const r = pipeToHead(['cluster', 'status', '--dir', cluster], 4);

    expect(r.stdout.trim().split('\n'), 'head printed four lines').toHaveLength(4);
    expect(r.stdout, 'status heading').toContain(`echo cluster in ${cluster}: 0 of ${LINES} processes running`);
    expect(r.stderr, 'no stack trace').not.toMatch(/EPIPE|\n\s+at /);
    expect(r.status, r.stderr).toBe(0);
  });
});

import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { encodeHeader } from '../sim/tnic_kernel.ts';
import { REPO_ROOT } from '../verify/build_rtl.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'c0ffee00112233445566778899aabbcc';

function tnic(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'tnic.js'), ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, lines: object[] | string): string {
  const path = join(dir, name);
  writeFileSync(path, typeof lines === 'string' ? lines : lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

const alpha = (session: number, device: number, counter: bigint, msg: string): string =>
  createHmac('sha256', Buffer.from(KEY, 'hex')).update(encodeHeader(session, device, counter)).update(Buffer.from(msg, 'hex')).digest('hex');

describe.each(['model', 'rtl'])('tnic kernel on the %s backend', (backend) => {
  it('attests with the right alpha, counter and cycles', () => {
    const input = file(`attest-${backend}.jsonl`, [
      { session: 2, key: KEY, msg: '68656c6c6f' },
      { session: 2, key: KEY, msg: '' },
    ]);
    const r = tnic(['kernel', 'attest', '--backend', backend, '--device', '9', '--input', input]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { session: 2, counter: '0', alpha: alpha(2, 9, 0n, '68656c6c6f'), cycles: 131 },
      { session: 2, counter: '1', alpha: alpha(2, 9, 1n, ''), cycles: 131 },
    ]);
  });

  it('verifies, rejecting a flipped tag, a replay and a gap', () => {
    const good = alpha(1, 4, 0n, 'aa');
    const flipped = `${good.slice(0, 62)}${(parseInt(good.slice(62), 16) ^ 1).toString(16).padStart(2, '0')}`;
    const input = file(`verify-${backend}.jsonl`, [
      { session: 1, key: KEY, device: 4, counter: '0', msg: 'aa', alpha: flipped },
      { session: 1, key: KEY, device: 4, counter: '0', msg: 'aa', alpha: good },
      { session: 1, key: KEY, device: 4, counter: '0', msg: 'aa', alpha: good },
      { session: 1, key: KEY, device: 4, counter: '2', msg: 'aa', alpha: alpha(1, 4, 2n, 'aa') },
    ]);
    const r = tnic(['kernel', 'verify', '--backend', backend, '--input', input]);
    expect(r.status, r.stderr).toBe(0);
    const reasons = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { reason: string }).reason);
    expect(reasons).toEqual(['bad-tag', 'ok', 'replayed', 'gap']);
  });
});

describe('tnic kernel input errors', () => {
  const cases: { name: string; text: string; message: RegExp }[] = [
    { name: 'bad hex', text: `{"session":0,"key":"${KEY}","msg":"zz"}\n`, message: /field 'msg' has a non-hex character at offset 0/ },
    { name: 'missing field', text: '{"session":0,"msg":"00"}\n', message: /missing field 'key'/ },
    { name: 'invalid JSON', text: `{"session":0,"key":${KEY.slice(0, 8)}}\n`, message: /invalid JSON/ },
    { name: 'session out of range', text: `{"session":16,"key":"${KEY}","msg":""}\n`, message: /session 16 is out of range/ },
    { name: 'empty file', text: '', message: /has no JSON lines/ },
  ];
  it.each(cases)('rejects $name with one line and exit 2', ({ name, text, message }) => {
    const r = tnic(['kernel', 'attest', '--input', file(`${name.replace(/ /g, '-')}.jsonl`, text)]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n'), 'exactly one line').toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr, 'no key bytes in the message').not.toContain(KEY.slice(0, 8));
    expect(r.stdout).toBe('');
  });

  it('rejects a fractional counter as not an integer', () => {
    const line = { session: 0, key: KEY, device: 1, counter: 1.5, msg: '', alpha: '00'.repeat(32) };
    const input = file('fractional-counter.jsonl', [line]);
    const r = tnic(['kernel', 'verify', '--input', input]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n'), 'exactly one line').toHaveLength(1);
    expect(r.stderr).toContain(`${input}:1: field 'counter' is 1.5, which is not an integer`);
    expect(r.stderr, 'no claim about 2^53').not.toContain('2^53');
  });

  it('rejects an unknown backend naming the flag', () => {
    const r = tnic(['kernel', 'attest', '--backend', 'fpga', '--input', file('ok.jsonl', '{}\n')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--backend 'fpga' is not a known backend; use one of: model, rtl/);
  });

  it('names the install command when Verilator is missing', () => {
    // An empty PATH folder: the CLI runs through process.execPath, and `hw lint` needs verilator at once.
    const emptyBin = mkdtempSync(join(dir, 'bin-'));
    const env = { ...process.env, PATH: emptyBin };
    const r = tnic(['hw', 'lint'], env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/verilator/);
    expect(r.stderr).toMatch(/apt-get install/);
  });
});

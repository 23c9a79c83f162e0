import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  checkJepsenLog,
  checkOperations,
  HistoryFormatError,
  parseJepsenLog,
  type HistoryOperation,
} from '../verify/linearizability.ts';

const DATA = join(import.meta.dirname, 'data', 'jepsen');
const verdicts = JSON.parse(readFileSync(join(DATA, 'verdicts.json'), 'utf8')) as Record<string, boolean>;

/** Build a log from [process, type, f, value] rows. */
function log(rows: [number, string, string, string][]): string {
  return rows.map(([p, type, f, value]) => `INFO  jepsen.util - ${p}\t:${type}\t:${f}\t${value}\n`).join('');
}

describe('linearizability checker on Jepsen etcd histories', () => {
  it.each(Object.entries(verdicts))('%s is linearizable: %s', (file, expected) => {
    const result = checkJepsenLog(readFileSync(join(DATA, file), 'utf8'), {}, file);
    expect(result.verdict, file).toBe(expected ? 'linearizable' : 'not-linearizable');
  });
});

describe('linearizability checker', () => {
  it('accepts overlapping write and read', () => {
    const history = log([
      [0, 'invoke', 'write', '1'],
      [1, 'invoke', 'read', 'nil'],
      [1, 'ok', 'read', '1'],
      [0, 'ok', 'write', '1'],
    ]);
    expect(checkJepsenLog(history).verdict).toBe('linearizable');
  });

  it('rejects a stale read after a write', () => {
    const history = log([
      [0, 'invoke', 'write', '1'],
      [0, 'ok', 'write', '1'],
      [1, 'invoke', 'read', 'nil'],
      [1, 'ok', 'read', 'nil'],
    ]);
    expect(checkJepsenLog(history).verdict).toBe('not-linearizable');
  });

  it('lets an info write take effect late', () => {
    const history = log([
      [0, 'invoke', 'write', '1'],
      [0, 'info', 'write', ':timed-out'],
      [1, 'invoke', 'read', 'nil'],
      [1, 'ok', 'read', 'nil'],
      [1, 'invoke', 'read', 'nil'],
      [1, 'ok', 'read', '1'],
    ]);
    expect(checkJepsenLog(history).verdict).toBe('linearizable');
  });

  it('lets an info write never take effect', () => {
    const history = log([
      [0, 'invoke', 'write', '1'],
      [0, 'info', 'write', ':timed-out'],
      [1, 'invoke', 'read', 'nil'],
      [1, 'ok', 'read', 'nil'],
    ]);
    expect(checkJepsenLog(history).verdict).toBe('linearizable');
  });

  it('rejects an info write taking effect before its invocation', () => {
    const history = log([
      [1, 'invoke', 'read', 'nil'],
      [1, 'ok', 'read', '1'],
      [0, 'invoke', 'write', '1'],
      [0, 'info', 'write', ':timed-out'],
    ]);
    expect(checkJepsenLog(history).verdict).toBe('not-linearizable');
  });

  it('treats a failed cas as a mismatch', () => {
    const history = log([
      [0, 'invoke', 'write', '1'],
      [0, 'ok', 'write', '1'],
      [1, 'invoke', 'cas', '[1 2]'],
      [1, 'fail', 'cas', '[1 2]'],
    ]);
    expect(checkJepsenLog(history).verdict, 'register held 1, so the cas had to swap').toBe('not-linearizable');
  });

  it('checks key-value histories per key', () => {
    const history = log([
      [0, 'invoke', 'write', '[a 1]'],
      [0, 'ok', 'write', '[a 1]'],
      [1, 'invoke', 'read', '[b nil]'],
      [1, 'ok', 'read', '[b nil]'],
      [1, 'invoke', 'cas', '[a [1 2]]'],
      [1, 'ok', 'cas', '[a [1 2]]'],
      [0, 'invoke', 'read', '[a nil]'],
      [0, 'ok', 'read', '[a 1]'],
    ]);
    const result = checkJepsenLog(history);
    expect(result.keys.get('b'), 'key b').toBe('linearizable');
    expect(result.keys.get('a'), 'key a read 1 after the cas to 2').toBe('not-linearizable');
    expect(result.verdict, 'whole history').toBe('not-linearizable');
  });

  it('checks counter increments', () => {
    const good = log([
      [0, 'invoke', 'incr', 'nil'],
      [1, 'invoke', 'incr', 'nil'],
      [1, 'ok', 'incr', '1'],
      [0, 'ok', 'incr', '2'],
    ]);
    const duplicate = log([
      [0, 'invoke', 'incr', 'nil'],
      [0, 'ok', 'incr', '1'],
      [1, 'invoke', 'incr', 'nil'],
      [1, 'ok', 'incr', '1'],
    ]);
    expect(checkJepsenLog(good).verdict, 'either order').toBe('linearizable');
    expect(checkJepsenLog(duplicate).verdict, 'two increments to 1').toBe('not-linearizable');
  });

  it('answers unknown when the budget runs out', () => {
    // Many concurrent writes of distinct values and a read of none of them force a full search.
    const ops: HistoryOperation[] = Array.from({ length: 60 }, (_, i) => ({
      process: i,
      key: '',
      call: 1,
      ret: 100,
      f: 'write' as const,
      value: i,
    }));
    ops.push({ process: 99, key: '', call: 1, ret: 100, f: 'read', output: 1000 });
    expect(checkOperations(ops, { timeBudgetMs: 0 }).verdict).toBe('unknown');
  });

  it('rejects malformed logs', () => {
    expect(() => parseJepsenLog(log([[0, 'ok', 'read', '1']])), 'completion without invocation').toThrow(HistoryFormatError);
    expect(() => parseJepsenLog(log([[0, 'invoke', 'cas', '[1 2']])), 'unbalanced vector').toThrow(/misses a '\]'/);
    expect(() => parseJepsenLog(log([[0, 'invoke', 'append', '1'], [0, 'ok', 'append', '1']])), 'unknown operation').toThrow(
      /not read, write, cas or incr/,
    );
  });
});

describe('tnic lincheck', () => {
  const TNIC = join(import.meta.dirname, '..', 'bin', 'tnic.js');
  const lincheck = (...args: string[]) => spawnSync(process.execPath, [TNIC, 'lincheck', ...args], { encoding: 'utf8' });

  it('exits 0 or 1 by verdict', () => {
    // The library test above covers every etcd history; here one of each verdict goes through the CLI.
    const linearizable = Object.keys(verdicts).find((f) => verdicts[f])!;
    const violating = Object.keys(verdicts).find((f) => !verdicts[f])!;
    const good = lincheck(join(DATA, linearizable));
    expect(good.status, `${linearizable}: ${good.stdout}${good.stderr}`).toBe(0);
    expect(good.stdout).toContain(': linearizable');
    const bad = lincheck(join(DATA, violating));
    expect(bad.status, `${violating}: ${bad.stdout}${bad.stderr}`).toBe(1);
    expect(bad.stdout).toContain('not linearizable');
  });

  it('exits 2 with unknown when the budget runs out', () => {
    const rows: [number, string, string, string][] = [];
    for (let p = 0; p < 60; p++) rows.push([p, 'invoke', 'write', String(p)]);
    rows.push([99, 'invoke', 'read', 'nil']);
    for (let p = 0; p < 60; p++) rows.push([p, 'ok', 'write', String(p)]);
    rows.push([99, 'ok', 'read', '1000']);
    const dir = mkdtempSync(join(tmpdir(), 'tnic-lincheck-'));
    try {
      const file = join(dir, 'hard.log');
      writeFileSync(file, log(rows));
      const r = lincheck(file, '--time-budget', '1');
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toContain(': unknown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing file with exit code 2', () => {
    const r = lincheck(join(DATA, 'no-such.log'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no-such\.log.*not found/);
  });
});

describe('tnic lincheck input errors', () => {
  const TNIC = join(import.meta.dirname, '..', 'bin', 'tnic.js');
  const dir = mkdtempSync(join(tmpdir(), 'tnic-lincheck-input-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const cases: [string, string, RegExp][] = [
    ['empty', '', /no Jepsen operation lines/],
    ['not a history', '# a README\nsome text\n', /no Jepsen operation lines/],
    ['unmatched ok', log([[0, 'ok', 'write', '1']]), /never invoked/],
    ['integer beyond 2^53', log([[0, 'invoke', 'write', '9007199254740993'], [0, 'ok', 'write', '9007199254740993']]), /beyond 2\^53/],
  ];

  it.each(cases)('rejects %s with exit code 2', (name, text, message) => {
    const r = spawnSync(process.execPath, [TNIC, 'lincheck', write(`${name.replace(/\W/g, '_')}.log`, text)], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr, 'one error line, no stack trace').not.toMatch(/\n\s+at /);
  });

  it('rejects a folder with exit code 2', () => {
    const r = spawnSync(process.execPath, [TNIC, 'lincheck', dir], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/is a folder/);
  });
});

/**
 * `tnic cluster status` on cluster folders written by hand. The exit code
 * follows the history's verdict as in `tnic lincheck`, and a driver that
 * exited without a summary is a failure. A damaged cluster file, summary or
 * history gives one error line with exit code 2.
 *
 * The processes of these folders never ran: each node's pid is this test's
 * own, whose command line names no node config, so status reports it exited.
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

const root = mkdtempSync(join(tmpdir(), 'tnic-status-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Process 0 writes 1, then process 1 reads `read`: linearizable only when `read` is 1. */
function history(read: number): string {
  return [
    'INFO jepsen.util - 0 :invoke :write 1',
    'INFO jepsen.util - 0 :ok :write 1',
    'INFO jepsen.util - 1 :invoke :read nil',
    `INFO jepsen.util - 1 :ok :read ${read}`,
    '',
  ].join('\n');
}

interface Folder {
  dir: string;
  clusterFile: string;
  summary: string;
  history: string;
  record: Record<string, unknown>;
}

/** Write a BFT-like cluster folder of two replicas and a client; `summary` and `history` only when given. */
function folder(name: string, files: { summary?: object | string; history?: string } = {}): Folder {
  const dir = join(root, name);
  mkdirSync(dir);
  const node = (nodeName: string, role: string, device: number): Record<string, unknown> => ({
    name: nodeName,
    role,
    device,
    port: 4000 + device,
    pid: process.pid,
    config: join(dir, `${nodeName}.json`),
    stdout: join(dir, `${nodeName}.out`),
    stderr: join(dir, `${nodeName}.log`),
  });
  const summary = join(dir, 'summary.json');
  const historyFile = join(dir, 'history.jepsen');
  const record = {
    dir,
    backend: 'model',
    system: 'bft',
    nodes: [node('r0', 'replica', 1), node('r1', 'replica', 2), node('client', 'client', 3)],
    driver: { name: 'client', summary, history: historyFile },
  };
  const clusterFile = join(dir, 'cluster.json');
  writeFileSync(clusterFile, JSON.stringify(record));
  if (files.summary !== undefined) {
    writeFileSync(summary, typeof files.summary === 'string' ? files.summary : JSON.stringify(files.summary));
  }
  if (files.history !== undefined) writeFileSync(historyFile, files.history);
  return { dir, clusterFile, summary, history: historyFile, record };
}

const SUMMARY = { system: 'bft', process: 'client', seed: 1, finished: true, line: '2 of 2 operations completed' };

function status(dir: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'tnic.js'), 'cluster', 'status', '--dir', dir], {
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '');
}

describe('tnic cluster status', () => {
  it('exits 0 on a linearizable history', () => {
    const f = folder('linearizable', { summary: SUMMARY, history: history(1) });
    const r = status(f.dir);

    expect(r.stdout, 'verdict').toContain(`history ${f.history}: linearizable`);
    expect(r.status, r.stderr).toBe(0);
  });

  it('exits 1 on a history that is not linearizable', () => {
    const f = folder('not-linearizable', { summary: SUMMARY, history: history(2) });
    const r = status(f.dir);

    expect(r.stdout, 'verdict').toContain(`history ${f.history}: not linearizable`);
    expect(r.status, r.stderr).toBe(1);
  });

  it('exits 1 when the processes exited before the summary', () => {
    const f = folder('no-summary');
    const r = status(f.dir);
    const lines = errorLines(r.stderr);

    expect(r.stdout, 'no advice to wait').not.toContain('no progress reported yet');
    expect(lines, 'one error line').toHaveLength(1);
    expect(lines[0], 'what happened').toContain('the processes exited before the client wrote its summary');
    for (const name of ['r0', 'r1', 'client']) expect(lines[0], `log of ${name}`).toContain(join(f.dir, `${name}.log`));
    expect(r.status, r.stderr).toBe(1);
  });

  it('names a missing field of the cluster file', () => {
    const f = folder('missing-field');
    const nodes = f.record.nodes as Record<string, unknown>[];
    delete nodes[1]!.stderr;
    writeFileSync(f.clusterFile, JSON.stringify(f.record));
    const r = status(f.dir);
    const lines = errorLines(r.stderr);

    expect(r.stdout, 'nothing printed from the damaged file').not.toContain('undefined');
    expect(lines, 'one error line').toHaveLength(1);
    expect(lines[0], 'the field').toContain(`cluster file ${f.clusterFile}: field 'nodes[1].stderr' is missing`);
    expect(lines[0], 'the fix').toContain('start a new cluster');
    expect(r.status, r.stderr).toBe(2);
  });

  it('names a cluster file without its folder', () => {
    const f = folder('missing-dir');
    delete f.record.dir;
    writeFileSync(f.clusterFile, JSON.stringify(f.record));
    const r = status(f.dir);

    expect(r.stdout, 'no status line').not.toContain('cluster in undefined');
    expect(r.stderr, 'the field').toContain("field 'dir' is missing");
    expect(r.status, r.stderr).toBe(2);
  });

  it('reports a malformed history in one line', () => {
    const malformed = 'INFO jepsen.util - 0 :ok :write 1\n';
    const f = folder('malformed-history', { summary: SUMMARY, history: malformed });
    const r = status(f.dir);
    const lines = errorLines(r.stderr);

    expect(lines, 'one error line').toHaveLength(1);
    expect(lines[0], 'file and line').toContain(`${f.history} line 1: process 0 completes an operation it never invoked`);
    expect(r.stderr, 'no stack trace').not.toMatch(/\n\s+at /);
    expect(r.status, r.stderr).toBe(2);
  });

  it('reports a malformed summary in one line', () => {
    const f = folder('malformed-summary', { summary: '{"finished": tr' });
    const r = status(f.dir);
    const lines = errorLines(r.stderr);

    expect(lines, 'one error line').toHaveLength(1);
    expect(lines[0], 'the file').toContain(`summary file ${f.summary} is not valid JSON`);
    expect(r.status, r.stderr).toBe(2);
  });
});

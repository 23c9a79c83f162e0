/**
 * The ssl-server backend runs its HMAC server in a child process behind a
 * Unix socket in a fresh tnic-ssl-server-* folder. That folder must go
 * however the command ends: Ctrl-C (SIGINT to the process group), SIGTERM
 * to the command alone, or stdout closed by `head`. Each case runs with its
 * own TMPDIR, so other tests' folders never count.
 *
 * `kernel attest` writes far more than fits in a pipe (64 KiB on Linux) and
 * the test never reads its stdout, so it blocks in its first write, with
 * the server running, until the signal arrives. Every wait is bounded by WAIT_MS and
 * guards against hangs; it checks no speed.
 */

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

const WAIT_MS = 30_000;
const TNIC = join(REPO_ROOT, 'bin', 'tnic.js');
const KEY = 'c0ffee00112233445566778899aabbcc';
const LINES = 3000;

const root = mkdtempSync(join(tmpdir(), 'tnic-ssl-cleanup-'));
const input = join(root, 'attest.jsonl');
const line = JSON.stringify({ session: 1, key: KEY, msg: '00' });
writeFileSync(input, `${Array.from({ length: LINES }, () => line).join('\n')}\n`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ARGS = ['kernel', 'attest', '--backend', 'ssl-server', '--input', input];

/** Make a fresh TMPDIR for one case. */
function privateTmp(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
}

function serverFolders(tmp: string): string[] {
  return readdirSync(tmp).filter((entry) => entry.startsWith('tnic-ssl-server-'));
}

/** Wait until `done()` is true, checking every 20 ms; fails after WAIT_MS naming `awaited`. */
async function until(done: () => boolean, awaited: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${awaited} did not happen within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Start `tnic kernel attest --backend ssl-server` in its own process group and wait for its server's socket. */
async function startBlocked(tmp: string): Promise<{ pid: number; exit: Promise<NodeJS.Signals | null> }> {
  const child = spawn(process.execPath, [TNIC, ...ARGS], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  // stdout stays unread, so the command blocks once the pipe is full.
  child.stdout.pause();
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const listening = (): boolean => serverFolders(tmp).some((folder) => existsSync(join(tmp, folder, 'hmac.sock')));
  await until(listening, 'the HMAC server socket');
  return { pid: child.pid!, exit };
}

describe('ssl-server socket folder', () => {
  it('is removed after SIGINT to the process group', async () => {
    const tmp = privateTmp('sigint');
    const { pid, exit } = await startBlocked(tmp);
    process.kill(-pid, 'SIGINT');

    expect(await exit, 'tnic ended by SIGINT').toBe('SIGINT');
    await until(() => serverFolders(tmp).length === 0, 'removal of the socket folder after SIGINT');
  });

  it('is removed after SIGTERM to the command alone', async () => {
    const tmp = privateTmp('sigterm');
    const { pid, exit } = await startBlocked(tmp);
    process.kill(pid, 'SIGTERM');

    expect(await exit, 'tnic ended by SIGTERM').toBe('SIGTERM');
    await until(() => serverFolders(tmp).length === 0, 'removal of the socket folder after the parent died');
  });

  it('is removed when head closes stdout', () => {
    const tmp = privateTmp('head');
    const command = [process.execPath, TNIC, ...ARGS].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('bash', ['-c', `${command} | head -1`], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } });

    expect(r.stdout.trim().split('\n'), 'head printed one line').toHaveLength(1);
    expect(r.stderr, 'no stack trace').not.toMatch(/\n\s+at /);
    // The exit handler removes the folder before tnic exits, and bash waits for tnic.
    expect(serverFolders(tmp), 'socket folders left').toEqual([]);
  });
});

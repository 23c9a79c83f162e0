/**
 * Output paths the CLI cannot write: every case ends with one error line
 * and exit code 2, and `tnic sim` reports it before it simulates anything.
 * Paths under /proc and /sys are rejected before any mkdir, because Node
 * 20's recursive mkdir never returns under /proc.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-output-'));
const immutable = join(dir, 'immutable.pcap');
writeFileSync(immutable, '');
/** chattr +i needs root and a file system with inode flags (ext4, xfs, btrfs); the EPERM case skips without them. */
const hasImmutable = spawnSync('chattr', ['+i', immutable]).status === 0;
afterAll(() => {
  if (hasImmutable) spawnSync('chattr', ['-i', immutable]);
  rmSync(dir, { recursive: true, force: true });
});

const file = join(dir, 'file');
writeFileSync(file, '');
symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'));
symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'));

/** Upper bound on one command; `cluster up --dir /proc/...` hung forever before the fix. */
const TIMEOUT_MS = 60_000;

function tnic(args: string[]): { status: number | null; stdout: string; stderr: string; lines: string[] } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'tnic.js'), ...args], {
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  const lines = r.stderr.split('\n').filter((line) => line.trim() !== '');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines };
}

const SIM = ['sim', '--profile', 'tnic', '--sizes', '128', '--no-measured'];

describe('tnic output paths', () => {
  const cases: { name: string; args: () => string[]; message: string }[] = [
    {
      name: 'sim --out under /sys',
      args: () => [...SIM, '--out', '/sys/tnic-test'],
      message: '--out /sys/tnic-test is under /sys, a kernel file system that takes no output',
    },
    {
      name: 'sim --out under a file',
      args: () => [...SIM, '--out', join(file, 'sub')],
      message: `mkdir ${join(file, 'sub')} failed: a part of the path is a file, not a folder; check the path`,
    },
    {
      name: 'sim --out through a link loop',
      args: () => [...SIM, '--out', join(dir, 'loop-a', 'sub')],
      message: 'failed: too many levels of symbolic links; check the symbolic links on the path',
    },
    {
      name: 'sim --out with a long name',
      args: () => [...SIM, '--out', join(dir, 'a'.repeat(300))],
      message: 'failed: file name too long; give a shorter path',
    },
    {
      name: 'sim --pcap in a missing folder',
      args: () => [...SIM, '--pcap', join(dir, 'missing', 'x.pcap')],
      message: `open ${join(dir, 'missing', 'x.pcap')} failed: not found; check the path`,
    },
    {
      name: 'sim --pcap under /proc',
      args: () => [...SIM, '--pcap', '/proc/tnic-test.pcap'],
      message: '--pcap /proc/tnic-test.pcap is under /proc',
    },
    {
      name: 'sim --profiles missing',
      args: () => [...SIM, '--profiles', join(dir, 'nonexistent.json')],
      message: `--profiles ${join(dir, 'nonexistent.json')} not found; give a profile file, or leave the option out`,
    },
    {
      name: 'cosim --vcd under /sys',
      args: () => ['cosim', '--count', '1', '--vcd', '/sys/tnic-test'],
      message: '--vcd /sys/tnic-test is under /sys',
    },
    {
      name: 'cluster up --dir under /proc',
      args: () => ['cluster', 'up', '--dir', '/proc/tnic-test'],
      message: '--dir /proc/tnic-test is under /proc',
    },
    {
      name: 'cluster up --dir under /sys',
      args: () => ['cluster', 'up', '--system', 'bft', '--dir', '/sys/tnic-test'],
      message: '--dir /sys/tnic-test is under /sys',
    },
  ];

  it.each(cases)('rejects $name with one line and exit 2', ({ args, message }) => {
    const r = tnic(args());

    expect(r.lines, 'one error line').toHaveLength(1);
    expect(r.lines[0], 'message').toContain(message);
    expect(r.stderr, 'fails before the simulation').not.toContain('sim: size');
    expect(r.status, r.stderr).toBe(2);
  });

  it.skipIf(!hasImmutable)('rejects an immutable --pcap file with exit 2', () => {
    const r = tnic([...SIM, '--pcap', immutable]);

    expect(r.lines, 'one error line').toHaveLength(1);
    expect(r.lines[0], 'message').toContain(`open ${immutable} failed: operation not permitted; give a path you may write to`);
    expect(r.status, r.stderr).toBe(2);
  });

  it('writes --out and --pcap after checking them', () => {
    const out = join(dir, 'new', 'out');
    const pcap = join(dir, 'sim.pcap');
    const r = tnic([...SIM, '--seed', '1', '--out', out, '--pcap', pcap]);

    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr, 'outputs').toContain(`sim: wrote ${join(out, 'sim-tnic')}.json`);
    expect(r.stderr, 'pcap').toContain(`to ${pcap}`);
  });
});

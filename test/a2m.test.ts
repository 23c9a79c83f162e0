import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { InputError } from '../api/errors.ts';
import type { Backend } from '../api/tnic_api.ts';
import { registerRun } from '../cli/commands/run.ts';
import { Prng } from '../sim/prng.ts';
import { A2m, type LogEntry, type LookupVerdict } from '../systems/a2m/a2m.ts';
import { runA2m } from '../systems/a2m/run_a2m.ts';
import { decodeTruncation } from '../systems/a2m/truncation_record.ts';
import { testSeed } from './seed.ts';

const LOG = 0;
const OTHER_LOG = 1;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);
const reasonOf = (v: LookupVerdict): string => (v.valid ? 'valid' : v.reason);
const detailOf = (v: LookupVerdict): string => (v.valid ? '' : v.detail);

describe.each(['model', 'rtl'] as Backend[])('A2M on the %s backend', (backend) => {
  let a2m: A2m;

  beforeEach(async () => {
    a2m = await A2m.open({ backend, logs: 2 });
  });

  afterEach(async () => {
    await a2m.close();
  });

  async function appendAll(logId: number, contexts: string[]): Promise<void> {
    for (const c of contexts) await a2m.append(logId, text(c));
  }

  /** Look up index i, which must be stored, and verify it against the host's bounds. */
  async function verifyAt(logId: number, i: number, tail = a2m.tail(logId)) {
    const entry = a2m.lookup(logId, i);
    expect(entry, `entry ${i} of log ${logId} is stored`).toBeDefined();
    return a2m.verifyLookup(logId, entry!, a2m.head(logId), tail);
  }

  it('verifies appended entries on lookup', async () => {
    await appendAll(LOG, ['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(a2m.head(LOG), 'head after five appends').toBe(5);
    expect(a2m.tail(LOG), 'tail before any truncation').toBe(0);

    for (let i = 0; i < 5; i++) {
      const entry = a2m.lookup(LOG, i);
      expect(entry?.index, `index of entry ${i}`).toBe(i);
      expect(decode(entry!.ctx), `context of entry ${i}`).toBe(`e${i}`);
      expect(await a2m.verifyLookup(LOG, entry!, 5, 0), `verifyLookup of entry ${i}`).toEqual({ valid: true });
    }
  });

  it('numbers each log on its own', async () => {
    await appendAll(LOG, ['a0', 'a1']);
    await appendAll(OTHER_LOG, ['b0']);
    expect(a2m.head(LOG), 'head of log 0').toBe(2);
    expect(a2m.head(OTHER_LOG), 'head of log 1').toBe(1);
    expect(await verifyAt(OTHER_LOG, 0), 'entry 0 of log 1').toEqual({ valid: true });
  });

  it('verifies entries in random order', async () => {
    const prng = new Prng(testSeed(`a2m lookup order (${backend})`));
    const count = 20;
    await appendAll(LOG, Array.from({ length: count }, (_, i) => `e${i}`));

    for (let k = 0; k < 2 * count; k++) {
      const i = prng.int(0, count - 1);
      expect((await verifyAt(LOG, i)).valid, `entry ${i} on lookup ${k}`).toBe(true);
    }
  });

  it('rejects a changed context as bad-tag', async () => {
    await appendAll(LOG, ['e0', 'e1', 'e2']);
    a2m.host.logs[LOG]!.entries[1]!.ctx[0]! ^= 0x01;

    const verdict = await verifyAt(LOG, 1);
    expect(verdict.valid, 'changed entry is invalid').toBe(false);
    expect(reasonOf(verdict), 'reason').toBe('bad-tag');
    expect((await verifyAt(LOG, 2)).valid, 'the next entry is untouched').toBe(true);
  });

  it('rejects a replaced context as bad-tag', async () => {
    await appendAll(LOG, ['pay 10']);
    a2m.host.logs[LOG]!.entries[0]!.ctx = text('pay 99');

    const verdict = await verifyAt(LOG, 0);
    expect(reasonOf(verdict), 'reason').toBe('bad-tag');
  });

  it('rejects a flipped alpha bit as bad-tag', async () => {
    await appendAll(LOG, ['e0']);
    a2m.host.logs[LOG]!.entries[0]!.attestation[7]! ^= 0x80;

    const verdict = await verifyAt(LOG, 0);
    expect(reasonOf(verdict), 'reason').toBe('bad-tag');
  });

  it('rejects an entry moved to another index', async () => {
    await appendAll(LOG, ['e0', 'e1', 'e2']);
    const entries = a2m.host.logs[LOG]!.entries;
    entries[2] = { ...entries[1]!, index: 2 };

    const verdict = await verifyAt(LOG, 2);
    expect(reasonOf(verdict), 'reason').toBe('index-mismatch');
    expect(detailOf(verdict), 'detail names the attested counter').toContain('counter 1');
  });

  it('rejects an entry of another log', async () => {
    await appendAll(LOG, ['a0']);
    await appendAll(OTHER_LOG, ['b0']);

    const foreign = a2m.lookup(OTHER_LOG, 0)!;
    const verdict = await a2m.verifyLookup(LOG, foreign, 1, 0);
    expect(reasonOf(verdict), 'reason').toBe('wrong-session');
  });

  it('rejects an index outside the given bounds', async () => {
    await appendAll(LOG, ['e0', 'e1', 'e2']);
    const entry = a2m.lookup(LOG, 2)!;

    const verdict = await a2m.verifyLookup(LOG, entry, 2, 0);
    expect(reasonOf(verdict), 'index 2 with head 2').toBe('out-of-range');
    const below = await a2m.verifyLookup(LOG, a2m.lookup(LOG, 0)!, 3, 1);
    expect(reasonOf(below), 'index 0 with tail 1').toBe('out-of-range');
  });

  it('rejects a short attestation as malformed', async () => {
    await appendAll(LOG, ['e0']);
    const entry = a2m.lookup(LOG, 0)!;
    const cut: LogEntry = { ...entry, attestation: entry.attestation.slice(0, 40) };

    const verdict = await a2m.verifyLookup(LOG, cut, 1, 0);
    expect(reasonOf(verdict), 'reason').toBe('malformed');
  });

  it('truncation rejects entries below z', async () => {
    await appendAll(LOG, ['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
    const old = a2m.lookup(LOG, 1)!;

    const marker = await a2m.truncate(LOG, 6, 4);
    expect(marker.index, 'truncation entry takes the old head').toBe(6);
    expect(decodeTruncation(marker.ctx), 'truncation record').toEqual({ logId: LOG, z: 4, head: 6 });
    expect(a2m.tail(LOG), 'host tail').toBe(4);
    expect(a2m.head(LOG), 'host head').toBe(7);
    expect(a2m.lookup(LOG, 1), 'entry 1 is gone from host memory').toBeUndefined();

    const verdict = await a2m.verifyLookup(LOG, old, 7, 0);
    expect(verdict.valid, 'old entry is invalid').toBe(false);
    expect(reasonOf(verdict), 'reason').toBe('truncated');
    expect(detailOf(verdict), 'detail names the truncation point').toContain('truncation point 4');

    for (const i of [4, 5, 6]) {
      expect(await verifyAt(LOG, i), `live entry ${i}`).toEqual({ valid: true });
    }
  });

  it('rejects a restored truncated entry', async () => {
    await appendAll(LOG, ['e0', 'e1', 'e2']);
    const old = a2m.lookup(LOG, 0)!;
    await a2m.truncate(LOG, 3, 2);

    // The host could restore the dropped entry; the manifest still rules it out.
    a2m.host.logs[LOG]!.entries.unshift(old, a2m.lookup(LOG, 2)!);
    a2m.host.logs[LOG]!.tail = 0;
    const verdict = await verifyAt(LOG, 0, 0);
    expect(reasonOf(verdict), 'reason').toBe('truncated');
  });

  it('leaves other logs alone on truncation', async () => {
    await appendAll(LOG, ['a0', 'a1']);
    await appendAll(OTHER_LOG, ['b0', 'b1']);
    await a2m.truncate(LOG, 2, 2);

    expect(await verifyAt(OTHER_LOG, 0), 'entry 0 of log 1').toEqual({ valid: true });
  });

  // A manifest entry is alpha || header || ctx, where ctx is the whole truncation entry:
  // its alpha (ctx 0..31), header (ctx 32..47) and record "trnc" || id || z || head (ctx 48..71).
  it.each([
    { part: 'manifest alpha', field: 'attestation', offset: 3 },
    { part: 'truncation entry alpha', field: 'ctx', offset: 5 },
    { part: 'truncation point z', field: 'ctx', offset: 48 + 15 },
  ] as const)('rejects every lookup when the $part was changed', async ({ field, offset }) => {
    await appendAll(LOG, ['e0', 'e1', 'e2']);
    await a2m.truncate(LOG, 3, 1);
    a2m.host.manifest.entries[0]![field][offset]! ^= 0x01;

    const verdict = await verifyAt(LOG, 2);
    expect(reasonOf(verdict), 'reason').toBe('manifest-invalid');
    expect(detailOf(verdict), 'detail names the entry').toContain('manifest entry 0');
  });

  it('rejects stale head or bad z', async () => {
    await appendAll(LOG, ['e0', 'e1', 'e2']);
    await expect(a2m.truncate(LOG, 2, 1), 'stale head').rejects.toThrow(/not log 0's head 3/);
    await expect(a2m.truncate(LOG, 3, 4), 'point above the head').rejects.toBeInstanceOf(InputError);
    await a2m.truncate(LOG, 3, 2);
    await expect(a2m.truncate(LOG, 4, 1), 'point below the tail').rejects.toThrow(/outside .* live range 2..4/);
  });

  it('rejects an unknown log id', async () => {
    expect(() => a2m.lookup(2, 0), 'log 2 of 2').toThrow(/log 2 does not exist/);
    await expect(a2m.append(-1, text('x')), 'log -1').rejects.toBeInstanceOf(InputError);
  });

  it('runA2m verifies every entry', async () => {
    const lines: string[] = [];
    const result = await runA2m({ entries: 200, backend, log: (l) => lines.push(l) });

    expect(result.entries, 'entries').toBe(200);
    expect(result.verified, 'every entry verified').toBe(200);
    expect(result.failed, 'no failures').toBe(0);
    expect(result.backend, 'backend').toBe(backend);
    expect(result.appendsPerSec, 'append rate').toBeGreaterThan(0);
    expect(result.lookupsPerSec, 'lookup rate').toBeGreaterThan(0);
    expect(lines[0], 'start line').toContain(`200 entries of 64 bytes on the ${backend} backend`);
    expect(lines.at(-1), 'end line').toBe('a2m: done, 200 verified, 0 failed');
  });

  it('runA2m counts each damaged entry as failed', async () => {
    const result = await runA2m({
      entries: 100,
      backend,
      log: () => {},
      beforeLookups: (run) => {
        const entries = run.host.logs[0]!.entries;
        entries[10]!.ctx[0]! ^= 1; // bad tag
        entries[20]!.attestation[0]! ^= 1; // bad tag
        entries[30] = entries[31]!; // lookup of 30 returns entry 31
        entries.pop(); // entry 99 is lost
      },
    });

    expect(result.failed, 'four damaged entries').toBe(4);
    expect(result.verified, 'the rest verified').toBe(96);
  });
});

describe('runA2m input', () => {
  it.each([0, -1, 1.5, Number.NaN])('rejects %s entries', async (entries) => {
    await expect(runA2m({ entries, backend: 'model' }), `entries ${entries}`).rejects.toBeInstanceOf(InputError);
  });
});

describe('tnic run a2m', () => {
  function cli(): Command {
    const program = new Command().exitOverride();
    registerRun(program);
    return program;
  }

  it('prints the rates and the entries checked', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await cli().parseAsync(['run', 'a2m', '--entries', '50'], { from: 'user' });
    } finally {
      vi.restoreAllMocks();
    }
    expect(out.some((l) => /^appends\/s +\d+$/.test(l)), 'appends/s line').toBe(true);
    expect(out.some((l) => /^lookups\/s +\d+/.test(l)), 'lookups/s line').toBe(true);
    expect(out, 'entries checked line').toContain('entries checked  50 of 50');
  });

  it.each([
    { args: ['--entries', '-5'], message: /--entries '-5' is not an integer in 1\.\./ },
    { args: ['--entries', '2.5'], message: /--entries '2\.5' is not an integer/ },
    { args: ['--entries', 'many'], message: /--entries 'many' is not an integer/ },
    { args: ['--backend', 'fpga'], message: /--backend 'fpga' is not a known backend; use one of: model, rtl/ },
  ])('rejects $args', async ({ args, message }) => {
    const run = cli().parseAsync(['run', 'a2m', ...args], { from: 'user' });
    await expect(run, 'error type').rejects.toBeInstanceOf(InputError);
    await expect(run, 'error message').rejects.toThrow(message);
  });
});

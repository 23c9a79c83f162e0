/**
 * `tnic node --config` with malformed configs and key files. A key file
 * contains session keys, so no error about it may print any of its values.
 * Every case below puts a known key into the file and checks that no
 * 8-character piece of its hex reaches stdout or stderr.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../verify/build_rtl.ts';

const dir = mkdtempSync(join(tmpdir(), 'tnic-node-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = '5ec2e7f00d1234abcd98765432100fedcba5ec2e7f00d1234abcd9876543210f';
const PEERS = [{ name: 'n1', port: 4000, device: 2, session: 0 }];

function tnicNode(config: object | string): { status: number | null; output: string; lines: string[] } {
  const configPath = join(dir, 'n0.json');
  writeFileSync(configPath, typeof config === 'string' ? config : JSON.stringify(config));
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'tnic.js'), 'node', '--config', configPath], {
    encoding: 'utf8',
  });
  const errors = r.stderr.split('\n').filter((line) => line.startsWith('error:'));
  return { status: r.status, output: r.stdout + r.stderr, lines: errors };
}

/** Return every 8-character piece of the key; the key and the compared output are lowercase. */
function keyPieces(): string[] {
  const pieces: string[] = [];
  for (let i = 0; i + 8 <= KEY.length; i++) pieces.push(KEY.slice(i, i + 8));
  return pieces;
}

function expectNoKey(output: string): void {
  const lower = output.toLowerCase();
  for (const piece of keyPieces()) expect(lower, `output contains key piece ${piece}`).not.toContain(piece);
}

describe('tnic node with a malformed key file', () => {
  const cases: { name: string; keys: string; field: RegExp }[] = [
    { name: 'key as the session list', keys: `{"sessions":"${KEY}"}`, field: /field 'sessions' is a string of 64/ },
    {
      name: 'entry instead of a list',
      keys: `{"sessions":{"session":0,"key":"${KEY}"}}`,
      field: /field 'sessions' is an object with 2 fields; use a list/,
    },
    {
      name: 'key in the session field',
      keys: `{"sessions":[{"session":"${KEY}","key":"${KEY}"}]}`,
      field: /field 'sessions\[0\]\.session' is a string of 64 characters; use an integer in 0\.\.15/,
    },
    { name: 'key as a top field name', keys: `{"${KEY}":1}`, field: /has an unknown field named by 64 characters/ },
    {
      name: 'key as an entry field name',
      keys: `{"sessions":[{"${KEY}":1}]}`,
      field: /field 'sessions\[0\]' has an unknown field named by 64 characters/,
    },
    {
      name: 'key with a bad digit',
      keys: `{"sessions":[{"session":0,"key":"${KEY}z"}]}`,
      field: /field 'sessions\[0\]\.key' is a string of 65 characters; use an even number of hex digits/,
    },
    {
      name: 'key as a number',
      keys: `{"sessions":[{"session":0,"key":${KEY.replace(/[a-f]/g, '7')}}]}`,
      field: /field 'sessions\[0\]\.key' is an integer; use an even number of hex digits/,
    },
    {
      name: 'session out of range',
      keys: `{"sessions":[{"session":16,"key":"${KEY}"}]}`,
      field: /field 'sessions\[0\]\.session' is an integer outside 0\.\.15/,
    },
    { name: 'key as an entry', keys: `{"sessions":["${KEY}"]}`, field: /field 'sessions\[0\]' is a string of 64/ },
    { name: 'list at the top', keys: `["${KEY}"]`, field: /is a list of 1 entry; use a JSON object such as/ },
    {
      name: 'repeated session',
      keys: `{"sessions":[{"session":0,"key":"${KEY}"},{"session":0,"key":"${KEY}"}]}`,
      field: /fields 'sessions\[0\]\.session' and 'sessions\[1\]\.session' name the same session/,
    },
    { name: 'invalid JSON', keys: `{"sessions":[{"session":0,"key":${KEY}}]}`, field: /is not valid JSON/ },
  ];

  it.each(cases)('rejects $name without printing the key', ({ name, keys, field }) => {
    const keyFile = join(dir, `${name.replace(/ /g, '-')}.keys.json`);
    writeFileSync(keyFile, keys);
    const r = tnicNode({ name: 'n0', device: 1, port: 0, peers: PEERS, keys: keyFile });

    expectNoKey(r.output);
    expect(r.status, r.output).toBe(2);
    expect(r.lines, 'one error line').toHaveLength(1);
    expect(r.lines[0], 'names the key file').toContain(`key file ${keyFile}`);
    expect(r.lines[0], 'names the field and the fix').toMatch(field);
  });
});

describe('tnic node with key material in the config', () => {
  const cases: { name: string; config: object | string; message: RegExp }[] = [
    {
      name: 'key in the keys field',
      config: { name: 'n0', device: 1, port: 0, peers: PEERS, keys: KEY },
      message: /field 'keys' is 64 hex digits, which looks like a key rather than a path/,
    },
    {
      name: 'keys inline',
      config: { name: 'n0', device: 1, port: 0, peers: PEERS, keys: { session: 0, key: KEY } },
      message: /field 'keys' is an object with 2 fields; use a file path/,
    },
    {
      name: 'key file as the config',
      config: { sessions: [{ session: 0, key: KEY }] },
      message: /has a 'sessions' field, so it looks like a key file/,
    },
    {
      name: 'key as a field name',
      config: { name: 'n0', device: 1, port: 0, peers: PEERS, keys: 'k.json', [KEY]: 1 },
      message: /has an unknown field named by 64 characters/,
    },
    {
      name: 'key as a peer name',
      config: { name: 'n0', device: 1, port: 0, peers: [{ ...PEERS[0], name: `key ${KEY}` }], keys: 'k.json' },
      message: /field 'peers\[0\]\.name' is a string of 68 characters \(not shown: it looks like a key\)/,
    },
  ];

  it.each(cases)('rejects $name without printing the key', ({ config, message }) => {
    const r = tnicNode(config);

    expectNoKey(r.output);
    expect(r.status, r.output).toBe(2);
    expect(r.lines, 'one error line').toHaveLength(1);
    expect(r.lines[0], 'names the config').toContain(`config ${join(dir, 'n0.json')}`);
    expect(r.lines[0], 'names the field and the fix').toMatch(message);
  });
});

describe('tnic node config peers', () => {
  it('rejects a peer at the node\'s own endpoint', () => {
    const peers = [{ name: 'n1', port: 4100, device: 2, session: 0 }];
    const r = tnicNode({ name: 'n0', device: 1, port: 4100, peers, keys: 'k.json' });

    expect(r.status, r.output).toBe(2);
    expect(r.lines, 'one error line').toHaveLength(1);
    expect(r.lines[0]).toContain("peers[0]: address and port 127.0.0.1:4100 are this node's own");
  });

  it('still quotes an ordinary bad value', () => {
    const r = tnicNode({ name: 'n0', device: 1, port: 70000, peers: PEERS, keys: 'k.json' });

    expect(r.status, r.output).toBe(2);
    expect(r.lines[0]).toContain("field 'port' is 70000; use an integer in 0..65535");
  });
});

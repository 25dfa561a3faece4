import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initCa, issue, makeEnv, removeEnv, snapshot, type Env } from '../helpers/cli';

describe('invalid input: exit 2, one clear line, nothing changed on disk', () => {
  let env: Env;
  let serial: string;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
    serial = (await issue(env, 'valid-client')).serial;
  });
  afterAll(() => removeEnv(env));

  const out = () => ['--out-dir', path.join(env.tmp, 'bad-out')];
  const cases: [string, () => string[], RegExp][] = [
    ['a name with an RDN injection', () => ['issue-client', '--name', 'CN=x,O=y', ...out()], /--name/],
    ['a path in the name', () => ['issue-client', '--name', '../x', ...out()], /--name/],
    ['an empty name', () => ['issue-client', '--name', '', ...out()], /--name/],
    ['a 65-character name', () => ['issue-client', '--name', 'a'.repeat(65), ...out()], /--name/],
    [
      'a duration over 90 days',
      () => ['issue-client', '--name', 'x', '--duration', '91d', ...out()],
      /at most 90 days/,
    ],
    [
      'a negative duration',
      () => ['issue-client', '--name', 'x', '--duration', '-1h', ...out()],
      /--duration/,
    ],
    [
      'an unparsable duration',
      () => ['issue-client', '--name', 'x', '--duration', 'soon', ...out()],
      /invalid duration/,
    ],
    ['a zero duration', () => ['issue-client', '--name', 'x', '--duration', '0h', ...out()], /--duration/],
    [
      'an export folder inside the state dir',
      () => ['issue-client', '--name', 'x', '--out-dir', path.join(env.stateDir, 'bundles')],
      /outside the state dir/,
    ],
    ['a malformed serial', () => ['revoke', '--serial', 'xyz-not-hex'], /malformed serial/],
    ['an unknown reason', () => ['revoke', '--serial', serial, '--reason', 'bored'], /--reason/],
    ['an unknown flag', () => ['list', '--colour'], /colour/],
    ['an unknown command', () => ['frobnicate'], /unknown command/],
    ['a missing --name', () => ['issue-client', ...out()], /--name is required/],
  ];

  it.each(cases)('%s', async (_label, args, message) => {
    const before = await snapshot(env.tmp);
    const r = await cli(env, args());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await snapshot(env.tmp)).toEqual(before);
  });

  it('a missing passphrase with no terminal exits 2 and changes nothing', async () => {
    const before = await snapshot(env.tmp);
    const r = await cli(null, ['--state-dir', env.stateDir, 'issue-client', '--name', 'x', ...out()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/passphrase is needed/);
    expect(await snapshot(env.tmp)).toEqual(before);
  });

  it('a missing passphrase on init creates no state dir', async () => {
    const dir = path.join(env.tmp, 'fresh-state');
    const r = await cli(null, ['--state-dir', dir, 'init', '--hosts', 'localhost']);
    expect(r.code).toBe(2);
    await expect(fs.stat(dir)).rejects.toThrow();
  });

  it('bad hosts on init exit 2 and create no state dir', async () => {
    const dir = path.join(env.tmp, 'fresh-state-2');
    const r = await cli(env, ['--state-dir', dir, 'init', '--hosts', 'bad host!,127.0.0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--hosts/);
    await expect(fs.stat(dir)).rejects.toThrow();
  });

  it('a wrong passphrase is refused (exit 1) and changes nothing', async () => {
    const wrong = path.join(env.tmp, 'wrong-pass');
    await fs.writeFile(wrong, 'not the passphrase', { mode: 0o600 });
    const before = await snapshot(env.stateDir);
    const r = await cli(null, [
      '--state-dir',
      env.stateDir,
      '--passphrase-file',
      wrong,
      'revoke',
      '--serial',
      serial,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wrong passphrase/);
    expect(await snapshot(env.stateDir)).toEqual(before);
    await fs.rm(wrong);
  });

  it('commands before init say there is no CA', async () => {
    const r = await cli(env, ['--state-dir', path.join(env.tmp, 'empty'), 'list']);
    expect(r.code).toBe(0);
    const s = await cli(env, ['--state-dir', path.join(env.tmp, 'empty'), 'issue-client', '--name', 'x']);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/no CA in/);
  });

  it('--help works on every command', async () => {
    for (const c of [
      'init',
      'issue-client',
      'list',
      'revoke',
      'status',
      'crl',
      'audit',
      'rotate-server',
      'serve',
    ]) {
      const r = await cli(null, [c, '--help']);
      expect({ c, code: r.code }).toEqual({ c, code: 0 });
      expect(r.stdout).toContain(`mtls-console ${c}`);
    }
  });
});

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initCa, makeEnv, removeEnv, type Env } from '../helpers/cli';

interface AuditLine {
  type: string;
  serial: string | null;
}

describe('two CLI processes on one state dir', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  it('2 × 50 issuances in parallel lose nothing', async () => {
    const loop = async (who: string): Promise<string[]> => {
      const serials: string[] = [];
      for (let i = 0; i < 50; i++) {
        const r = await cli(env, [
          'issue-client',
          '--name',
          `${who}-${i}`,
          '--out-dir',
          path.join(env.tmp, who),
          '--json',
        ]);
        expect(r.stderr).toBe('');
        serials.push((JSON.parse(r.stdout) as { serial: string }).serial);
      }
      return serials;
    };
    const [a, b] = await Promise.all([loop('a'), loop('b')]);
    const printed = new Set([...a, ...b]);
    expect(printed.size).toBe(100);

    const list = JSON.parse((await cli(env, ['list', '--json'])).stdout) as { serial: string }[];
    expect(new Set(list.map((c) => c.serial))).toEqual(printed);
    const page = JSON.parse(
      (await cli(env, ['audit', '--json', '--type', 'client.issued', '--limit', '1000'])).stdout,
    ) as { records: AuditLine[]; total: number };
    expect(page.total).toBe(100);
    expect(new Set(page.records.map((r) => r.serial))).toEqual(printed);
    expect((await cli(env, ['audit', '--verify'])).code).toBe(0);
  }, 300_000);

  it('issuing and revoking concurrently lose nothing', async () => {
    const list = JSON.parse((await cli(env, ['list', '--json'])).stdout) as { serial: string }[];
    const toRevoke = list.slice(0, 20).map((c) => c.serial);
    const revoker = async () => {
      for (const serial of toRevoke) expect((await cli(env, ['revoke', '--serial', serial])).code).toBe(0);
    };
    const issuer = async () => {
      for (let i = 0; i < 20; i++) {
        expect(
          (await cli(env, ['issue-client', '--name', `c-${i}`, '--out-dir', path.join(env.tmp, 'c')])).code,
        ).toBe(0);
      }
    };
    await Promise.all([revoker(), issuer()]);
    const after = JSON.parse((await cli(env, ['list', '--json'])).stdout) as {
      serial: string;
      status: string;
    }[];
    expect(after).toHaveLength(120);
    expect(
      after
        .filter((c) => c.status === 'revoked')
        .map((c) => c.serial)
        .sort(),
    ).toEqual([...toRevoke].sort());
    expect((await cli(env, ['audit', '--verify'])).code).toBe(0);
  }, 300_000);
});

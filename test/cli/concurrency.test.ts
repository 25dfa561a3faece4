import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { cli, initCa, makeEnv, removeEnv, startServe, type Env } from '../helpers/cli';
import { KeepAliveClient, startUpstream } from '../helpers/gateway-client';

/** Issues `n` clients named `who-0…` one after another through the CLI; returns their serials. */
async function issueMany(env: Env, who: string, n: number): Promise<string[]> {
  const serials: string[] = [];
  for (let i = 0; i < n; i++) {
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
}

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
    const [a, b] = await Promise.all([issueMany(env, 'a', 50), issueMany(env, 'b', 50)]);
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

describe('the app, two CLI processes and serve on one state dir', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  it('loses and duplicates nothing while the gateway proxies and records', async () => {
    const upstream = await startUpstream();
    const { child: serve, port } = await startServe(env, `http://127.0.0.1:${upstream.port}`);
    const vaults = createVaultResolver();
    vaults.setPassphrase('correct horse battery staple');
    const app = new ConsoleService({ stateDir: env.stateDir, vaults, operator: 'app-operator' });
    try {
      const caller = (
        await app.issueClient({ name: 'caller', durationMs: 3_600_000, outDir: path.join(env.tmp, 'app') })
      ).files;
      const traffic = async (): Promise<number> => {
        const c = await KeepAliveClient.connect(port, caller);
        let ok = 0;
        for (let i = 0; i < 150; i++) if ((await c.get(`/r/${i}`)) === 200) ok++;
        c.close();
        return ok;
      };
      const viaCli = async (who: string): Promise<string[]> => {
        const serials = await issueMany(env, who, 6);
        expect((await cli(env, ['revoke', '--serial', serials[0] as string])).code).toBe(0);
        return serials;
      };
      const viaApp = async (): Promise<string[]> => {
        const serials: string[] = [];
        for (let i = 0; i < 6; i++) {
          serials.push(
            (
              await app.issueClient({
                name: `app-${i}`,
                durationMs: 3_600_000,
                outDir: path.join(env.tmp, 'app'),
              })
            ).serial,
          );
        }
        await app.revoke({ serial: serials[0] as string, reason: 'superseded' });
        return serials;
      };
      const [served, a, b, c] = await Promise.all([traffic(), viaCli('a'), viaCli('b'), viaApp()]);
      expect(served).toBe(150);

      const issued = [...a, ...b, ...c];
      const list = await app.listClients();
      expect(list).toHaveLength(issued.length + 1);
      expect(new Set(list.filter((x) => x.status === 'revoked').map((x) => x.serial))).toEqual(
        new Set([a[0], b[0], c[0]]),
      );
      const records = await app.auditQuery({ filter: { type: 'client.issued' }, limit: 1000 });
      expect(records.total).toBe(issued.length + 1);
      expect(new Set(records.records.map((r) => r.serial)).size).toBe(issued.length + 1);

      // serve writes its records in batches: stop it, then every proxied request has exactly one.
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await exited;
      const requests = await app.auditQuery({
        filter: { type: 'gateway.request', cn: 'caller' },
        limit: 1000,
      });
      expect(requests.total).toBe(upstream.requests.length);
      expect(new Set(requests.records.map((r) => r.details['path'])).size).toBe(150);
      expect((await app.auditVerify()).ok).toBe(true);
    } finally {
      serve.kill('SIGKILL');
      await app.close();
      await upstream.close();
    }
  }, 300_000);
});

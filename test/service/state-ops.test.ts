import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

function service(env: Env, now?: () => Date): ConsoleService {
  const vaults = createVaultResolver();
  vaults.setPassphrase(PASSPHRASE);
  return new ConsoleService({ stateDir: env.stateDir, vaults, ...(now ? { now } : {}) });
}

describe('operations on the state database, in process', () => {
  let env: Env;
  let app: ConsoleService;
  beforeAll(async () => {
    env = await makeEnv('mtls-ops-');
    app = service(env);
    await initCa(app, 'Ops CA');
  });
  afterAll(async () => {
    await app.close();
    await removeEnv(env);
  });

  it('keeps the open database and its -wal and -shm companions 0600', async () => {
    await app.status();
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) {
      const st = await fs.stat(path.join(env.stateDir, f));
      expect({ f, mode: (st.mode & 0o777).toString(8) }).toEqual({ f, mode: '600' });
    }
  });

  it('two issuances of one name into one folder at once: one bundle, the other certificate revoked and said so', async () => {
    const out = path.join(env.tmp, 'race');
    const results = await Promise.allSettled([
      app.issueClient({ name: 'twin', durationMs: DAY_MS, outDir: out }),
      app.issueClient({ name: 'twin', durationMs: DAY_MS, outDir: out }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const message = (lost[0]?.reason as Error).message;
    expect(message).toMatch(/refusing to overwrite .*twin\.(key|crt)/);
    const loser =
      /certificate ([0-9a-f]+) was recorded but its bundle could not be written, so it was revoked/.exec(
        message,
      )?.[1];
    const winner = (won[0] as PromiseFulfilledResult<{ serial: string }>).value.serial;
    const twins = (await app.listClients()).filter((c) => c.name === 'twin');
    expect(twins.map((c) => [c.serial, c.status]).sort()).toEqual(
      [
        [winner, 'active'],
        [loser, 'revoked'],
      ].sort(),
    );
    expect(twins.find((c) => c.serial === loser)?.reason).toBe('cessationOfOperation');
    // The files are the winner's, complete, and nothing staged is left behind.
    const names = (await fs.readdir(out)).sort();
    expect(names).toEqual(['ca.crt', 'twin.crt', 'twin.key']);
    const crt = await fs.readFile(path.join(out, 'twin.crt'), 'utf8');
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(crt).serialNumber.toLowerCase()).toBe(winner);
    expect((await app.auditVerify()).ok).toBe(true);
  });

  it('says the CA has expired instead of failing obscurely', async () => {
    const later = service(env, () => new Date(Date.now() + 11 * 365 * DAY_MS));
    try {
      await expect(
        later.issueClient({ name: 'too-late', durationMs: DAY_MS, outDir: path.join(env.tmp, 'late') }),
      ).rejects.toMatchObject({
        code: 'CA_EXPIRED',
        message: expect.stringMatching(/CA certificate expired on/),
      });
    } finally {
      await later.close();
    }
  });

  it('clamps a client to the CA expiry and reports the real date', async () => {
    const ca = (await app.status()).ca;
    const nearEnd = service(env, () => new Date(Date.parse(ca?.notAfter ?? '') - 2 * DAY_MS));
    try {
      const r = await nearEnd.issueClient({
        name: 'clamped',
        durationMs: 7 * DAY_MS,
        outDir: path.join(env.tmp, 'c'),
      });
      expect(r.notAfter).toBe(ca?.notAfter);
    } finally {
      await nearEnd.close();
    }
  });

  it('locks the vault on request: the next signing operation needs the passphrase again, and both are recorded', async () => {
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    const s = new ConsoleService({ stateDir: env.stateDir, vaults });
    try {
      expect((await s.handle('vault.lock', {})).vault.locked).toBe(true);
      await expect(s.refreshCrl()).rejects.toMatchObject({ code: 'VAULT_LOCKED' });
      await s.handle('vault.unlock', { passphrase: PASSPHRASE });
      expect((await s.refreshCrl()).entries).toBeGreaterThanOrEqual(0);
      const types = (await s.auditQuery({ filter: { type: 'vault.' }, limit: 10 })).records.map(
        (r) => r.type,
      );
      expect(types.slice(0, 2)).toEqual(['vault.unlocked', 'vault.locked']);
    } finally {
      await s.close();
    }
  });

  it('records settings changes, and archives records past the retention by itself', async () => {
    await app.configureAudit({ failOpen: true });
    // Another process (the CLI) reads the setting from the database.
    const other = service(env);
    expect((await other.status()).auditWrites).toMatchObject({ ok: true, failOpen: true });
    await other.close();
    await app.configureAudit({ failOpen: false, retentionDays: 1 });
    const changes = await app.auditQuery({ filter: { type: 'settings.audit.changed' } });
    expect(changes.records.map((r) => r.details['changed'])).toEqual([
      { failOpen: { from: true, to: false }, retentionDays: { from: 30, to: 1 } },
      { failOpen: { from: false, to: true } },
    ]);
    await expect(app.configureAudit({ retentionDays: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });

    // Two days on, a long-running process moves everything older than a day to a signed archive.
    const later = service(env, () => new Date(Date.now() + 2 * DAY_MS));
    try {
      const archived = new Promise<void>((resolve) => {
        const off = later.on('audit.appended', (records) => {
          if (records.some((r) => r.type === 'audit.archived')) {
            off();
            resolve();
          }
        });
      });
      const stop = later.startUpkeep(() => undefined);
      await archived;
      stop();
      const files = await fs.readdir(path.join(env.stateDir, 'archive'));
      expect(files).toHaveLength(1);
      const v = await later.auditVerify({
        archives: files.map((f) => path.join(env.stateDir, 'archive', f)),
      });
      expect(v.ok).toBe(true);
      const dbOnly = await later.auditVerify();
      expect(dbOnly.ok).toBe(true);
      expect(dbOnly.archivedBefore).toBeGreaterThan(1);
    } finally {
      await later.close();
    }
  });
});

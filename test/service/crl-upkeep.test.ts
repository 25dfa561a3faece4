import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import type { AuditRecord } from '../../src/shared/model';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

describe('CRL upkeep in a long-running process', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    const setup = new ConsoleService({ stateDir: env.stateDir, vaults: createVaultResolver() });
    await initCa(setup, 'Upkeep CA');
    await setup.close();
  });
  afterAll(() => removeEnv(env));

  it('leaves a fresh CRL alone and republishes one past half its validity', async () => {
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    const fresh = new ConsoleService({ stateDir: env.stateDir, vaults });
    const errors: string[] = [];
    fresh.startUpkeep((m: string) => errors.push(m))();
    const before = await fresh.status();

    // Four days on, the 7-day CRL is past half its life.
    const later = new ConsoleService({
      stateDir: env.stateDir,
      vaults,
      now: () => new Date(Date.now() + 4 * DAY_MS),
    });
    const published = new Promise<AuditRecord>((resolve) => {
      const off = later.on('audit.appended', (records) => {
        const r = records.find((x) => x.type === 'crl.published');
        if (r) {
          off();
          resolve(r);
        }
      });
    });
    const stop = later.startUpkeep((m: string) => errors.push(m));
    const record = await published;
    stop();
    expect(record.details['crlNumber']).toBe(String(BigInt(before.crl?.crlNumber ?? '0') + 1n));
    expect(errors).toEqual([]);
    expect((await fresh.status()).crl?.crlNumber).toBe(record.details['crlNumber']);
    await later.close();
    await fresh.close();
  });
});

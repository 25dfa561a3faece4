import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import type { AuditRecord, StatusInfo } from '../../src/shared/model';
import { cli, makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

describe('the console service follows changes made by other processes', () => {
  let env: Env;
  let service: ConsoleService;
  beforeAll(async () => {
    env = await makeEnv();
    service = new ConsoleService({ stateDir: env.stateDir, vaults: createVaultResolver() });
    await initCa(service, 'Events CA');
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('pushes the audit record and the new counts of a CLI issuance', async () => {
    const audit = new Promise<AuditRecord>((resolve) => {
      const off = service.on('audit.appended', (records) => {
        const issued = records.find((r) => r.type === 'client.issued');
        if (issued) {
          off();
          resolve(issued);
        }
      });
    });
    const status = new Promise<StatusInfo>((resolve) => {
      const off = service.on('status.changed', (s) => {
        if (s.clients.active === 1) {
          off();
          resolve(s);
        }
      });
    });
    const r = await cli(env, [
      'issue-client',
      '--name',
      'from-cli',
      '--out-dir',
      path.join(env.tmp, 'o'),
      '--json',
    ]);
    expect(r.code).toBe(0);
    const serial = (JSON.parse(r.stdout) as { serial: string }).serial;
    expect((await audit).serial).toBe(serial);
    expect((await status).clients.total).toBe(1);
  });

  it('refuses an export folder the operator did not pick in the dialog', async () => {
    await expect(
      service.handle('clients.issue', { name: 'x', duration: 3_600_000, outDir: env.tmp }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await service.listClients()).map((c) => c.name)).toEqual(['from-cli']);
  });
});

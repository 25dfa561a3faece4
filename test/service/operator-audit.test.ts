import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { auditFilterSchema } from '../../src/shared/contract';
import type { AuditFilter, AuditRecord } from '../../src/shared/model';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

/**
 * Issue 10, "who did what to this certificate": every settings change, unlock, lock and export is
 * an audit record with the operator as its actor, and a certificate's CN or serial (in any common
 * spelling) finds the operator's issue, renew and revoke records of it, not only gateway traffic.
 */
describe('operator actions in the audit trail', () => {
  let env: Env;
  let service: ConsoleService;
  /** The service's clock runs this far ahead: a renewal needs its certificate to be a minute old. */
  let shift = 0;

  /** The newest records of a type, as the Audit panel's query finds them. */
  async function newest(type: string): Promise<AuditRecord> {
    const page = await service.auditQuery({ filter: { type }, limit: 1 });
    const r = page.records[0];
    if (!r) throw new Error(`no ${type} record`);
    return r;
  }

  /** Through the contract's schema, as the IPC front door parses what the renderer sends. */
  function filter(raw: Record<string, string>): AuditFilter {
    return auditFilterSchema.parse(raw);
  }

  beforeAll(async () => {
    env = await makeEnv('mtls-operator-audit-');
    service = new ConsoleService({
      stateDir: env.stateDir,
      vaults: createVaultResolver(),
      operator: 'olivia',
      now: () => new Date(Date.now() + shift),
    });
    await initCa(service, 'Operator Audit CA');
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('records a gateway settings change with what changed, by the operator', async () => {
    const before = (await service.gatewayConfig()).listen;
    await service.configureGateway({ listen: '0.0.0.0:19821' });
    const r = await newest('settings.gateway.changed');
    expect(r.actor).toEqual({ kind: 'operator', name: 'olivia' });
    expect(r.details).toEqual({ changed: { listen: { from: before, to: '0.0.0.0:19821' } } });
    // Saving the same values again changes nothing and records nothing.
    const total = (await service.auditQuery({ limit: 1 })).total;
    await service.configureGateway({ listen: '0.0.0.0:19821' });
    expect((await service.auditQuery({ limit: 1 })).total).toBe(total);
    await service.configureGateway({ listen: before });
  });

  it('records auto-start switched on and off, and the status says which', async () => {
    expect((await service.status()).autoStart).toBe(false);
    const on = await service.handle('settings.autoStart', { enabled: true });
    expect(on.autoStart).toBe(true);
    const r = await newest('settings.app.changed');
    expect(r.actor).toEqual({ kind: 'operator', name: 'olivia' });
    expect(r.details).toEqual({ changed: { autoStart: { from: false, to: true } } });
    expect((await service.handle('settings.autoStart', { enabled: false })).autoStart).toBe(false);
  });

  it('records lock, a failed unlock and an unlock, by the operator', async () => {
    await service.handle('vault.unlock', { passphrase: PASSPHRASE });
    expect((await newest('vault.unlocked')).actor).toEqual({ kind: 'operator', name: 'olivia' });
    const locked = await service.handle('vault.lock', {});
    expect(locked.vault.locked).toBe(true);
    expect((await newest('vault.locked')).actor).toEqual({ kind: 'operator', name: 'olivia' });
    await expect(service.handle('vault.unlock', { passphrase: 'wrong passphrase' })).rejects.toMatchObject({
      code: 'VAULT_LOCKED',
    });
    expect((await newest('vault.unlock.failed')).actor).toEqual({ kind: 'operator', name: 'olivia' });
    const unlocked = await service.handle('vault.unlock', { passphrase: PASSPHRASE });
    expect(unlocked.vault.locked).toBe(false);
  });

  it('finds the issue, renew and revoke of a certificate by its CN, its serial in any spelling, and the operator', async () => {
    const issued = await service.issueClient({
      name: 'alice@ops',
      durationMs: 30 * DAY_MS,
      outDir: path.join(env.tmp, 'alice'),
    });
    await service.issueClient({
      name: 'bob@ops',
      durationMs: 30 * DAY_MS,
      outDir: path.join(env.tmp, 'bob'),
    });
    shift += 2 * 60_000;
    const renewed = await service.renewClient({ serial: issued.serial, via: 'cli' });
    await service.revoke({ serial: issued.serial, reason: 'keyCompromise' });

    const colons = issued.serial.toUpperCase().match(/../g)!.join(':');
    for (const spelling of [
      issued.serial,
      colons,
      `serial=${issued.serial.toUpperCase()}`,
      `0x${issued.serial}`,
    ]) {
      const page = await service.auditQuery({ filter: filter({ serial: spelling }) });
      // The renewal's record is about its successor, and names this one as renewedFrom.
      expect(
        page.records.map((r) => r.type),
        spelling,
      ).toEqual(['client.revoked', 'client.renewed', 'client.issued']);
      expect(page.total).toBe(3);
    }
    const successor = await service.auditQuery({ filter: filter({ serial: renewed.serial }) });
    expect(successor.records.map((r) => [r.type, r.serial])).toEqual([['client.renewed', renewed.serial]]);
    expect(successor.total).toBe(1);
    const byCn = await service.auditQuery({ filter: filter({ cn: 'ALICE@ops' }) });
    expect(byCn.records.map((r) => r.type)).toEqual(['client.revoked', 'client.renewed', 'client.issued']);
    expect(byCn.records.every((r) => r.actor.kind === 'operator')).toBe(true);

    const byActor = await service.auditQuery({ filter: filter({ actor: 'olivia', type: 'client.' }) });
    expect(byActor.records.map((r) => [r.type, r.cn])).toEqual([
      ['client.revoked', 'alice@ops'],
      ['client.renewed', 'alice@ops'],
      ['client.issued', 'bob@ops'],
      ['client.issued', 'alice@ops'],
    ]);
    // Paged one at a time, the merged walk gives the same records with no repeats.
    const seqs: number[] = [];
    let before: number | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await service.auditQuery({
        filter: filter({ serial: colons }),
        limit: 1,
        ...(before === undefined ? {} : { before }),
      });
      seqs.push(...page.records.map((r) => r.seq));
      if (page.nextCursor === null) break;
      before = page.nextCursor;
    }
    expect(seqs).toHaveLength(3);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    expect((await service.auditQuery({ filter: filter({ actor: 'mallory' }) })).total).toBe(0);
  });

  it('exports exactly the filtered records, and records the export with its filter and count', async () => {
    const f = filter({ cn: 'alice@ops' });
    const onScreen = (await service.auditQuery({ filter: f })).total;
    const file = path.join(env.tmp, 'alice.jsonl');
    const out = await service.auditExportTo(file, 'jsonl', f);
    expect(out.records).toBe(onScreen);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(onScreen);
    expect(lines.map((l) => (JSON.parse(l) as { cn: string }).cn)).toEqual(Array(onScreen).fill('alice@ops'));
    const r = await newest('audit.exported');
    expect(r.actor).toEqual({ kind: 'operator', name: 'olivia' });
    expect(r.details).toMatchObject({ file, format: 'jsonl', filter: f, records: onScreen });
  });
});

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsoleService } from '../../src/main/service';
import { SCHEMA_VERSION } from '../../src/main/db/schema';
import { initCa, refusal, unlockedVaults } from '../helpers/service';
import { makeEnv, openssl, removeEnv, type Env } from '../helpers/cli';
import { downgradeToV2 } from '../helpers/schema-v2';

const DAY_MS = 86_400_000;

/** Schema v3 and the rollover operations on the service (issue 9), with real keys and openssl. */
describe('CA rollover: migration from v2, operations and their records', () => {
  let env: Env;
  let service: ConsoleService;
  let shift = 0;
  const open = () =>
    new ConsoleService({
      stateDir: env.stateDir,
      vaults: unlockedVaults(),
      now: () => new Date(Date.now() + shift),
    });

  beforeEach(async () => {
    shift = 0;
    env = await makeEnv('mtls-rollover-svc-');
    service = open();
    await initCa(service, 'Migrated CA');
  });

  afterEach(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('a v2 database keeps its certificates, revocations and CRL, then rolls over', async () => {
    const kept = await service.issueClient({
      name: 'kept',
      durationMs: DAY_MS,
      outDir: path.join(env.tmp, 'kept'),
    });
    const gone = await service.issueClient({
      name: 'gone',
      durationMs: DAY_MS,
      outDir: path.join(env.tmp, 'gone'),
    });
    await service.revoke({ serial: gone.serial, reason: 'keyCompromise' });
    const crlBefore = await service.crlPem();
    await service.close();

    const db = new DatabaseSync(path.join(env.stateDir, 'state.db'));
    downgradeToV2(db);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'cas'").get()).toBeUndefined();
    db.close();

    service = open();
    const clients = await service.listClients();
    expect(clients.map((c) => [c.name, c.status])).toEqual([
      ['kept', 'active'],
      ['gone', 'revoked'],
    ]);
    expect(await service.crlPem()).toBe(crlBefore);
    const check = new DatabaseSync(path.join(env.stateDir, 'state.db'), { readOnly: true });
    expect(check.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
    expect(check.prepare('SELECT id, name, retired_at FROM cas').all()).toEqual([
      { id: 1, name: 'Migrated CA', retired_at: null },
    ]);
    expect(check.prepare('SELECT serial, issuer_ca FROM revocations').all()).toEqual([
      { serial: gone.serial, issuer_ca: 1 },
    ]);
    expect(check.prepare('SELECT count(*) AS n FROM certificates WHERE issuer_ca = 1').get()).toEqual({
      n: 2,
    });
    check.close();
    expect((await service.auditVerify()).ok).toBe(true);

    // The migrated state rolls over like any other: the revoked certificate stays in the old CA's CRL.
    const started = await service.startRollover();
    expect(started.clients).toMatchObject({ onOldCa: 1, total: 1 });
    const crlFile = path.join(env.tmp, 'old.crl');
    await fs.writeFile(crlFile, crlBefore);
    const oldRoot = path.join(env.tmp, 'old.crt');
    await fs.writeFile(oldRoot, started.old?.certPem ?? '');
    const v = await openssl(['crl', '-in', crlFile, '-CAfile', oldRoot, '-noout', '-text']);
    expect(v.stderr + v.stdout).toContain('verify OK');
    expect(v.stdout.toUpperCase()).toContain(gone.serial.toUpperCase());
    expect(kept.serial).not.toBe(gone.serial);
  });

  it('renewals during a rollover (client over the gateway, server automatic) come from the new CA', async () => {
    const mover = await service.issueClient({
      name: 'mover',
      durationMs: DAY_MS,
      outDir: path.join(env.tmp, 'm'),
    });
    const s = await service.startRollover();
    expect(s.clients).toMatchObject({ onOldCa: 1, total: 1, rolled: 0 });
    shift += 2 * 60_000; // past the renewal rate limit
    const renewed = await service.renewClient({ serial: mover.serial, via: 'gateway' });
    expect(new X509Certificate(renewed.certPem).issuer).toBe(`CN=${s.current.name}`);
    // The answer's CA file holds both roots while the rollover runs.
    expect(renewed.caPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    // The predecessor stays valid (not revoked) until it expires, so it still counts as on the old CA.
    expect((await service.rolloverStatus()).clients).toMatchObject({ onOldCa: 1, total: 2, rolled: 1 });
    const refused = await refusal(service.retireRollover({}));
    expect(refused.message).toContain(`mover (${mover.serial})`);

    // The server certificate renews itself from the new CA too.
    shift += 70 * DAY_MS;
    const outcome = await service.checkServerRenewal();
    expect(outcome.kind).toBe('renewed');
    const serverPem = (await service.rolloverStatus()).current.certPem;
    const status = await service.status();
    const renewedServer = await fs.readFile(service.paths.serverCert, 'utf8');
    expect(status.server?.serial).toBe(new X509Certificate(renewedServer).serialNumber.toLowerCase());
    expect(new X509Certificate(renewedServer).verify(new X509Certificate(serverPem).publicKey)).toBe(true);
  });

  it('start twice is refused; retire without a rollover is refused; each step is audited with the operator', async () => {
    expect((await refusal(service.retireRollover({}))).code).toBe('NOT_FOUND');
    const s = await service.startRollover();
    expect(s.state).toBe('rolling');
    const again = await refusal(service.startRollover());
    expect(again).toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(again.message).toMatch(/already running/);

    // A new issuance comes from the new CA.
    const fresh = await service.issueClient({
      name: 'fresh',
      durationMs: DAY_MS,
      outDir: path.join(env.tmp, 'f'),
    });
    expect(new X509Certificate(await fs.readFile(fresh.files.cert, 'utf8')).issuer).toBe(
      `CN=${s.current.name}`,
    );
    expect((await service.rolloverStatus()).clients).toMatchObject({ onOldCa: 0, total: 1 });

    const done = await service.retireRollover({});
    expect(done.state).toBe('done');
    expect(done.revoked).toEqual([]);
    const page = await service.auditQuery({ filter: { text: 'ca.rollover' } });
    const types = page.records.map((r) => r.type);
    expect(types).toContain('ca.rollover.started');
    expect(types).toContain('ca.rollover.retired');
    expect(page.records.every((r) => r.actor.kind === 'operator')).toBe(true);
    expect((await service.auditVerify()).ok).toBe(true);
    // The next rollover goes on from the new CA.
    const next = await service.startRollover();
    expect(next.current.name).toBe('Migrated CA G3');
    expect(next.old?.name).toBe('Migrated CA G2');
  });
});

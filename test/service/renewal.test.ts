import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService } from '../../src/main/service';
import type { ClientRecord } from '../../src/shared/model';
import { initCa, movableClock, refusal, spkiHex, unlockedVaults } from '../helpers/service';
import { makeEnv, openssl, removeEnv, type Env } from '../helpers/cli';
import { downgradeToV2 } from '../helpers/schema-v2';
import { SCHEMA_VERSION } from '../../src/main/db/schema';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** An EC key and a CSR made by openssl, as a client would; the CSR as DER. */
async function opensslCsr(dir: string, name: string): Promise<{ key: string; csrDer: Buffer }> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr.der`);
  const r = await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-384',
    '-nodes',
    '-keyout',
    key,
    '-subj',
    '/CN=someone-else/O=Ignored',
    '-outform',
    'DER',
    '-out',
    csr,
  ]);
  if (r.code !== 0) throw new Error(`openssl req: ${r.stderr}`);
  return { key, csrDer: await fs.readFile(csr) };
}

describe('client renewal (service)', () => {
  let env: Env;
  let service: ConsoleService;
  const clock = movableClock();
  let n = 0;

  beforeAll(async () => {
    env = await makeEnv('mtls-renew-svc-');
    service = new ConsoleService({ stateDir: env.stateDir, vaults: unlockedVaults(), now: clock.now });
    await initCa(service, 'Renewal CA', { hosts: ['localhost', '127.0.0.1'] });
    // Renewed certificates name the CRL and OCSP URLs too (signingCa).
    await service.configureDistribution({ url: 'http://127.0.0.1:19822' });
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  async function issue(name: string, extra: Partial<Parameters<ConsoleService['issueClient']>[0]> = {}) {
    const r = await service.issueClient({
      name,
      durationMs: 2 * HOUR_MS,
      outDir: path.join(env.tmp, `out-${++n}`),
      ...extra,
    });
    return { ...r, certPem: await fs.readFile(r.files.cert, 'utf8') };
  }
  const listed = async (serial: string): Promise<ClientRecord | undefined> =>
    (await service.listClients()).find((c) => c.serial === serial);

  it('keeps name, groups, lifetime and key; links old and new; audits it; the old one stays valid, shown as superseded', async () => {
    const old = await issue('alice', { groups: ['agents', 'ops'] });
    clock.add(2 * MINUTE_MS);
    const renewed = await service.renewClient({ serial: old.serial, via: 'gateway' });

    expect(renewed.name).toBe('alice');
    expect(renewed.serial).not.toBe(old.serial);
    const oldX = new X509Certificate(old.certPem);
    const newX = new X509Certificate(renewed.certPem);
    expect(newX.subject).toBe(oldX.subject); // OU=agents, OU=ops, CN=alice
    expect(newX.subject).toContain('OU=agents');
    expect(spkiHex(renewed.certPem)).toBe(spkiHex(old.certPem));
    const life = (x: X509Certificate) => Date.parse(x.validTo) - Date.parse(x.validFrom);
    expect(life(newX)).toBe(life(oldX));
    expect(Date.parse(newX.validFrom)).toBeGreaterThan(Date.parse(oldX.validFrom));
    expect(renewed.notAfter).toBe(new Date(newX.validTo).toISOString());
    expect(renewed.caPem).toContain('BEGIN CERTIFICATE');

    // Signed by our CA, with the distribution URLs, and verified by an independent peer.
    const dir = path.join(env.tmp, 'verify-alice');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'ca.crt'), renewed.caPem);
    await fs.writeFile(path.join(dir, 'new.crt'), renewed.certPem);
    await fs.writeFile(path.join(dir, 'old.crt'), old.certPem);
    for (const f of ['new.crt', 'old.crt']) {
      const at = String(Math.floor(clock.now().getTime() / 1000)); // the service's (moved) clock
      const v = await openssl([
        'verify',
        '-attime',
        at,
        '-CAfile',
        path.join(dir, 'ca.crt'),
        path.join(dir, f),
      ]);
      expect(v.stdout + v.stderr).toContain(': OK');
    }
    const text = await openssl(['x509', '-in', path.join(dir, 'new.crt'), '-noout', '-text']);
    expect(text.stdout).toContain('URI:http://127.0.0.1:19822/crl');
    expect(text.stdout).toContain('OCSP - URI:http://127.0.0.1:19822/ocsp');

    const before = await listed(old.serial);
    expect(before).toMatchObject({ status: 'superseded', supersededBy: renewed.serial, renewal: null });
    expect(await listed(renewed.serial)).toMatchObject({
      status: 'active',
      supersedes: old.serial,
      groups: ['agents', 'ops'],
      renewable: true,
      renewal: 'ok',
    });
    expect((await service.status()).clients.superseded).toBeGreaterThanOrEqual(1);

    const page = await service.auditQuery({ filter: { type: 'client.renewed', serial: renewed.serial } });
    expect(page.records).toHaveLength(1);
    const rec = page.records[0]!;
    expect(rec.cn).toBe('alice');
    expect(rec.actor).toEqual({ kind: 'client', cn: 'alice', serial: old.serial });
    expect(rec.details).toMatchObject({ renewedFrom: old.serial, via: 'gateway', rekey: false });
    const verified = await service.auditVerify();
    expect(verified.ok, verified.summary).toBe(true);
  });

  it('never past the CA or the end of the renewal chain, and refuses once the chain cannot extend', async () => {
    const old = await issue('bounded', { durationMs: HOUR_MS, renewMaxMs: 90 * MINUTE_MS });
    clock.add(40 * MINUTE_MS);
    const r1 = await service.renewClient({ serial: old.serial, via: 'cli' });
    // Cut at issuance + 90 minutes, not now + 1 h.
    const until = Date.parse((await listed(r1.serial))!.renewUntil!);
    expect(Date.parse(r1.notAfter)).toBe(Math.floor(until / 1000) * 1000);
    expect(Date.parse(r1.notAfter)).toBeLessThan(clock.now().getTime() + HOUR_MS - MINUTE_MS);
    clock.add(10 * MINUTE_MS);
    expect(await refusal(service.renewClient({ serial: r1.serial, via: 'cli' }))).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringMatching(/end of its renewal chain/) as unknown as string,
    });
  });

  it('refuses a revoked, expired, not renewable, unknown or already renewed certificate, and a renewal too soon', async () => {
    const revoked = await issue('rev');
    await service.revoke({ serial: revoked.serial, reason: 'keyCompromise' });
    const fixed = await issue('fixed', { renewable: false });
    const twice = await issue('twice');
    const short = await issue('short', { durationMs: 10 * MINUTE_MS });
    clock.add(2 * MINUTE_MS);
    const next = await service.renewClient({ serial: twice.serial, via: 'gateway' });

    const cases: [string, string, RegExp][] = [
      [revoked.serial, 'FORBIDDEN', /revoked .*keyCompromise.* not renewed/],
      [fixed.serial, 'FORBIDDEN', /not renewable/],
      // The successor was issued moments ago: at most one renewal a minute per chain.
      [next.serial, 'RATE_LIMITED', /try again in \d+ s/],
      ['0123456789abcdef', 'NOT_FOUND', /no certificate with serial 0123456789abcdef/],
    ];
    for (const [serial, code, message] of cases) {
      const r = await refusal(service.renewClient({ serial, via: 'gateway' }));
      expect({ serial, code: r.code }).toEqual({ serial, code });
      expect(r.message).toMatch(message);
    }
    // The same request again (its answer was lost): the same successor, no second certificate.
    const again = await service.renewClient({ serial: twice.serial, via: 'gateway' });
    expect(again).toMatchObject({ serial: next.serial, certPem: next.certPem });
    // Another key for a certificate that was already renewed: refused.
    const { csrDer } = await opensslCsr(env.tmp, 'twice');
    const other = await refusal(service.renewClient({ serial: twice.serial, csrDer, via: 'gateway' }));
    expect(other.code).toBe('FORBIDDEN');
    expect(other.message).toMatch(new RegExp(`already renewed or re-issued as ${next.serial}`));
    clock.add(9 * MINUTE_MS);
    const expired = await refusal(service.renewClient({ serial: short.serial, via: 'gateway' }));
    expect(expired).toMatchObject({ code: 'FORBIDDEN' });
    expect(expired.message).toMatch(/expired at .* not renewed/);
    // Refusals changed nothing.
    expect(await listed(twice.serial)).toMatchObject({ supersededBy: next.serial });
    expect((await listed(short.serial))?.supersededBy).toBeUndefined();
  });

  it('rekeys with an openssl-made CSR (its key, our name and groups) and refuses a CSR whose signature does not verify', async () => {
    const old = await issue('rekey', { groups: ['agents'] });
    clock.add(2 * MINUTE_MS);
    const { key, csrDer } = await opensslCsr(env.tmp, 'rekey');

    const bad = Buffer.from(csrDer);
    bad[bad.length - 5]! ^= 0x01; // inside the signature
    const refused = await refusal(service.renewClient({ serial: old.serial, csrDer: bad, via: 'gateway' }));
    expect(refused.code).toBe('INVALID_INPUT');
    expect(refused.message).toMatch(/signature does not verify/);
    expect((await listed(old.serial))?.status).toBe('active');
    const garbage = await refusal(
      service.renewClient({ serial: old.serial, csrDer: Buffer.from('not a csr'), via: 'gateway' }),
    );
    expect(garbage.code).toBe('INVALID_INPUT');

    const renewed = await service.renewClient({ serial: old.serial, csrDer, via: 'gateway' });
    const keyPub = (await openssl(['pkey', '-in', key, '-pubout', '-outform', 'DER'])).stdout;
    expect(keyPub.length).toBeGreaterThan(0);
    const x = new X509Certificate(renewed.certPem);
    expect(x.subject).toBe('OU=agents\nCN=rekey');
    expect(spkiHex(renewed.certPem)).not.toBe(spkiHex(old.certPem));
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    // The certificate is for the CSR's key: openssl matches them.
    const certFile = path.join(env.tmp, 'rekey-new.crt');
    await fs.writeFile(certFile, renewed.certPem);
    const fromCert = await openssl(['x509', '-in', certFile, '-noout', '-pubkey']);
    const fromKey = await openssl(['pkey', '-in', key, '-pubout']);
    expect(fromCert.stdout).toBe(fromKey.stdout);
    const page = await service.auditQuery({ filter: { type: 'client.renewed', serial: renewed.serial } });
    expect(page.records[0]?.details).toMatchObject({ rekey: true, csr: { keyType: 'EC P-384' } });
  });
});

describe('re-issue after renewals (service)', () => {
  let env: Env;
  let service: ConsoleService;
  const clock = movableClock();
  beforeAll(async () => {
    env = await makeEnv('mtls-reissue-chain-');
    service = new ConsoleService({ stateDir: env.stateDir, vaults: unlockedVaults(), now: clock.now });
    await initCa(service, 'Chain CA');
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('ends the renewal chain: the renewed one keeps its link, the head is superseded by the new one', async () => {
    const outDir = path.join(env.tmp, 'chain');
    const a = await service.issueClient({ name: 'chain', durationMs: HOUR_MS, outDir });
    clock.add(2 * MINUTE_MS);
    const b = await service.renewClient({ serial: a.serial, via: 'cli' });
    const c = await service.issueClient({ name: 'chain', durationMs: HOUR_MS, outDir, reissue: true });
    expect(c.replaced?.map((r) => r.serial)).toEqual([a.serial, b.serial]);
    const rows = await service.listClients();
    const row = (serial: string) => rows.find((r) => r.serial === serial);
    expect(row(a.serial)).toMatchObject({ status: 'superseded', supersededBy: b.serial });
    expect(row(b.serial)).toMatchObject({
      status: 'superseded',
      supersededBy: c.serial,
      supersedes: a.serial,
    });
    expect(row(c.serial)).toMatchObject({ status: 'active', supersedes: b.serial });
    clock.add(2 * MINUTE_MS);
    expect(await refusal(service.renewClient({ serial: b.serial, via: 'cli' }))).toMatchObject({
      code: 'FORBIDDEN',
    });
    const verified = await service.auditVerify();
    expect(verified.ok, verified.summary).toBe(true);
  });
});

describe('re-issue (service)', () => {
  let env: Env;
  let service: ConsoleService;
  beforeAll(async () => {
    env = await makeEnv('mtls-reissue-svc-');
    service = new ConsoleService({ stateDir: env.stateDir, vaults: unlockedVaults() });
    await initCa(service, 'Reissue CA');
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('needs a name that exists, keeps its groups, and never overwrites a foreign NAME.crt', async () => {
    const outDir = path.join(env.tmp, 'bundles');
    expect(
      await refusal(service.issueClient({ name: 'nobody', durationMs: HOUR_MS, outDir, reissue: true })),
    ).toMatchObject({ code: 'NOT_FOUND' });
    const first = await service.issueClient({ name: 'carol', durationMs: HOUR_MS, outDir, groups: ['ops'] });
    const second = await service.issueClient({ name: 'carol', durationMs: DAY_MS, outDir, reissue: true });
    expect(second.replaced).toEqual([{ serial: first.serial, revoked: false }]);
    expect(new X509Certificate(await fs.readFile(second.files.cert)).subject).toBe('OU=ops\nCN=carol');

    const other = path.join(env.tmp, 'foreign');
    await fs.mkdir(other);
    await fs.copyFile(second.files.cert, path.join(other, 'dave.crt')); // carol's, under dave's name
    await service.issueClient({ name: 'dave', durationMs: HOUR_MS, outDir: path.join(env.tmp, 'dave') });
    const refused = await refusal(
      service.issueClient({ name: 'dave', durationMs: HOUR_MS, outDir: other, reissue: true }),
    );
    expect(refused).toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(
      await refusal(service.issueClient({ name: 'x', durationMs: HOUR_MS, outDir, revokePrevious: true })),
    ).toMatchObject({ code: 'INVALID_INPUT' });
    expect(
      await refusal(
        service.issueClient({ name: 'y', durationMs: 30 * DAY_MS, outDir, renewMaxMs: 7 * DAY_MS }),
      ),
    ).toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('state schema v2 on a database from v1', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv('mtls-renew-migrate-');
  });
  afterAll(() => removeEnv(env));

  it('migrates v1 rows (renewable, groups from the issuance record); without their PEM, renewal needs a CSR', async () => {
    const clock = movableClock();
    let service = new ConsoleService({ stateDir: env.stateDir, vaults: unlockedVaults(), now: clock.now });
    await initCa(service, 'Old CA');
    const old = await service.issueClient({
      name: 'legacy',
      durationMs: DAY_MS,
      outDir: path.join(env.tmp, 'legacy'),
      groups: ['agents'],
    });
    await service.close();
    // Back to what v1 had.
    const db = new DatabaseSync(path.join(env.stateDir, 'state.db'));
    downgradeToV2(db);
    for (const col of ['cert_pem', 'groups', 'renewable', 'renew_until', 'supersedes', 'superseded_by']) {
      db.exec(`ALTER TABLE certificates DROP COLUMN ${col}`);
    }
    db.exec('PRAGMA user_version = 1');
    db.close();

    service = new ConsoleService({ stateDir: env.stateDir, vaults: unlockedVaults(), now: clock.now });
    try {
      const [row] = await service.listClients();
      expect(row).toMatchObject({ serial: old.serial, status: 'active', renewable: true });
      expect(row?.groups).toBeUndefined();
      clock.add(2 * MINUTE_MS);
      const sameKey = await refusal(service.renewClient({ serial: old.serial, via: 'gateway' }));
      expect(sameKey.code).toBe('INVALID_INPUT');
      expect(sameKey.message).toMatch(/--rekey/);
      const { csrDer } = await opensslCsr(env.tmp, 'legacy');
      const renewed = await service.renewClient({ serial: old.serial, csrDer, via: 'gateway' });
      expect(new X509Certificate(renewed.certPem).subject).toBe('OU=agents\nCN=legacy');
      const check = new DatabaseSync(path.join(env.stateDir, 'state.db'), { readOnly: true });
      expect(check.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
      check.close();
    } finally {
      await service.close();
    }
  });
});

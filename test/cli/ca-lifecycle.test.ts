import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initCa, issue, makeEnv, openssl, removeEnv, type Env } from '../helpers/cli';

describe('CA lifecycle through the CLI, checked by openssl', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env, ['--ca-name', 'Ops Root CA']);
  });
  afterAll(() => removeEnv(env));

  it('keeps the state dir 0700, its files 0600, and no private key unsealed', async () => {
    const st = await fs.stat(env.stateDir);
    expect((st.mode & 0o777).toString(8)).toBe('700');
    for (const name of await fs.readdir(env.stateDir)) {
      const file = path.join(env.stateDir, name);
      const s = await fs.stat(file);
      if (!s.isFile()) continue;
      expect({ name, mode: (s.mode & 0o777).toString(8) }).toEqual({ name, mode: '600' });
      const text = await fs.readFile(file, 'latin1');
      expect(text, name).not.toMatch(/PRIVATE KEY/);
    }
  });

  it('refuses to overwrite an existing CA', async () => {
    const r = await cli(env, ['init', '--hosts', 'other.example']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already exists/);
  });

  it('issues a client that openssl accepts for sslclient, with a .p12 only the password opens', async () => {
    const pw = path.join(env.tmp, 'p12pw');
    await fs.writeFile(pw, 's3cret-p12\n', { mode: 0o600 });
    const c = await issue(env, 'alice@operators', ['--duration', '7d', '--p12-password-file', pw]);
    expect(c.serial).toMatch(/^[0-9a-f]{32}$/);
    const days = (Date.parse(c.notAfter) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const verify = await openssl(['verify', '-purpose', 'sslclient', '-CAfile', c.files.ca, c.files.cert]);
    expect(verify.stdout).toContain(': OK');
    const subject = await openssl([
      'x509',
      '-in',
      c.files.cert,
      '-noout',
      '-subject',
      '-serial',
      '-nameopt',
      'RFC2253',
    ]);
    expect(subject.stdout).toContain('subject=CN=alice@operators');
    expect(subject.stdout.toLowerCase()).toContain(`serial=${c.serial}`);
    expect(((await fs.stat(c.files.key)).mode & 0o777).toString(8)).toBe('600');

    const p12 = c.files.p12 as string;
    const good = await openssl(['pkcs12', '-in', p12, '-passin', 'pass:s3cret-p12', '-nodes']);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('BEGIN CERTIFICATE');
    expect(good.stdout).toContain('PRIVATE KEY');
    const bad = await openssl(['pkcs12', '-in', p12, '-passin', 'pass:wrong', '-nodes']);
    expect(bad.code).not.toBe(0);
  });

  it('revokes by serial: openssl sees it revoked in the CRL with its reason', async () => {
    const c = await issue(env, 'bob', ['--out-dir', path.join(env.tmp, 'bob')]);
    const colonUpper = c.serial.toUpperCase().match(/../g)?.join(':') as string;
    const r = await cli(env, ['revoke', '--serial', colonUpper, '--reason', 'keyCompromise']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`revoked ${c.serial}`);

    const crlFile = path.join(env.tmp, 'crl.pem');
    expect((await cli(env, ['crl', '--out', crlFile])).code).toBe(0);
    const text = await openssl(['crl', '-in', crlFile, '-CAfile', c.files.ca, '-noout', '-text']);
    expect(text.stderr + text.stdout).toMatch(/verify OK/);
    expect(text.stdout.replace(/[:\s]/g, '').toLowerCase()).toContain(c.serial);
    expect(text.stdout).toContain('Key Compromise');
    const check = await openssl([
      'verify',
      '-crl_check',
      '-CRLfile',
      crlFile,
      '-CAfile',
      c.files.ca,
      c.files.cert,
    ]);
    expect(check.code).not.toBe(0);
    expect(check.stdout + check.stderr).toMatch(/certificate revoked/);

    const der = await cli(env, ['crl', '--der', '--out', path.join(env.tmp, 'crl.der')]);
    expect(der.code).toBe(0);
    const fromDer = await openssl([
      'crl',
      '-inform',
      'DER',
      '-in',
      path.join(env.tmp, 'crl.der'),
      '-noout',
      '-crlnumber',
    ]);
    expect(fromDer.stdout).toMatch(/crlNumber=0x[0-9A-F]+/i);

    const list = JSON.parse((await cli(env, ['list', '--json'])).stdout) as {
      serial: string;
      status: string;
    }[];
    expect(list.find((x) => x.serial === c.serial)?.status).toBe('revoked');
  });

  it('republishes the CRL on request with a new number and the same revocations', async () => {
    const before = JSON.parse((await cli(env, ['status', '--json'])).stdout) as {
      crl: { crlNumber: string; daysLeft: number };
    };
    expect(before.crl.daysLeft).toBe(6);
    const file = path.join(env.tmp, 'fresh.crl');
    const r = await cli(env, ['crl', '--refresh', '--out', file]);
    expect(r.code).toBe(0);
    const next = String(BigInt(before.crl.crlNumber) + 1n);
    expect(r.stderr).toContain(`CRL ${next} published`);
    const number = await openssl(['crl', '-in', file, '-noout', '-crlnumber']);
    expect(BigInt(number.stdout.trim().replace('crlNumber=', ''))).toBe(BigInt(next));
    const text = await openssl(['crl', '-in', file, '-noout', '-text']);
    expect(text.stdout).toContain('Key Compromise');
    const audit = JSON.parse(
      (await cli(env, ['audit', '--json', '--type', 'crl.published', '--limit', '1'])).stdout,
    ) as { records: { type: string; details: { crlNumber: string } }[] };
    expect(audit.records[0]).toMatchObject({ type: 'crl.published', details: { crlNumber: next } });
  });

  it('says a second revocation was already done, exits 0 and writes no second audit record', async () => {
    const c = await issue(env, 'carol', ['--out-dir', path.join(env.tmp, 'carol')]);
    expect((await cli(env, ['revoke', '--serial', c.serial])).code).toBe(0);
    const before = (await cli(env, ['audit', '--json'])).stdout;
    const again = await cli(env, ['revoke', '--serial', c.serial]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already revoked/);
    expect((await cli(env, ['audit', '--json'])).stdout).toBe(before);
  });

  it('reports an unknown serial clearly, non-zero', async () => {
    const r = await cli(env, ['revoke', '--serial', 'abcdef0123456789']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no certificate with serial abcdef0123456789/);
  });

  it('shows status as text and JSON', async () => {
    const j = JSON.parse((await cli(env, ['status', '--json'])).stdout) as {
      ca: { subject: string; algorithm: string; daysLeft: number };
      server: { sans: string[]; daysLeft: number };
      clients: { active: number; revoked: number };
      gateway: { config: { listen: string } };
    };
    expect(j.ca.subject).toBe('CN=Ops Root CA');
    expect(j.ca.algorithm).toBe('ecdsa-p256');
    expect(j.ca.daysLeft).toBeGreaterThan(3640);
    expect(j.server.sans).toEqual(['localhost', '127.0.0.1']);
    expect(j.server.daysLeft).toBe(89);
    expect(j.clients.revoked).toBe(2);
    expect(j.gateway.config.listen).toBe('127.0.0.1:19821');
    const text = await cli(env, ['status']);
    expect(text.stdout).toContain('Ops Root CA');
  });

  it('keeps an audit chain that verifies', async () => {
    const r = await cli(env, ['audit', '--verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/intact/);
    const page = JSON.parse((await cli(env, ['audit', '--json', '--limit', '1000'])).stdout) as {
      records: { type: string }[];
    };
    const types = page.records.map((x) => x.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'ca.initialized',
        'server.issued',
        'client.issued',
        'client.revoked',
        'crl.published',
      ]),
    );
  });

  it('never overwrites an existing bundle without --force', async () => {
    const dir = path.join(env.tmp, 'dup');
    await issue(env, 'dave', ['--out-dir', dir]);
    const before = await fs.readFile(path.join(dir, 'dave.crt'), 'utf8');
    const again = await cli(env, ['issue-client', '--name', 'dave', '--out-dir', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite .*dave\.crt/);
    expect(await fs.readFile(path.join(dir, 'dave.crt'), 'utf8')).toBe(before);
    const forced = await cli(env, ['issue-client', '--name', 'dave', '--out-dir', dir, '--force']);
    expect(forced.code).toBe(0);
    expect(await fs.readFile(path.join(dir, 'dave.crt'), 'utf8')).not.toBe(before);
  });
});

describe.each(['ecdsa-p384', 'rsa-4096'])('a %s CA', (algorithm) => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env, ['--algorithm', algorithm]);
  });
  afterAll(() => removeEnv(env));

  it('issues and revokes certs that openssl verifies', async () => {
    const c = await issue(env, 'agent-1');
    expect(
      (await openssl(['verify', '-purpose', 'sslclient', '-CAfile', c.files.ca, c.files.cert])).stdout,
    ).toContain(': OK');
    expect((await cli(env, ['revoke', '--serial', c.serial, '--reason', 'superseded'])).code).toBe(0);
    const crlFile = path.join(env.tmp, 'crl.pem');
    await cli(env, ['crl', '--out', crlFile]);
    const check = await openssl([
      'verify',
      '-crl_check',
      '-CRLfile',
      crlFile,
      '-CAfile',
      c.files.ca,
      c.files.cert,
    ]);
    expect(check.stdout + check.stderr).toMatch(/certificate revoked/);
  });
});

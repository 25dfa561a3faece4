import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService } from '../../src/main/service';
import { calls, type CallInput, type CallName, type CallResult } from '../../src/shared/contract';
import { initCa, movableClock, refusal, spkiHex, unlockedVaults } from '../helpers/service';
import { makeEnv, openssl, removeEnv, type Env } from '../helpers/cli';
import { opensslCsr } from '../helpers/csr';

/**
 * The Clients screen's calls as the renderer makes them (input parsed by the contract's schema, as
 * the IPC dispatcher does): issue from a CSR, re-issue, `clients.get` and `clients.renew`. Real
 * crypto throughout; openssl makes the CSRs and checks what comes back.
 */

const MINUTE_MS = 60_000;

describe('Clients screen calls (service)', () => {
  let env: Env;
  let service: ConsoleService;
  let outDir: string;
  let otherDir: string;
  let picked: string;
  const clock = movableClock();

  /** What the IPC dispatcher does: parse with the contract's schema, then handle. */
  async function callAs<C extends CallName>(name: C, input: CallInput<C>): Promise<CallResult<C>> {
    const parsed = calls[name].input.parse(input);
    return service.handle(name, parsed as never);
  }

  beforeAll(async () => {
    env = await makeEnv('mtls-clients-gui-');
    outDir = path.join(env.tmp, 'out');
    otherDir = path.join(env.tmp, 'other');
    picked = outDir;
    service = new ConsoleService({
      stateDir: env.stateDir,
      vaults: unlockedVaults(),
      now: clock.now,
      dialogs: {
        chooseExportDir: async () => picked,
        chooseAuditExportFile: async () => null,
      },
    });
    await initCa(service, 'Clients GUI CA', { hosts: ['localhost', '127.0.0.1'] });
    await callAs('clients.chooseExportDir', {});
    picked = otherDir;
    await callAs('clients.chooseExportDir', {});
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('signs an openssl CSR: our name, the CSR key, no key in the bundle', async () => {
    const { key, csrPem } = await opensslCsr(env.tmp, 'carol');
    const r = await callAs('clients.issue', { name: 'carol@ops', duration: '24h', outDir, csrPem });
    expect(r.csrKeyType).toBe('EC P-256');
    expect(r.files.key).toBeUndefined();
    expect(r.files.p12).toBeUndefined();
    expect((await fs.readdir(outDir)).sort()).toEqual(['ca.crt', 'carol@ops.crt']);
    const pem = await fs.readFile(r.files.cert, 'utf8');
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe('CN=carol@ops');
    // The certificate holds the CSR's key: openssl's key matches it.
    const match = await openssl(['x509', '-in', r.files.cert, '-noout', '-pubkey']);
    const keyPub = await openssl(['pkey', '-in', key, '-pubout']);
    expect(match.stdout).toBe(keyPub.stdout);
    const verify = await openssl(['verify', '-CAfile', r.files.ca, r.files.cert]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it('refuses a tampered CSR with one line, and issues nothing', async () => {
    const { csrPem } = await opensslCsr(env.tmp, 'mallory');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0x01; // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const before = (await callAs('clients.list', {})).length;
    const err = await refusal(
      callAs('clients.issue', { name: 'mallory', duration: '24h', outDir, csrPem: tampered }),
    );
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toMatch(/^the CSR: .*signature/);
    expect(err.message).not.toContain('\n');
    expect((await callAs('clients.list', {})).length).toBe(before);
    await expect(fs.access(path.join(outDir, 'mallory.crt'))).rejects.toThrow();
  });

  it('refuses a CSR with a .p12 password, and garbage that is not a CSR', async () => {
    const { csrPem } = await opensslCsr(env.tmp, 'dave');
    const withP12 = await refusal(
      callAs('clients.issue', { name: 'dave', duration: '24h', outDir, csrPem, p12Password: 'abcd' }),
    );
    expect(withP12).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/\.p12/) });
    const notCsr = calls['clients.issue'].input.safeParse({
      name: 'dave',
      duration: '24h',
      outDir,
      csrPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    });
    expect(notCsr.success).toBe(false);
  });

  it('clients.get: the stored certificate as openssl reads it, never a key', async () => {
    const issued = await callAs('clients.issue', {
      name: 'alice@ops',
      duration: '7d',
      outDir,
      groups: ['agents'],
      renewMax: '30d',
    });
    const d = await callAs('clients.get', { serial: issued.serial.toUpperCase() });
    const pem = await fs.readFile(issued.files.cert, 'utf8');
    expect(d.certPem).toBe(pem);
    expect(d.record).toMatchObject({
      serial: issued.serial,
      name: 'alice@ops',
      status: 'active',
      renewal: 'ok',
    });
    expect(d.record.groups).toEqual(['agents']);
    expect(d.record.renewable).toBe(true);
    expect(d.subject).toBe('CN=alice@ops,OU=agents');
    expect(d.issuer).toBe('CN=Clients GUI CA');
    expect(d.keyType).toBe('EC P-256');
    expect(d.serialColons.replace(/:/g, '')).toBe(issued.serial);
    const fp = async (alg: string) =>
      (await openssl(['x509', '-in', issued.files.cert, '-noout', '-fingerprint', `-${alg}`])).stdout
        .split('=')[1]
        ?.trim()
        .replace(/:/g, '')
        .toLowerCase();
    expect(d.fingerprintSha256).toBe(await fp('sha256'));
    expect(d.fingerprintSha1).toBe(await fp('sha1'));
    expect(JSON.stringify(d)).not.toMatch(/PRIVATE/);
    expect(await refusal(callAs('clients.get', { serial: 'abcdef' }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('clients.renew: the same key again, written to the picked folder, audited; the old one superseded', async () => {
    const issued = await callAs('clients.issue', { name: 'bob@ops', duration: '24h', outDir });
    const original = await fs.readFile(issued.files.cert, 'utf8');
    // A folder the dialog never returned is refused.
    expect(
      await refusal(
        callAs('clients.renew', { serial: issued.serial, outDir: path.join(env.tmp, 'elsewhere') }),
      ),
    ).toMatchObject({ code: 'FORBIDDEN' });
    // Within the first minute renewal is rate limited (renewal.ts).
    expect(await refusal(callAs('clients.renew', { serial: issued.serial, outDir }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
    clock.add(2 * MINUTE_MS);
    const r = await callAs('clients.renew', { serial: `serial=${issued.serial}`.slice(7), outDir });
    expect(r.renewedFrom).toBe(issued.serial);
    expect(r.files.cert).toBe(issued.files.cert);
    const renewed = await fs.readFile(r.files.cert, 'utf8');
    expect(new X509Certificate(renewed).serialNumber.toLowerCase()).toBe(r.serial);
    expect(spkiHex(renewed)).toBe(spkiHex(original));
    // The holder's key still matches the renewed certificate.
    const check = await openssl(['x509', '-in', r.files.cert, '-noout', '-pubkey']);
    const keyPub = await openssl(['pkey', '-in', String(issued.files.key), '-pubout']);
    expect(check.stdout).toBe(keyPub.stdout);
    // Same lifetime as the original.
    expect(Date.parse(r.notAfter) - Date.parse(r.notBefore)).toBe(
      Date.parse(issued.notAfter) - Date.parse(issued.notBefore),
    );
    const list = await callAs('clients.list', {});
    expect(list.find((c) => c.serial === issued.serial)).toMatchObject({
      status: 'superseded',
      supersededBy: r.serial,
    });
    expect(list.find((c) => c.serial === r.serial)).toMatchObject({
      status: 'active',
      supersedes: issued.serial,
    });
    const page = await service.auditQuery({ filter: { type: 'client.renewed', serial: r.serial } });
    expect(page.records[0]?.details).toMatchObject({ via: 'gui', renewedFrom: issued.serial });
    expect(page.records[0]?.details['exportedTo']).toEqual([r.files.cert, r.files.ca]);
    // A superseded certificate is not renewed again.
    expect(await refusal(callAs('clients.renew', { serial: issued.serial, outDir: otherDir }))).toMatchObject(
      {
        code: 'FORBIDDEN',
      },
    );
  });

  it('clients.renew refuses a revoked certificate and a folder holding another name’s file, changing nothing', async () => {
    const a = await callAs('clients.issue', { name: 'erin', duration: '24h', outDir });
    const b = await callAs('clients.issue', { name: 'frank', duration: '24h', outDir });
    clock.add(2 * MINUTE_MS);
    await fs.mkdir(otherDir, { recursive: true });
    // otherDir/frank.crt is erin's certificate: not one of frank's, so never replaced.
    await fs.copyFile(a.files.cert, path.join(otherDir, 'frank.crt'));
    const before = (await callAs('clients.list', {})).length;
    expect(await refusal(callAs('clients.renew', { serial: b.serial, outDir: otherDir }))).toMatchObject({
      code: 'ALREADY_EXISTS',
      message: expect.stringMatching(/not a certificate of frank/),
    });
    expect((await callAs('clients.list', {})).length).toBe(before);
    await callAs('clients.revoke', { serial: a.serial, reason: 'keyCompromise' });
    expect(await refusal(callAs('clients.renew', { serial: a.serial, outDir }))).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringMatching(/revoked/),
    });
  });

  it('re-issue with revoke-previous: a new certificate for the name, the earlier one revoked as superseded', async () => {
    const first = await callAs('clients.issue', { name: 'gina', duration: '24h', outDir });
    const again = await callAs('clients.issue', {
      name: 'gina',
      duration: '24h',
      outDir,
      reissue: true,
      revokePrevious: true,
    });
    expect(again.replaced).toEqual([{ serial: first.serial, revoked: true }]);
    const list = await callAs('clients.list', {});
    expect(list.find((c) => c.serial === first.serial)).toMatchObject({
      status: 'revoked',
      reason: 'superseded',
    });
    expect(list.find((c) => c.serial === again.serial)).toMatchObject({ status: 'active' });
  });
});

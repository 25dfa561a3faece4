import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../../shared/validation';
import {
  buildCrl,
  createCa,
  crlDerToPem,
  exportPrivateKeyPkcs8Der,
  issueClientCert,
  parseCrlSerials,
  randomSerial,
  type CrlEntry,
  type IssuedCert,
  type KeyPair,
} from './index';
import { makeTempDir, openssl, type TempDir } from './openssl.testutil';

const NOW = new Date('2026-03-01T12:00:00.750Z');
const DAY = 86_400_000;
const AT_TIME = ['-attime', String(Math.floor(NOW.getTime() / 1000) + 60)];

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.remove();
});

interface Ca {
  cert: IssuedCert;
  keys: KeyPair;
  pkcs8: Buffer;
  file: string;
}

async function makeCa(alg: Algorithm): Promise<Ca> {
  const { cert, keys } = await createCa({
    algorithm: alg,
    commonName: `CRL CA ${alg}`,
    now: NOW,
    serial: randomSerial(),
  });
  const file = await tmp.file(`ca-${alg}.crt`, cert.certPem);
  return { cert, keys, pkcs8: await exportPrivateKeyPkcs8Der(keys.privateKey), file };
}

async function client(ca: Ca, name: string): Promise<{ cert: IssuedCert; file: string }> {
  const { cert } = await issueClientCert({
    ca: { certPem: ca.cert.certPem, privateKey: ca.keys.privateKey },
    algorithm: 'ecdsa-p256',
    commonName: name,
    notAfter: new Date(NOW.getTime() + 30 * DAY),
    now: NOW,
    serial: randomSerial(),
  });
  return { cert, file: await tmp.file(`${name}.crt`, cert.certPem) };
}

function crlFor(ca: Ca, alg: Algorithm, entries: readonly CrlEntry[], crlNumber = 7n): Buffer {
  return buildCrl({
    caCertPem: ca.cert.certPem,
    caPrivateKeyPkcs8Der: ca.pkcs8,
    algorithm: alg,
    entries,
    crlNumber,
    thisUpdate: NOW,
    nextUpdate: new Date(NOW.getTime() + 7 * DAY),
  });
}

async function checkRevocation(alg: Algorithm): Promise<void> {
  const ca = await makeCa(alg);
  const mallory = await client(ca, `mallory-${alg}`);
  const alice = await client(ca, `alice-${alg}`);
  const otherSerial = randomSerial();
  const plainSerial = randomSerial();
  const entries: CrlEntry[] = [
    {
      serial: mallory.cert.serial,
      revokedAt: new Date(NOW.getTime() - 3_600_000 + 123),
      reason: 'keyCompromise',
    },
    { serial: otherSerial, revokedAt: NOW, reason: 'superseded' },
    { serial: plainSerial, revokedAt: NOW, reason: 'unspecified' },
  ];
  const der = crlFor(ca, alg, entries, 42n);
  const crlFile = await tmp.file(`crl-${alg}.pem`, crlDerToPem(der));
  expect(crlDerToPem(der)).toMatch(/^-----BEGIN X509 CRL-----\n/);

  const text = await openssl(['crl', '-in', crlFile, '-CAfile', ca.file, '-noout', '-text']);
  expect(text.code).toBe(0);
  expect(text.stderr + text.stdout).toContain('verify OK');
  expect(text.stdout).toContain('Version 2 (0x1)');
  expect(text.stdout).toMatch(/X509v3 CRL Number:\s*\n\s*42\n/);
  expect(text.stdout).toContain('X509v3 Authority Key Identifier');
  expect(text.stdout).toContain(`Serial Number: ${mallory.cert.serial.toUpperCase()}`);
  expect(text.stdout).toContain(`Serial Number: ${otherSerial.toUpperCase()}`);
  expect(text.stdout).toContain(`Serial Number: ${plainSerial.toUpperCase()}`);
  expect(text.stdout).toContain('Key Compromise');
  expect(text.stdout).toContain('Superseded');
  expect(text.stdout.match(/CRL Reason Code/g)).toHaveLength(2); // none for 'unspecified'
  expect(text.stdout).toContain('Last Update: Mar  1 12:00:00 2026 GMT');
  expect(text.stdout).toContain('Revocation Date: Mar  1 11:00:00 2026 GMT');
  expect(parseCrlSerials(der)).toEqual(entries.map((e) => e.serial));

  const revoked = await openssl([
    'verify',
    ...AT_TIME,
    '-crl_check',
    '-CRLfile',
    crlFile,
    '-CAfile',
    ca.file,
    mallory.file,
  ]);
  expect(revoked.code).not.toBe(0);
  expect(revoked.stdout + revoked.stderr).toContain('certificate revoked');
  const good = await openssl([
    'verify',
    ...AT_TIME,
    '-crl_check',
    '-CRLfile',
    crlFile,
    '-CAfile',
    ca.file,
    alice.file,
  ]);
  expect(good.stdout).toContain(': OK');
}

describe('buildCrl', () => {
  it('ecdsa-p256: openssl verifies the CRL and rejects the revoked client', () =>
    checkRevocation('ecdsa-p256'));
  it('ecdsa-p384: openssl verifies the CRL and rejects the revoked client', () =>
    checkRevocation('ecdsa-p384'));
  it('rsa-4096: openssl verifies the CRL and rejects the revoked client', () => checkRevocation('rsa-4096'));

  it('omits the revoked list when empty, handles big CRL numbers and post-2049 dates', async () => {
    const ca = await makeCa('ecdsa-p256');
    const der = buildCrl({
      caCertPem: ca.cert.certPem,
      caPrivateKeyPkcs8Der: ca.pkcs8,
      algorithm: 'ecdsa-p256',
      entries: [],
      crlNumber: 2n ** 80n + 1n,
      thisUpdate: NOW,
      nextUpdate: new Date('2051-06-01T00:00:00.999Z'),
    });
    const file = await tmp.file('empty.crl', der);
    const text = await openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', ca.file, '-noout', '-text']);
    expect(text.stderr + text.stdout).toContain('verify OK');
    expect(text.stdout).toContain('No Revoked Certificates.');
    expect(text.stdout).toContain('Next Update: Jun  1 00:00:00 2051 GMT');
    expect(text.stdout).toMatch(new RegExp(`CRL Number:\\s*\\n\\s*${(2n ** 80n + 1n).toString()}\\n`));
    expect(parseCrlSerials(der)).toEqual([]);
  });

  it('keeps one entry per serial and rejects a key that does not match the CA', async () => {
    const ca = await makeCa('ecdsa-p256');
    const serial = randomSerial();
    const der = crlFor(ca, 'ecdsa-p256', [
      { serial, revokedAt: NOW, reason: 'keyCompromise' },
      { serial: serial.toUpperCase(), revokedAt: NOW, reason: 'superseded' },
    ]);
    expect(parseCrlSerials(der)).toEqual([serial]);

    const other = await makeCa('ecdsa-p256');
    expect(() =>
      buildCrl({
        caCertPem: ca.cert.certPem,
        caPrivateKeyPkcs8Der: other.pkcs8,
        algorithm: 'ecdsa-p256',
        entries: [],
        crlNumber: 1n,
        thisUpdate: NOW,
        nextUpdate: NOW,
      }),
    ).toThrow(/does not match/);
    expect(() => crlFor(ca, 'ecdsa-p384', [])).toThrow(/not ecdsa-p384/);
  });

  it('builds 1k / 10k / 100k entry CRLs quickly, and openssl reads the 100k one', async () => {
    const ca = await makeCa('ecdsa-p256');
    const reasons = [
      'unspecified',
      'keyCompromise',
      'affiliationChanged',
      'superseded',
      'cessationOfOperation',
    ] as const;
    const all: CrlEntry[] = Array.from({ length: 100_000 }, (_, i) => ({
      serial: randomSerial(),
      revokedAt: new Date(NOW.getTime() - i * 1000),
      reason: reasons[i % reasons.length]!,
    }));
    let der: Buffer = Buffer.alloc(0);
    for (const n of [1_000, 10_000, 100_000]) {
      const t0 = performance.now();
      der = crlFor(ca, 'ecdsa-p256', all.slice(0, n));
      console.log(
        `[pki] CRL with ${n} entries built in ${(performance.now() - t0).toFixed(0)} ms (${der.length} bytes)`,
      );
    }
    const t1 = performance.now();
    const serials = parseCrlSerials(der);
    console.log(`[pki] parseCrlSerials(100k) in ${(performance.now() - t1).toFixed(0)} ms`);
    expect(serials).toEqual(all.map((e) => e.serial));

    const file = await tmp.file('big.crl', der);
    const t2 = performance.now();
    const text = await openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', ca.file, '-noout', '-text']);
    console.log(`[pki] openssl crl -text on 100k entries took ${(performance.now() - t2).toFixed(0)} ms`);
    expect(text.stderr + text.stdout).toContain('verify OK');
    expect(text.stdout.match(/Serial Number:/g)).toHaveLength(100_000);
  });
});

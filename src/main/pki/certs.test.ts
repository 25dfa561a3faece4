import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../../shared/validation';
import {
  algorithmOfCert,
  createCa,
  exportPrivateKeyPkcs8Der,
  importPrivateKey,
  issueClientCert,
  issueServerCert,
  privateKeyPem,
  randomSerial,
  summarizeCert,
  type IssuedCert,
  type KeyPair,
} from './index';
import { makeTempDir, openssl, type TempDir } from './openssl.testutil';

const NOW = new Date('2026-03-01T12:00:00.500Z');
const DAY = 86_400_000;

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.remove();
});

async function ca(alg: Algorithm, validityDays?: number): Promise<{ cert: IssuedCert; keys: KeyPair }> {
  return createCa({
    algorithm: alg,
    commonName: `Test CA ${alg}`,
    now: NOW,
    validityDays,
    serial: randomSerial(),
  });
}

const EXPECTED_SIG: Record<Algorithm, string> = {
  'ecdsa-p256': 'ecdsa-with-SHA256',
  'ecdsa-p384': 'ecdsa-with-SHA384',
  'rsa-4096': 'sha256WithRSAEncryption',
};

async function checkFullChain(alg: Algorithm): Promise<void> {
  const t0 = performance.now();
  const root = await ca(alg);
  const t1 = performance.now();
  const signer = { certPem: root.cert.certPem, privateKey: root.keys.privateKey };
  const client = await issueClientCert({
    ca: signer,
    algorithm: alg,
    commonName: 'alice@operators',
    notAfter: new Date(NOW.getTime() + 30 * DAY),
    now: NOW,
    serial: randomSerial(),
  });
  const t2 = performance.now();
  const server = await issueServerCert({
    ca: signer,
    algorithm: alg,
    hosts: ['gw.example.test', '127.0.0.1', '::1', 'fd00::10'],
    validityDays: 365,
    now: NOW,
    serial: randomSerial(),
  });
  const t3 = performance.now();
  console.log(
    `[pki] ${alg}: CA ${(t1 - t0).toFixed(1)} ms, client ${(t2 - t1).toFixed(1)} ms, server ${(t3 - t2).toFixed(1)} ms`,
  );

  const caFile = await tmp.file(`ca-${alg}.crt`, root.cert.certPem);
  const clientFile = await tmp.file(`client-${alg}.crt`, client.cert.certPem);
  const serverFile = await tmp.file(`server-${alg}.crt`, server.cert.certPem);

  const caText = await openssl(['x509', '-in', caFile, '-noout', '-text']);
  expect(caText.code).toBe(0);
  expect(caText.stdout).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
  expect(caText.stdout).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
  expect(caText.stdout).toContain('X509v3 Subject Key Identifier');
  expect(caText.stdout).toContain('X509v3 Authority Key Identifier');
  expect(caText.stdout).toContain(`Signature Algorithm: ${EXPECTED_SIG[alg]}`);

  const serverText = await openssl(['x509', '-in', serverFile, '-noout', '-text']);
  expect(serverText.stdout).toContain(
    'DNS:gw.example.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:0:10',
  );
  expect(serverText.stdout).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
  expect(serverText.stdout).toMatch(/CA:FALSE/);
  const serverUsage = alg === 'rsa-4096' ? 'Digital Signature, Key Encipherment' : 'Digital Signature\n';
  expect(serverText.stdout).toContain(`X509v3 Key Usage: critical\n                ${serverUsage}`);

  const clientText = await openssl(['x509', '-in', clientFile, '-noout', '-text']);
  expect(clientText.stdout).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication/);

  // The leaf's AKI must be the CA's SKI for chain building by key id.
  const skiOf = (text: string): string =>
    /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(text)?.[1] ?? 'none';
  const akiOf = (text: string): string =>
    /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1] ?? 'x';
  expect(akiOf(serverText.stdout)).toBe(skiOf(caText.stdout));
  expect(akiOf(clientText.stdout)).toBe(skiOf(caText.stdout));
  expect(akiOf(caText.stdout)).toBe(skiOf(caText.stdout));

  const atTime = ['-attime', String(Math.floor(NOW.getTime() / 1000))];
  const vClient = await openssl([
    'verify',
    ...atTime,
    '-purpose',
    'sslclient',
    '-CAfile',
    caFile,
    clientFile,
  ]);
  expect(vClient.stdout + vClient.stderr).toContain(': OK');
  expect(vClient.code).toBe(0);
  const vServer = await openssl([
    'verify',
    ...atTime,
    '-purpose',
    'sslserver',
    '-CAfile',
    caFile,
    serverFile,
  ]);
  expect(vServer.stdout + vServer.stderr).toContain(': OK');
  // Purposes are not interchangeable: a client cert must not pass as a server.
  const wrong = await openssl(['verify', ...atTime, '-purpose', 'sslserver', '-CAfile', caFile, clientFile]);
  expect(wrong.code).not.toBe(0);

  // The exported key is the one in the certificate.
  const keyFile = await tmp.file(
    `client-${alg}.key`,
    privateKeyPem(await exportPrivateKeyPkcs8Der(client.keys.privateKey)),
  );
  const fromKey = await openssl(['pkey', '-in', keyFile, '-pubout']);
  const fromCert = await openssl(['x509', '-in', clientFile, '-noout', '-pubkey']);
  expect(fromKey.code).toBe(0);
  expect(fromKey.stdout).toBe(fromCert.stdout);

  expect(algorithmOfCert(root.cert.certPem)).toBe(alg);
  expect(algorithmOfCert(client.cert.certPem)).toBe(alg);
  const summary = summarizeCert(server.cert.certPem);
  expect(summary).toMatchObject({
    subject: 'CN=gw.example.test',
    commonName: 'gw.example.test',
    serial: server.cert.serial,
    sans: ['gw.example.test', '127.0.0.1', '::1', 'fd00::10'],
    algorithm: alg,
    isCa: false,
    fingerprintSha256: server.cert.fingerprintSha256,
  });
  expect(summarizeCert(root.cert.certPem).isCa).toBe(true);
  const fp = await openssl(['x509', '-in', serverFile, '-noout', '-fingerprint', '-sha256']);
  expect(fp.stdout.trim().split('=')[1]?.replace(/:/g, '').toLowerCase()).toBe(server.cert.fingerprintSha256);
}

describe('certificates', () => {
  it('ecdsa-p256 CA, client and server pass openssl checks', () => checkFullChain('ecdsa-p256'));
  it('ecdsa-p384 CA, client and server pass openssl checks', () => checkFullChain('ecdsa-p384'));
  it('rsa-4096 CA, client and server pass openssl checks', () => checkFullChain('rsa-4096'));

  it('puts the client name into exactly one CN RDN', async () => {
    const root = await ca('ecdsa-p256');
    const signer = { certPem: root.cert.certPem, privateKey: root.keys.privateKey };
    const issue = (commonName: string) =>
      issueClientCert({
        ca: signer,
        algorithm: 'ecdsa-p256',
        commonName,
        notAfter: new Date(NOW.getTime() + DAY),
        now: NOW,
        serial: randomSerial(),
      });
    const alice = await issue('alice@operators');
    const aliceFile = await tmp.file('alice.crt', alice.cert.certPem);
    const subj = await openssl(['x509', '-in', aliceFile, '-noout', '-subject', '-nameopt', 'RFC2253']);
    expect(subj.stdout.trim()).toBe('subject=CN=alice@operators');
    expect(summarizeCert(alice.cert.certPem).subject).toBe('CN=alice@operators');

    const evil = await issue('bob,O=evil+OU=x');
    const evilFile = await tmp.file('evil.crt', evil.cert.certPem);
    const evilSubj = await openssl(['x509', '-in', evilFile, '-noout', '-subject', '-nameopt', 'RFC2253']);
    expect(evilSubj.stdout.trim()).toBe('subject=CN=bob\\,O=evil\\+OU=x');
    const multiline = await openssl(['x509', '-in', evilFile, '-noout', '-subject', '-nameopt', 'multiline']);
    expect(multiline.stdout.trim().split('\n').slice(1)).toEqual([
      '    commonName                = bob,O=evil+OU=x',
    ]);
    const summary = summarizeCert(evil.cert.certPem);
    expect(summary.commonName).toBe('bob,O=evil+OU=x');
    expect(summary.subject).toBe('CN=bob\\,O=evil\\+OU=x');
  });

  it('backdates notBefore one minute and clamps notAfter to the CA', async () => {
    const root = await ca('ecdsa-p256', 10);
    const signer = { certPem: root.cert.certPem, privateKey: root.keys.privateKey };
    const client = await issueClientCert({
      ca: signer,
      algorithm: 'ecdsa-p256',
      commonName: 'long-lived',
      notAfter: new Date(NOW.getTime() + 90 * DAY),
      now: NOW,
      serial: randomSerial(),
    });
    const server = await issueServerCert({
      ca: signer,
      algorithm: 'ecdsa-p256',
      hosts: ['gw.example.test'],
      validityDays: 365,
      now: NOW,
      serial: randomSerial(),
    });
    const wholeSecond = Math.floor(NOW.getTime() / 1000) * 1000;
    for (const issued of [client.cert, server.cert]) {
      expect(issued.notAfter.getTime()).toBe(root.cert.notAfter.getTime());
      expect(issued.notBefore.getTime()).toBe(wholeSecond - 60_000);
      const file = await tmp.file('clamped.crt', issued.certPem);
      const dates = await openssl(['x509', '-in', file, '-noout', '-startdate', '-enddate']);
      expect(dates.stdout).toContain('notBefore=Mar  1 11:59:00 2026 GMT');
      expect(dates.stdout).toContain('notAfter=Mar 11 12:00:00 2026 GMT');
    }
    // Within the CA's lifetime the requested dates are kept.
    const short = await issueServerCert({
      ca: signer,
      algorithm: 'ecdsa-p256',
      hosts: ['a.test'],
      validityDays: 2,
      now: NOW,
      serial: randomSerial(),
    });
    expect(short.cert.notAfter.getTime()).toBe(wholeSecond + 2 * DAY);
  });

  it('reports serials exactly as openssl prints them (200 certs)', async () => {
    const root = await ca('ecdsa-p256');
    const signer = { certPem: root.cert.certPem, privateKey: root.keys.privateKey };
    const t0 = performance.now();
    const issued: IssuedCert[] = [];
    for (let i = 0; i < 200; i++) {
      const serial = randomSerial();
      const { cert } = await issueClientCert({
        ca: signer,
        algorithm: 'ecdsa-p256',
        commonName: `c${i}`,
        notAfter: new Date(NOW.getTime() + DAY),
        now: NOW,
        serial,
      });
      expect(cert.serial).toBe(serial);
      issued.push(cert);
    }
    console.log(`[pki] 200 ecdsa-p256 client certs issued in ${(performance.now() - t0).toFixed(0)} ms`);
    // One openssl process for all 200 (each spawn costs ~30 ms), plus `x509 -serial` on a sample.
    const bundle = await tmp.file('serials.pem', issued.map((c) => c.certPem).join(''));
    const p7 = `${tmp.path}/serials.p7b`;
    expect((await openssl(['crl2pkcs7', '-nocrl', '-certfile', bundle, '-out', p7])).code).toBe(0);
    const text = await openssl(['pkcs7', '-in', p7, '-print_certs', '-text', '-noout']);
    const fromText = [...text.stdout.matchAll(/Serial Number:\s*\n\s*([0-9a-f:]+)/g)].map((m) =>
      m[1]!.replace(/:/g, ''),
    );
    expect(fromText).toEqual(issued.map((c) => c.serial));
    for (const [i, cert] of issued.slice(0, 10).entries()) {
      const file = await tmp.file(`serial-${i}.crt`, cert.certPem);
      const printed = (await openssl(['x509', '-in', file, '-noout', '-serial'])).stdout.trim();
      expect(printed.replace(/^serial=/, '').toLowerCase()).toBe(cert.serial);
    }
  });

  it('signs with a CA made by openssl and imported from PKCS#8', async () => {
    const keyFile = `${tmp.path}/ossl-ca.key`;
    const certFile = `${tmp.path}/ossl-ca.crt`;
    const req = await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/O=Seed Org/CN=Seed CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    expect(req.code).toBe(0);
    const der = await openssl([
      'pkcs8',
      '-topk8',
      '-nocrypt',
      '-in',
      keyFile,
      '-outform',
      'DER',
      '-out',
      `${keyFile}.der`,
    ]);
    expect(der.code).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const caPem = await readFile(certFile, 'utf8');
    const privateKey = await importPrivateKey(await readFile(`${keyFile}.der`), algorithmOfCert(caPem));
    const now = new Date();
    const client = await issueClientCert({
      ca: { certPem: caPem, privateKey },
      algorithm: 'ecdsa-p256',
      commonName: 'carol',
      notAfter: new Date(now.getTime() + DAY),
      now,
      serial: randomSerial(),
    });
    const clientFile = await tmp.file('carol.crt', client.cert.certPem);
    const v = await openssl(['verify', '-purpose', 'sslclient', '-CAfile', certFile, clientFile]);
    expect(v.stdout).toContain(': OK');
    expect(summarizeCert(caPem).subject).toBe('CN=Seed CA,O=Seed Org');
  });
});

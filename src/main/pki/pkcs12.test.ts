import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildPkcs12,
  createCa,
  exportPrivateKeyPkcs8Der,
  issueClientCert,
  issueServerCert,
  privateKeyPem,
  randomSerial,
  type IssuedCert,
} from './index';
import { makeTempDir, OPENSSL, openssl, type TempDir } from './openssl.testutil';

const DAY = 86_400_000;
const PASSWORD = 'correct horse battery staple';

let tmp: TempDir;
let caCert: IssuedCert;
let caFile: string;
let clientCert: IssuedCert;
let clientPkcs8: Buffer;
let signer: { certPem: string; privateKey: CryptoKey };

beforeAll(async () => {
  tmp = await makeTempDir();
  const now = new Date();
  const ca = await createCa({ algorithm: 'ecdsa-p256', commonName: 'P12 CA', now, serial: randomSerial() });
  caCert = ca.cert;
  caFile = await tmp.file('ca.crt', caCert.certPem);
  signer = { certPem: caCert.certPem, privateKey: ca.keys.privateKey };
  const client = await issueClientCert({
    ca: signer,
    algorithm: 'ecdsa-p256',
    commonName: 'alice@operators',
    notAfter: new Date(now.getTime() + 30 * DAY),
    now,
    serial: randomSerial(),
  });
  clientCert = client.cert;
  clientPkcs8 = await exportPrivateKeyPkcs8Der(client.keys.privateKey);
});
afterAll(async () => {
  await tmp.remove();
});

async function p12(password = PASSWORD): Promise<string> {
  const t0 = performance.now();
  const der = await buildPkcs12({
    certPem: clientCert.certPem,
    privateKeyPkcs8Der: clientPkcs8,
    caCertPem: caCert.certPem,
    password,
    friendlyName: 'alice@operators',
  });
  console.log(`[pki] buildPkcs12 took ${(performance.now() - t0).toFixed(0)} ms`);
  return tmp.file(`alice-${randomSerial()}.p12`, der);
}

describe('buildPkcs12', () => {
  it('opens in OpenSSL 3 without -legacy and holds key, cert and CA cert', async () => {
    const file = await p12();
    const out = await openssl(['pkcs12', '-in', file, '-passin', `pass:${PASSWORD}`, '-nodes']);
    expect(out.code).toBe(0);
    expect(out.stdout.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(out.stdout).toContain('-----BEGIN PRIVATE KEY-----');
    expect(out.stdout).toContain('friendlyName: alice@operators');
    expect(out.stdout).toContain('subject=CN = alice@operators');
    expect(out.stdout).toContain('subject=CN = P12 CA');

    // The bundled key is the client's key.
    const keyOnly = await openssl([
      'pkcs12',
      '-in',
      file,
      '-passin',
      `pass:${PASSWORD}`,
      '-nodes',
      '-nocerts',
    ]);
    const keyFile = await tmp.file('from-p12.key', keyOnly.stdout);
    const pub = await openssl(['pkey', '-in', keyFile, '-pubout']);
    const origKey = await tmp.file('orig.key', privateKeyPem(clientPkcs8));
    expect(pub.stdout).toBe((await openssl(['pkey', '-in', origKey, '-pubout'])).stdout);
  });

  it('uses PBES2 / AES-256-CBC / PBKDF2-SHA256 and a SHA-256 MAC', async () => {
    const file = await p12();
    const info = await openssl(['pkcs12', '-in', file, '-passin', `pass:${PASSWORD}`, '-info', '-noout']);
    expect(info.code).toBe(0);
    const text = info.stdout + info.stderr;
    expect(text).toMatch(/MAC: sha256/);
    expect(text).toContain('Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC');
    expect(text).toContain('PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC');
    expect(text).toContain('PRF hmacWithSHA256');
    expect(text).not.toMatch(/RC2|3DES|SHA1 /i);
  });

  it('fails with a wrong password', async () => {
    const file = await p12();
    const out = await openssl(['pkcs12', '-in', file, '-passin', 'pass:wrong', '-nodes']);
    expect(out.code).not.toBe(0);
    expect(out.stdout).not.toContain('PRIVATE KEY');
  });

  it('works with a non-ASCII password', async () => {
    const password = 'pässwörd-ключ';
    const file = await p12(password);
    const out = await openssl(['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('-----BEGIN PRIVATE KEY-----');
  });

  it('is accepted by curl --cert-type P12 for a real mTLS handshake', async () => {
    const server = await issueServerCert({
      ca: signer,
      algorithm: 'ecdsa-p256',
      hosts: ['localhost', '127.0.0.1'],
      validityDays: 1,
      now: new Date(),
      serial: randomSerial(),
    });
    const serverCrt = await tmp.file('server.crt', server.cert.certPem);
    const serverKey = await tmp.file(
      'server.key',
      privateKeyPem(await exportPrivateKeyPkcs8Der(server.keys.privateKey)),
    );
    const file = await p12();
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    // -Verify 1 makes the client certificate mandatory, so a completed request proves curl sent it.
    const child = spawn(OPENSSL, [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      serverCrt,
      '-key',
      serverKey,
      '-CAfile',
      caFile,
      '-Verify',
      '1',
      '-verify_return_error',
      '-www',
      '-naccept',
      '1',
    ]);
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ACCEPT')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`s_server exited early (${code})`)));
      });
      const result = await new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          'curl',
          [
            '-sS',
            '--cacert',
            caFile,
            '--cert',
            `${file}:${PASSWORD}`,
            '--cert-type',
            'P12',
            `https://localhost:${port}/`,
          ],
          (error, stdout, stderr) => resolve({ code: error ? 1 : 0, out: String(stdout) + String(stderr) }),
        );
      });
      expect(result.out).toContain('alice@operators');
      expect(result.code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill();
    }
  });
});

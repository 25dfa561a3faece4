import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { findBinary, missingPeerNote, runPeer, startMtlsServer } from '../../../test/helpers/peers';
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
import { makeTempDir, openssl, type TempDir } from './openssl.testutil';

const DAY = 86_400_000;
const PASSWORD = 'correct horse battery staple';

let tmp: TempDir;
let caCert: IssuedCert;
let caFile: string;
let clientCert: IssuedCert;
let clientPkcs8: Buffer;
let signer: { certPem: string; privateKey: CryptoKey };
let serverFiles: { certFile: string; keyFile: string };

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
  const server = await issueServerCert({
    ca: signer,
    algorithm: 'ecdsa-p256',
    hosts: ['localhost', '127.0.0.1'],
    validityDays: 1,
    now,
    serial: randomSerial(),
  });
  serverFiles = {
    certFile: await tmp.file('server.crt', server.cert.certPem),
    keyFile: await tmp.file(
      'server.key',
      privateKeyPem(await exportPrivateKeyPkcs8Der(server.keys.privateKey)),
    ),
  };
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

/** An s_server that requires a client certificate from our CA and names it on its status page. */
function mtlsServer() {
  return startMtlsServer({ ...serverFiles, caFile });
}

/** The peer's path, or a skip naming the package to install. */
function peer(ctx: TestContext, name: string): string {
  const found = findBinary(name);
  if (found === null) ctx.skip(missingPeerNote(name));
  return found as string;
}

/**
 * Walks a DER tree, descending into OCTET STRINGs that hold DER themselves (the PFX nests its
 * contents that way), and reports what is not DER: indefinite lengths, constructed strings.
 */
function berProblems(der: ArrayBuffer, where = 'PFX'): string[] {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset !== der.byteLength) return [`${where}: trailing or unparsable bytes`];
  const problems: string[] = [];
  const visit = (node: asn1js.AsnType, at: string): void => {
    const block = node as asn1js.BaseBlock;
    if (block.lenBlock.isIndefiniteForm) problems.push(`${at}: indefinite length`);
    const isOctets = block.idBlock.tagClass === 1 && block.idBlock.tagNumber === 4;
    if (isOctets && block.idBlock.isConstructed) problems.push(`${at}: constructed OCTET STRING`);
    const children = (block.valueBlock as { value?: unknown }).value;
    if (block.idBlock.isConstructed && Array.isArray(children)) {
      children.forEach((c: asn1js.AsnType, i) => visit(c, `${at}/${i}`));
    } else if (isOctets && node instanceof asn1js.OctetString) {
      const inner = node.valueBlock.valueHexView;
      const nested = asn1js.fromBER(inner);
      if (nested.offset === inner.byteLength && nested.result instanceof asn1js.Sequence) {
        problems.push(...berProblems(new Uint8Array(inner).buffer, `${at}>`));
      }
    }
  };
  visit(parsed.result, where);
  return problems;
}

function view(octets: unknown): ArrayBuffer {
  if (!(octets instanceof asn1js.OctetString)) throw new Error('expected an OCTET STRING');
  return new Uint8Array(octets.valueBlock.valueHexView).buffer;
}

function pbes2Salt(alg: pkijs.AlgorithmIdentifier): number {
  const params = new pkijs.PBES2Params({ schema: alg.algorithmParams });
  const kdf = new pkijs.PBKDF2Params({ schema: params.keyDerivationFunc.algorithmParams });
  return view(kdf.salt).byteLength;
}

/** What GnuTLS is strict about: where the encrypted bytes sit, and how long each salt is. */
function inspect(der: Buffer) {
  const pfx = pkijs.PFX.fromBER(new Uint8Array(der).buffer);
  const safe = pkijs.AuthenticatedSafe.fromBER(view(pfx.authSafe.content));
  const [plain, encrypted] = safe.safeContents;
  const keyBag = pkijs.SafeContents.fromBER(view(plain?.content)).safeBags[0]?.bagValue;
  if (!(keyBag instanceof pkijs.PKCS8ShroudedKeyBag)) throw new Error('first bag is not a shrouded key');
  const certs = new pkijs.EncryptedData({ schema: encrypted?.content }).encryptedContentInfo;
  return {
    keyBagCiphertextConstructed: keyBag.encryptedData.idBlock.isConstructed,
    certsCiphertextConstructed: certs.encryptedContent?.idBlock.isConstructed,
    macSalt: view(pfx.macData?.macSalt).byteLength,
    pbes2Salts: [pbes2Salt(keyBag.encryptionAlgorithm), pbes2Salt(certs.contentEncryptionAlgorithm)],
  };
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

  it('is strict DER with primitive ciphertexts and 8 to 16 byte salts (what GnuTLS insists on)', async () => {
    const file = await p12();
    const der = await readFile(file);
    expect(berProblems(new Uint8Array(der).buffer)).toEqual([]);
    const shape = inspect(der);
    expect(shape.keyBagCiphertextConstructed).toBe(false);
    expect(shape.certsCiphertextConstructed).toBe(false);
    for (const salt of [shape.macSalt, ...shape.pbes2Salts]) {
      expect(salt).toBeGreaterThanOrEqual(8);
      expect(salt).toBeLessThanOrEqual(16);
    }
    const info = await openssl(['pkcs12', '-in', file, '-passin', `pass:${PASSWORD}`, '-info', '-noout']);
    expect(info.stdout + info.stderr).toMatch(/MAC length: 32, salt length: 16/);
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
    const file = await p12();
    const server = await mtlsServer();
    try {
      const result = await runPeer('curl', [
        '-sS',
        '--cacert',
        caFile,
        '--cert',
        `${file}:${PASSWORD}`,
        '--cert-type',
        'P12',
        `https://localhost:${server.port}/`,
      ]);
      expect(result.stdout + result.stderr).toContain('alice@operators');
      expect(result.code).toBe(0);
    } finally {
      server.stop();
    }
  });
});

describe('PKCS#12 in every consumer (issue 9)', () => {
  it('GnuTLS: certtool --p12-info reads it without complaint, and only with the password', async (ctx) => {
    const certtool = peer(ctx, 'certtool');
    const file = await p12();
    const info = await runPeer(certtool, ['--p12-info', '--inder', '--infile', file, '--password', PASSWORD]);
    const text = info.stdout + info.stderr;
    expect(info.code, text).toBe(0);
    expect(text).not.toMatch(/error|too short|warning/i);
    expect(text).toContain('Type: PKCS #8 Encrypted key');
    expect(text.match(/Type: Certificate/g)).toHaveLength(2);
    expect(text).toMatch(/MAC: SHA256/);
    const wrong = await runPeer(certtool, ['--p12-info', '--inder', '--infile', file, '--password', 'wrong']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout + wrong.stderr).toMatch(/MAC verification failed|Message Authentication Code/);
  });

  it('GnuTLS: gnutls_certificate_set_x509_simple_pkcs12_file loads it (the call that failed in issue 9)', async (ctx) => {
    const python = peer(ctx, 'python3');
    peer(ctx, 'certtool'); // libgnutls comes with it
    // gnutls-cli takes no password for a .p12, so the library call is made directly through ctypes.
    const script = [
      'import ctypes, sys',
      "g = ctypes.CDLL('libgnutls.so.30')",
      'g.gnutls_strerror.restype = ctypes.c_char_p',
      'cred = ctypes.c_void_p()',
      'assert g.gnutls_certificate_allocate_credentials(ctypes.byref(cred)) == 0',
      'rc = g.gnutls_certificate_set_x509_simple_pkcs12_file(cred, sys.argv[1].encode(), 0, sys.argv[2].encode())',
      'print(rc, g.gnutls_strerror(rc).decode())',
      'sys.exit(0 if rc == 0 else 1)',
    ].join('\n');
    for (const password of [PASSWORD, 'pässwörd-ключ']) {
      const file = await p12(password);
      const r = await runPeer(python, ['-c', script, file, password]);
      expect(r.stdout.trim(), r.stderr).toBe('0 Success.');
    }
  });

  it('GnuTLS: gnutls-cli completes a mutual TLS handshake with the key and certificate from it', async (ctx) => {
    const certtool = peer(ctx, 'certtool');
    const gnutlsCli = peer(ctx, 'gnutls-cli');
    const file = await p12();
    // certtool opens the .p12 (MAC, encrypted certificate bag); the key stays PBES2-encrypted and
    // gnutls-cli decrypts it itself with the password from GNUTLS_PIN.
    const bagsFile = join(tmp.path, `bags-${randomSerial()}.pem`);
    const info = await runPeer(certtool, [
      '--p12-info',
      '--inder',
      '--infile',
      file,
      '--password',
      PASSWORD,
      '--outfile',
      bagsFile,
    ]);
    expect(info.code, info.stderr).toBe(0);
    const bags = await readFile(bagsFile, 'utf8');
    const keyFile = await tmp.file(
      `enc-${randomSerial()}.pem`,
      /-----BEGIN ENCRYPTED PRIVATE KEY-----[\s\S]+?-----END ENCRYPTED PRIVATE KEY-----\n/.exec(bags)?.[0] ??
        '',
    );
    const certsFile = await tmp.file(
      `chain-${randomSerial()}.pem`,
      (bags.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? []).join(''),
    );
    const server = await mtlsServer();
    try {
      const r = await runPeer(
        gnutlsCli,
        [
          '--x509cafile',
          caFile,
          '--x509keyfile',
          keyFile,
          '--x509certfile',
          certsFile,
          '-p',
          String(server.port),
          'localhost',
        ],
        { input: 'GET / HTTP/1.0\r\n\r\n', env: { GNUTLS_PIN: PASSWORD } },
      );
      const text = r.stdout + r.stderr;
      expect(text).toContain('Handshake was completed');
      expect(text).toContain('HTTP/1.0 200 ok');
      // s_server's page names the client certificate it verified.
      expect(text).toContain('alice@operators');
    } finally {
      server.stop();
    }
  });

  it('NSS: pk12util imports key and certificates into an NSS database', async (ctx) => {
    const pk12util = peer(ctx, 'pk12util');
    const certutil = peer(ctx, 'certutil');
    for (const password of [PASSWORD, 'pässwörd-ключ']) {
      const file = await p12(password);
      const db = join(tmp.path, `nss-${randomSerial()}`);
      await mkdir(db);
      expect((await runPeer(certutil, ['-N', '--empty-password', '-d', `sql:${db}`])).code).toBe(0);
      const imported = await runPeer(pk12util, ['-i', file, '-d', `sql:${db}`, '-W', password]);
      expect(imported.stdout + imported.stderr).toContain('PKCS12 IMPORT SUCCESSFUL');
      expect(imported.code).toBe(0);
      const certs = await runPeer(certutil, ['-L', '-d', `sql:${db}`]);
      expect(certs.stdout).toMatch(/alice@operators\s+u,u,u/);
      expect(certs.stdout).toContain('P12 CA');
      const keys = await runPeer(certutil, ['-K', '-d', `sql:${db}`]);
      expect(keys.stdout).toMatch(/ec\s+[0-9a-f]+\s+alice@operators/);
    }
    const wrong = await p12();
    const db = join(tmp.path, `nss-${randomSerial()}`);
    await mkdir(db);
    await runPeer(certutil, ['-N', '--empty-password', '-d', `sql:${db}`]);
    const refused = await runPeer(pk12util, ['-i', wrong, '-d', `sql:${db}`, '-W', 'wrong']);
    expect(refused.code).not.toBe(0);
  });

  it('Java: keytool lists one private key entry with its two-certificate chain', async (ctx) => {
    const keytool = peer(ctx, 'keytool');
    // ASCII only: keytool cannot open a non-ASCII-password PKCS#12, not even one OpenSSL wrote.
    const file = await p12();
    const r = await runPeer(keytool, [
      '-list',
      '-v',
      '-storetype',
      'PKCS12',
      '-keystore',
      file,
      '-storepass',
      PASSWORD,
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Your keystore contains 1 entry');
    expect(r.stdout).toContain('Alias name: alice@operators');
    expect(r.stdout).toContain('Entry type: PrivateKeyEntry');
    expect(r.stdout).toContain('Certificate chain length: 2');
    expect(r.stdout).toContain('Issuer: CN=P12 CA');
  });
});

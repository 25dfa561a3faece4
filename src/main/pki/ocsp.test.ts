import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../../shared/validation';
import { createCa, issueClientCert, issueOcspResponderCert, type IssuedCert } from './certs';
import { certDerToPem } from './info';
import type { KeyPair } from './keys';
import { answerOcsp, ocspIssuer, type OcspCertStatus, type OcspSigner } from './ocsp';
import { randomSerial } from './serial';
import { toKeyObject } from './webcrypto';
import { makeTempDir, openssl, type TempDir } from './openssl.testutil';

const DAY = 86_400_000;
let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.remove();
});

interface Pki {
  ca: { cert: IssuedCert; keys: KeyPair; file: string };
  signer: OcspSigner;
  issue(name: string): Promise<{ serial: string; file: string }>;
}

async function makePki(alg: Algorithm, tag: string): Promise<Pki> {
  const now = new Date();
  const ca = await createCa({ algorithm: alg, commonName: `OCSP CA ${tag}`, now, serial: randomSerial() });
  const signing = { certPem: ca.cert.certPem, privateKey: ca.keys.privateKey };
  const responder = await issueOcspResponderCert({
    ca: signing,
    algorithm: alg,
    commonName: `OCSP CA ${tag} responder`,
    validityMs: 30 * DAY,
    now,
    serial: randomSerial(),
  });
  return {
    ca: { ...ca, file: await tmp.file(`ca-${tag}.crt`, ca.cert.certPem) },
    signer: {
      certDer: responder.cert.certDer,
      key: toKeyObject(responder.keys.privateKey),
      algorithm: alg,
      notAfter: responder.cert.notAfter,
    },
    async issue(name) {
      const { cert } = await issueClientCert({
        ca: signing,
        algorithm: 'ecdsa-p256',
        commonName: name,
        notAfter: new Date(now.getTime() + DAY),
        now,
        serial: randomSerial(),
      });
      return { serial: cert.serial, file: await tmp.file(`${tag}-${name}.crt`, cert.certPem) };
    },
  };
}

/** Runs the responder on a request file; writes the response beside it. */
async function respond(
  pki: Pki,
  reqFile: string,
  status: (serial: string) => OcspCertStatus,
): Promise<string> {
  const { response } = answerOcsp(await readFile(reqFile), {
    issuer: ocspIssuer(pki.ca.cert.certPem),
    signer: pki.signer,
    status,
    now: new Date(),
    validityMs: 5 * 60_000,
  });
  return tmp.file(`${reqFile.split('/').pop()}.resp`, response);
}

describe.each<Algorithm>(['ecdsa-p256', 'ecdsa-p384', 'rsa-4096'])('OCSP responder (%s)', (alg) => {
  it('answers good, revoked with time and reason, and unknown; openssl verifies the delegated signature and the nonce', async () => {
    const pki = await makePki(alg, alg);
    const good = await pki.issue('good');
    const revoked = await pki.issue('revoked');
    const stranger = await pki.issue('never-registered');
    const revokedAt = new Date('2026-02-01T10:20:30Z');
    const status = (serial: string): OcspCertStatus =>
      serial === good.serial
        ? { kind: 'good' }
        : serial === revoked.serial
          ? { kind: 'revoked', revokedAt, reason: 'keyCompromise' }
          : { kind: 'unknown' };
    const req = join(tmp.path, `${alg}.req`);
    const made = await openssl([
      'ocsp',
      '-issuer',
      pki.ca.file,
      '-cert',
      good.file,
      '-cert',
      revoked.file,
      '-cert',
      stranger.file,
      '-reqout',
      req,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const resp = await respond(pki, req, status);

    // -reqin checks the nonce; -CAfile with the CA alone: the responder cert must chain to it and carry OCSPSigning.
    const checked = await openssl([
      'ocsp',
      '-reqin',
      req,
      '-respin',
      resp,
      '-CAfile',
      pki.ca.file,
      '-resp_text',
    ]);
    expect(checked.code, checked.stderr + checked.stdout).toBe(0);
    expect(checked.stderr).toContain('Response verify OK');
    expect(checked.stderr).not.toMatch(/nonce/i);
    expect(checked.stdout).toContain('OCSP Nonce');
    expect(checked.stdout).toContain(`Serial Number: ${good.serial.toUpperCase()}\n    Cert Status: good`);
    expect(checked.stdout).toContain(
      `Serial Number: ${revoked.serial.toUpperCase()}\n    Cert Status: revoked\n    Revocation Time: Feb  1 10:20:30 2026 GMT\n    Revocation Reason: keyCompromise (0x1)`,
    );
    expect(checked.stdout).toContain(
      `Serial Number: ${stranger.serial.toUpperCase()}\n    Cert Status: unknown`,
    );

    // The per-certificate summary, as an operator would ask for it.
    const summary = await openssl([
      'ocsp',
      '-respin',
      resp,
      '-issuer',
      pki.ca.file,
      '-cert',
      revoked.file,
      '-CAfile',
      pki.ca.file,
      '-no_nonce',
    ]);
    expect(summary.code, summary.stderr).toBe(0);
    expect(summary.stdout).toMatch(
      /: revoked\n.*This Update: .*\n.*Next Update: .*\n.*Reason: keyCompromise/,
    );
  });
});

describe('OCSP responder refusals', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await makePki('ecdsa-p256', 'refusals');
  });

  it('answers unknown for a certificate of another issuer, and never looks it up', async () => {
    const other = await makePki('ecdsa-p256', 'other');
    const foreign = await other.issue('foreign');
    const req = join(tmp.path, 'foreign.req');
    expect(
      (await openssl(['ocsp', '-issuer', other.ca.file, '-cert', foreign.file, '-reqout', req])).code,
    ).toBe(0);
    const looked: string[] = [];
    const resp = await respond(pki, req, (serial) => {
      looked.push(serial);
      return { kind: 'good' };
    });
    const text = await openssl(['ocsp', '-respin', resp, '-resp_text', '-noverify']);
    expect(text.stdout).toContain('Cert Status: unknown');
    expect(looked).toEqual([]);
  });

  it('answers malformedRequest, unsigned, for bytes that are not a request', async () => {
    const req = await tmp.file('garbage.req', Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const resp = await respond(pki, req, () => ({ kind: 'good' }));
    const text = await openssl(['ocsp', '-respin', resp, '-resp_text', '-noverify']);
    expect(text.stdout + text.stderr).toMatch(/malformedrequest \(1\)/i);
  });

  it('refuses a nonce longer than 32 octets (RFC 8954) and echoes a 32-octet one', async () => {
    const good = await pki.issue('nonce');
    const certId = async (): Promise<pkijs.CertID> => {
      const certFile = await readFile(good.file, 'utf8');
      const der = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      const parse = (b: Buffer) =>
        new pkijs.Certificate({ schema: asn1js.fromBER(new Uint8Array(b)).result });
      const id = new pkijs.CertID();
      await id.createForCertificate(
        parse(der(certFile)),
        { hashAlgorithm: 'SHA-1', issuerCertificate: parse(pki.ca.cert.certDer) },
        new pkijs.CryptoEngine({ name: 'node', crypto: globalThis.crypto }),
      );
      return id;
    };
    const request = async (nonceLength: number): Promise<Buffer> => {
      const nonce = new asn1js.OctetString({ valueHex: new Uint8Array(nonceLength).fill(7).buffer });
      const r = new pkijs.OCSPRequest();
      r.tbsRequest.requestList = [new pkijs.Request({ reqCert: await certId() })];
      r.tbsRequest.requestExtensions = [
        new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: nonce.toBER(false) }),
      ];
      return Buffer.from(r.toSchema(true).toBER(false));
    };
    const opts = {
      issuer: ocspIssuer(pki.ca.cert.certPem),
      signer: pki.signer,
      status: (): OcspCertStatus => ({ kind: 'good' }),
      now: new Date(),
      validityMs: 60_000,
    };
    expect(answerOcsp(await request(33), opts).malformed).toMatch(/nonce of 33 octets/);
    const ok = answerOcsp(await request(32), opts);
    expect(ok.malformed).toBeUndefined();
    const file = await tmp.file('nonce32.resp', ok.response);
    const text = await openssl(['ocsp', '-respin', file, '-resp_text', '-CAfile', pki.ca.file]);
    expect(text.stdout).toMatch(new RegExp(`OCSP Nonce: \\s+0420${'07'.repeat(32)}\\s`));
  });

  it('refuses a request about more certificates than one response should sign', async () => {
    const files = await Promise.all(Array.from({ length: 17 }, (_, i) => pki.issue(`many-${i}`)));
    const req = join(tmp.path, 'many.req');
    const made = await openssl([
      'ocsp',
      '-issuer',
      pki.ca.file,
      ...files.flatMap((f) => ['-cert', f.file]),
      '-reqout',
      req,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const { malformed } = answerOcsp(await readFile(req), {
      issuer: ocspIssuer(pki.ca.cert.certPem),
      signer: pki.signer,
      status: () => ({ kind: 'good' }),
      now: new Date(),
      validityMs: 60_000,
    });
    expect(malformed).toMatch(/17 certificates/);
  });

  it('issues the responder certificate with OCSPSigning, nocheck and no distribution URLs', async () => {
    const file = await tmp.file('responder.crt', certDerToPem(pki.signer.certDer));
    const text = await openssl(['x509', '-in', file, '-noout', '-text']);
    expect(text.stdout).toContain('OCSP Signing');
    expect(text.stdout).toContain('OCSP No Check');
    expect(text.stdout).toContain('Digital Signature');
    expect(text.stdout).not.toContain('CRL Distribution');
    expect(text.stdout).not.toContain('Authority Information Access');
    const days = (pki.signer.notAfter.getTime() - Date.now()) / DAY;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const purpose = await openssl(['verify', '-CAfile', pki.ca.file, '-purpose', 'ocsphelper', file]);
    expect(purpose.code, purpose.stderr).toBe(0);
  });
});

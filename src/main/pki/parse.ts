/** Decodes a certificate once into the pieces the builders and the summary need. */
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  id_ce_basicConstraints,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  Name,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { integerContentToHex } from './der';
import { pemToDer } from './pem';

export interface ParsedCert {
  der: Buffer;
  cert: Certificate;
  subject: Name;
  /** Exact DER of the subject, reused as the issuer of certs/CRLs this cert signs. */
  subjectDer: Buffer;
  spkiDer: Buffer;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** Subject key identifier from the extension, or RFC 5280 method 1 when the cert lacks one. */
  subjectKeyId: Buffer;
  isCa: boolean;
  sans: string[];
}

export function certDer(cert: string | Buffer): Buffer {
  return typeof cert === 'string' ? pemToDer(cert, 'CERTIFICATE') : cert;
}

export function keyIdOfSpki(spkiBits: ArrayBuffer): Buffer {
  return createHash('sha1').update(Buffer.from(spkiBits)).digest();
}

export function parseCertificate(input: string | Buffer): ParsedCert {
  const der = certDer(input);
  const cert = AsnConvert.parse(der, Certificate);
  const tbs = cert.tbsCertificate;
  const exts = tbs.extensions ?? [];
  const ext = (oid: string): ArrayBuffer | undefined => exts.find((e) => e.extnID === oid)?.extnValue.buffer;

  const skiRaw = ext(id_ce_subjectKeyIdentifier);
  const subjectKeyId = skiRaw
    ? Buffer.from(AsnConvert.parse(skiRaw, SubjectKeyIdentifier).buffer)
    : keyIdOfSpki(tbs.subjectPublicKeyInfo.subjectPublicKey);

  const bcRaw = ext(id_ce_basicConstraints);
  const isCa = bcRaw ? AsnConvert.parse(bcRaw, BasicConstraints).cA : false;

  const sanRaw = ext(id_ce_subjectAltName);
  const sans: string[] = [];
  if (sanRaw) {
    for (const gn of AsnConvert.parse(sanRaw, SubjectAlternativeName)) {
      if (gn.dNSName !== undefined) sans.push(gn.dNSName);
      else if (gn.iPAddress !== undefined) sans.push(gn.iPAddress);
    }
  }

  return {
    der,
    cert,
    subject: tbs.subject,
    subjectDer: Buffer.from(AsnConvert.serialize(tbs.subject)),
    spkiDer: Buffer.from(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
    serial: integerContentToHex(new Uint8Array(tbs.serialNumber)),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    subjectKeyId,
    isCa,
    sans,
  };
}

/** Read-only views of certificates for the UI, CLI and registry. */
import { createHash, createPublicKey } from 'node:crypto';
import type { Name } from '@peculiar/asn1-x509';
import type { Algorithm } from '../../shared/validation';
import { algorithmOfKeyObject } from './algorithms';
import { parseCertificate } from './parse';
import { derToPem, pemToDer } from './pem';

export interface CertSummary {
  /** RFC 4514 string, e.g. "CN=alice@operators". */
  subject: string;
  commonName: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  sans: string[];
  fingerprintSha256: string;
  algorithm: Algorithm;
  isCa: boolean;
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** RFC 4514 §2.4 escaping, so a value containing `,` or `+` cannot be misread as extra RDNs. */
function escapeDnValue(value: string): string {
  return value
    .replace(/[\\,+"<>;]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
    .replace(/\0/g, '\\00');
}

/** RFC 4514 order: most specific RDN first, i.e. the reverse of the DER sequence. */
export function formatName(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      [...rdn]
        .map((atv) => `${SHORT_NAMES[atv.type] ?? atv.type}=${escapeDnValue(atv.value.toString())}`)
        .join('+'),
    )
    .join(',');
}

function commonNameOf(name: Name): string {
  let cn = '';
  for (const rdn of name) for (const atv of rdn) if (atv.type === '2.5.4.3') cn = atv.value.toString();
  return cn;
}

export function fingerprintSha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

export function summarizeCert(certPem: string): CertSummary {
  const p = parseCertificate(certPem);
  return {
    subject: formatName(p.subject),
    commonName: commonNameOf(p.subject),
    serial: p.serial,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    sans: p.sans,
    fingerprintSha256: fingerprintSha256(p.der),
    algorithm: algorithmOfKeyObject(createPublicKey({ key: p.spkiDer, format: 'der', type: 'spki' })),
    isCa: p.isCa,
  };
}

export function certDerToPem(der: Buffer): string {
  return derToPem(der, 'CERTIFICATE');
}

export function certPemToDer(pem: string): Buffer {
  return pemToDer(pem, 'CERTIFICATE');
}

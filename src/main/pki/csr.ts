/**
 * Checks a PKCS#10 certificate signing request (RFC 2986) before the CA signs its key. The CSR's
 * own signature proves the requester holds the private key; everything else in it (subject,
 * requested extensions) is ignored, since the console decides the name and the extensions.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { formatName } from './info';

/** Large enough for an RSA-16384 request with attributes; anything bigger is not a CSR. */
export const MAX_CSR_BYTES = 64 * 1024;
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 16384;
const MAX_SUBJECT_CHARS = 256;

/** PKCS#1 v1.5 and ECDSA signatures (RFC 4055, RFC 5758), named by the hash node:crypto takes. */
const SIGNATURES: Readonly<Record<string, { key: 'rsa' | 'ec'; hash: string }>> = {
  '1.2.840.113549.1.1.11': { key: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { key: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { key: 'rsa', hash: 'sha512' },
  '1.2.840.10045.4.3.2': { key: 'ec', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { key: 'ec', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { key: 'ec', hash: 'sha512' },
};

export interface CheckedCsr {
  /** The requester's SubjectPublicKeyInfo, DER: the only part of the CSR the certificate takes. */
  readonly spkiDer: Buffer;
  /** e.g. "EC P-256" or "RSA 3072", for the audit record. */
  readonly keyType: string;
  /** The subject the requester asked for (RFC 4514-ish), recorded but never used. */
  readonly requestedSubject: string;
}

/** A CSR we refuse, with the one line that says why. */
export class CsrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsrError';
  }
}

const PEM_RE =
  /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (NEW )?CERTIFICATE REQUEST-----/;

/** The DER of a CSR given as PEM (`CERTIFICATE REQUEST`, or the older `NEW CERTIFICATE REQUEST`) or DER. */
function csrDer(data: Buffer): Buffer {
  if (data.length > MAX_CSR_BYTES) throw new CsrError(`the CSR is larger than ${MAX_CSR_BYTES} bytes`);
  const text = data.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const m = PEM_RE.exec(text);
    if (!m?.[2]) throw new CsrError('no CERTIFICATE REQUEST PEM block found');
    return Buffer.from(m[2].replace(/\s+/g, ''), 'base64');
  }
  return data;
}

function keyTypeOf(key: KeyObject): { kind: 'rsa' | 'ec'; label: string } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return { kind: 'ec', label: 'EC P-256' };
    if (details.namedCurve === 'secp384r1') return { kind: 'ec', label: 'EC P-384' };
    throw new CsrError(
      `the CSR's key is on curve ${details.namedCurve ?? '(unknown)'}; EC keys must be P-256 or P-384`,
    );
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      throw new CsrError(
        `the CSR's RSA key has ${bits} bits; RSA keys must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS}`,
      );
    }
    return { kind: 'rsa', label: `RSA ${bits}` };
  }
  throw new CsrError(
    `the CSR's key type ${key.asymmetricKeyType ?? '(unknown)'} is not supported (EC P-256, EC P-384 or RSA of at least ${MIN_RSA_BITS} bits)`,
  );
}

/** The subject asked for, RFC 4514, cut short: it is the requester's text and only for the record. */
function subjectText(name: pkijs.RelativeDistinguishedNames): string {
  try {
    const text = formatName(AsnConvert.parse(name.toSchema().toBER(false), Name));
    return text.length > MAX_SUBJECT_CHARS ? `${text.slice(0, MAX_SUBJECT_CHARS)}…` : text;
  } catch {
    return '(unreadable)';
  }
}

/** Parses a CSR and checks its signature and key type; throws CsrError with one line otherwise. */
export function parseCsr(data: Buffer): CheckedCsr {
  const der = csrDer(data);
  const parsed = asn1js.fromBER(new Uint8Array(der).buffer);
  if (parsed.offset === -1 || parsed.offset !== der.length)
    throw new CsrError('the file is not a PKCS#10 CSR');
  let csr: pkijs.CertificationRequest;
  try {
    csr = new pkijs.CertificationRequest({ schema: parsed.result });
  } catch {
    throw new CsrError('the file is not a PKCS#10 CSR');
  }
  if (csr.version !== 0) throw new CsrError(`unsupported CSR version ${csr.version}`);
  const spkiDer = Buffer.from(csr.subjectPublicKeyInfo.toSchema().toBER(false));
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    throw new CsrError("the CSR's public key cannot be read");
  }
  const keyType = keyTypeOf(key);
  const scheme = SIGNATURES[csr.signatureAlgorithm.algorithmId];
  if (!scheme) {
    throw new CsrError(
      `the CSR is signed with ${csr.signatureAlgorithm.algorithmId}; supported: ECDSA or RSA PKCS#1 v1.5 with SHA-256/384/512`,
    );
  }
  if (scheme.key !== keyType.kind) throw new CsrError("the CSR's signature algorithm does not match its key");
  // tbsView holds the CertificationRequestInfo exactly as it was signed (not a re-encoding).
  const signed = Buffer.from(csr.tbsView);
  const signature = Buffer.from(csr.signatureValue.valueBlock.valueHexView);
  let ok = false;
  try {
    ok = verify(scheme.hash, signed, key, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CsrError("the CSR's signature does not verify (a damaged or forged request)");
  return { spkiDer, keyType: keyType.label, requestedSubject: subjectText(csr.subject) };
}

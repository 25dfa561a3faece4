/**
 * CRL building by direct DER encoding. @peculiar/x509's generator rescans all entries per insert
 * (quadratic: minutes for 100k), so the revoked list is written here as flat byte buffers and only
 * the two CRL extensions go through asn1-schema.
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  Extension,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  KeyIdentifier,
} from '@peculiar/asn1-x509';
import type { Algorithm, RevocationReason } from '../../shared/validation';
import { algorithmOfKeyObject, signatureAlgorithmDer, signatureScheme } from './algorithms';
import {
  encodeTime,
  integerContentToHex,
  integerFromBigint,
  integerFromHex,
  readElement,
  TAG,
  tlv,
  tlvList,
} from './der';
import { parseCertificate } from './parse';
import { derToPem } from './pem';

export interface CrlEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

/** RFC 5280 §5.3.1 CRLReason codes, shared with OCSP (RFC 6960 §4.2.1 uses the same values). */
export const REASON_CODES: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};

// id-ce-cRLReasons 2.5.29.21
const OID_REASON_CODE = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x15]);

/** crlEntryExtensions per reason, encoded once. RFC 5280 §5.3.1: omit reasonCode for unspecified. */
const ENTRY_EXTENSIONS: Record<RevocationReason, Buffer | null> = Object.fromEntries(
  (Object.keys(REASON_CODES) as RevocationReason[]).map((reason) => {
    const code = REASON_CODES[reason];
    if (code === 0) return [reason, null];
    const value = tlv(TAG.ENUMERATED, Buffer.from([code]));
    return [reason, tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, OID_REASON_CODE, tlv(TAG.OCTET_STRING, value)))];
  }),
) as Record<RevocationReason, Buffer | null>;

const VERSION_V2 = Buffer.from([0x02, 0x01, 0x01]);

/** Key for duplicate detection: the integer value, independent of case, colons or leading zeros. */
const serialKey = (hex: string): string =>
  hex
    .replace(/:/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');

function revokedList(entries: readonly CrlEntry[]): Buffer | null {
  if (entries.length === 0) return null; // RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked.
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const key = serialKey(entry.serial);
    if (seen.has(key)) continue; // one entry per serial; the first (oldest revocation) wins
    seen.add(key);
    const ext = ENTRY_EXTENSIONS[entry.reason];
    if (ext === undefined) throw new Error(`unknown revocation reason "${String(entry.reason)}"`);
    const time = encodeTime(entry.revokedAt);
    const serial = integerFromHex(entry.serial);
    parts.push(ext ? tlv(TAG.SEQUENCE, serial, time, ext) : tlv(TAG.SEQUENCE, serial, time));
  }
  return tlvList(TAG.SEQUENCE, parts);
}

function crlExtensions(authorityKeyId: Buffer, crlNumber: bigint): Buffer {
  const aki = new Extension({
    extnID: id_ce_authorityKeyIdentifier,
    critical: false,
    extnValue: new OctetString(
      AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(authorityKeyId) })),
    ),
  });
  // CRLNumber is an unbounded INTEGER; asn1-schema's CRLNumber is a JS number, so encode the bigint directly.
  const number = new Extension({
    extnID: id_ce_cRLNumber,
    critical: false,
    extnValue: new OctetString(integerFromBigint(crlNumber)),
  });
  const exts = [aki, number].map((e) => Buffer.from(AsnConvert.serialize(e)));
  return tlv(TAG.CONTEXT_0_CONSTRUCTED, tlv(TAG.SEQUENCE, ...exts));
}

export function buildCrl(opts: {
  caCertPem: string;
  caPrivateKeyPkcs8Der: Buffer;
  algorithm: Algorithm;
  entries: readonly CrlEntry[];
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
}): Buffer {
  const ca = parseCertificate(opts.caCertPem);
  const key = createPrivateKey({ key: opts.caPrivateKeyPkcs8Der, format: 'der', type: 'pkcs8' });
  const keyAlg = algorithmOfKeyObject(key);
  if (keyAlg !== opts.algorithm) throw new Error(`CA key is ${keyAlg}, not ${opts.algorithm}`);
  const publicDer = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!publicDer.equals(ca.spkiDer)) throw new Error('CA private key does not match the CA certificate');

  const algId = signatureAlgorithmDer(opts.algorithm);
  const revoked = revokedList(opts.entries);
  const tbsParts = [
    VERSION_V2,
    algId,
    ca.subjectDer,
    encodeTime(opts.thisUpdate),
    encodeTime(opts.nextUpdate),
  ];
  if (revoked) tbsParts.push(revoked);
  tbsParts.push(crlExtensions(ca.subjectKeyId, opts.crlNumber));
  const tbs = tlv(TAG.SEQUENCE, ...tbsParts);

  const signature = sign(signatureScheme(opts.algorithm).hash, tbs, key);
  return tlv(TAG.SEQUENCE, tbs, algId, tlv(TAG.BIT_STRING, Buffer.from([0]), signature));
}

export function crlDerToPem(der: Buffer): string {
  return derToPem(der, 'X509 CRL');
}

/** Serials (lowercase hex) in list order, read straight from DER so 100k entries stay cheap. */
export function parseCrlSerials(der: Buffer): string[] {
  const outer = readElement(der, 0);
  const tbs = readElement(der, outer.start);
  let pos = tbs.start;
  let el = readElement(der, pos);
  if (el.tag === TAG.INTEGER) el = readElement(der, (pos = el.end)); // optional version
  pos = el.end; // signature AlgorithmIdentifier
  pos = readElement(der, pos).end; // issuer
  pos = readElement(der, pos).end; // thisUpdate
  if (pos >= tbs.end) return [];
  el = readElement(der, pos);
  if (el.tag === TAG.UTC_TIME || el.tag === TAG.GENERALIZED_TIME) {
    pos = el.end; // optional nextUpdate
    if (pos >= tbs.end) return [];
    el = readElement(der, pos);
  }
  if (el.tag !== TAG.SEQUENCE) return []; // no revokedCertificates, only [0] extensions
  const serials: string[] = [];
  for (let p = el.start; p < el.end;) {
    const entry = readElement(der, p);
    const serial = readElement(der, entry.start);
    if (serial.tag !== TAG.INTEGER) throw new Error('malformed CRL entry');
    serials.push(integerContentToHex(der.subarray(serial.start, serial.end)));
    p = entry.end;
  }
  return serials;
}

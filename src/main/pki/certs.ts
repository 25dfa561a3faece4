/** Issues the three kinds of certificate the console needs: the root CA, gateway server certs and client certs. */
import { sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AccessDescription,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ad_ocsp,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_OCSPSigning,
  id_kp_serverAuth,
  id_pe_authorityInfoAccess,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import type { Algorithm } from '../../shared/validation';
import { algorithmOfKeyObject, signatureScheme } from './algorithms';
import { hexToBytes, positiveIntegerContent } from './der';
import { hostToGeneralName } from './hosts';
import { certDerToPem, fingerprintSha256 } from './info';
import { generateKeyPair, type KeyPair } from './keys';
import { keyIdOfSpki, parseCertificate } from './parse';
import { subtle, toKeyObject } from './webcrypto';

export interface IssuedCert {
  certPem: string;
  certDer: Buffer;
  /** Lowercase hex, no colons. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** Lowercase hex, no colons. */
  fingerprintSha256: string;
}

/** Where relying parties fetch this CA's revocation status: the CRL (DER) and the OCSP responder. */
export interface DistributionUrls {
  readonly crl: string;
  readonly ocsp: string;
}

export interface SigningCa {
  certPem: string;
  privateKey: CryptoKey;
  /** When set, leaves it signs name these in their CRL distribution point and AIA (issue 9). */
  distribution?: DistributionUrls;
}

const DAY_MS = 86_400_000;
/** Backdating absorbs small clock differences between the console and relying parties. */
export const CLOCK_SKEW_MS = 60_000;
const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATIONAL_UNIT = '2.5.4.11';

/** X.509 validity has whole-second precision; truncating here keeps IssuedCert equal to the cert. */
const wholeSeconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);

/** Builds the Name structurally, so any character in `cn` stays inside one CN value. */
/** CN last (the most specific RDN), each group an OU before it: `CN=alice,OU=agents` in RFC 4514 order. */
function clientName(cn: string, groups: readonly string[]): Name {
  if (cn.length === 0) throw new Error('common name must not be empty');
  const rdn = (type: string, v: string): RelativeDistinguishedName =>
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: v }) }),
    ]);
  return new Name([...groups.map((g) => rdn(OID_ORGANIZATIONAL_UNIT, g)), rdn(OID_COMMON_NAME, cn)]);
}

function commonNameOnly(cn: string): Name {
  if (cn.length === 0) throw new Error('common name must not be empty');
  const atv = new AttributeTypeAndValue({
    type: OID_COMMON_NAME,
    value: new AttributeValue({ utf8String: cn }),
  });
  return new Name([new RelativeDistinguishedName([atv])]);
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

interface TbsInput {
  serial: string;
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  spkiDer: ArrayBuffer;
  extensions: Extension[];
  signingKey: CryptoKey;
}

function signCertificate(input: TbsInput): IssuedCert {
  if (input.notAfter.getTime() <= input.notBefore.getTime()) {
    throw new Error('certificate would expire before it becomes valid (is the CA expired?)');
  }
  const keyObject = toKeyObject(input.signingKey);
  const scheme = signatureScheme(algorithmOfKeyObject(keyObject));
  const serialContent = positiveIntegerContent(hexToBytes(input.serial));
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serialContent).buffer,
    signature: scheme.algorithmIdentifier,
    issuer: input.issuer,
    validity: new Validity({ notBefore: input.notBefore, notAfter: input.notAfter }),
    subject: input.subject,
    subjectPublicKeyInfo: AsnConvert.parse(input.spkiDer, SubjectPublicKeyInfo),
    extensions: new Extensions(input.extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  // node:crypto emits DER ECDSA signatures and PKCS#1 v1.5 for RSA by default, as X.509 expects.
  const signature = sign(scheme.hash, tbsDer, keyObject);
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: scheme.algorithmIdentifier,
    signatureValue: new Uint8Array(signature).buffer,
  });
  const certDer = Buffer.from(AsnConvert.serialize(cert));
  return {
    certPem: certDerToPem(certDer),
    certDer,
    serial: parseCertificate(certDer).serial,
    notBefore: input.notBefore,
    notAfter: input.notAfter,
    fingerprintSha256: fingerprintSha256(certDer),
  };
}

async function newSubjectKey(
  alg: Algorithm,
): Promise<{ keys: KeyPair; spkiDer: ArrayBuffer; keyId: Buffer }> {
  const keys = await generateKeyPair(alg);
  const spkiDer = await subtle.exportKey('spki', keys.publicKey);
  const keyId = keyIdOfSpki(AsnConvert.parse(spkiDer, SubjectPublicKeyInfo).subjectPublicKey);
  return { keys, spkiDer, keyId };
}

function keyIdExtensions(subjectKeyId: Buffer, authorityKeyId: Buffer): Extension[] {
  return [
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(subjectKeyId)),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(authorityKeyId) }),
    ),
  ];
}

/** RFC 5280 §4.2.1.13 and §4.2.2.1: one CRL URI and one OCSP URI, both non-critical. */
function distributionExtensions(urls: DistributionUrls | undefined): Extension[] {
  if (!urls) return [];
  const uri = (u: string) => new GeneralName({ uniformResourceIdentifier: u });
  return [
    extension(
      id_ce_cRLDistributionPoints,
      false,
      new CRLDistributionPoints([
        new DistributionPoint({
          distributionPoint: new DistributionPointName({ fullName: [uri(urls.crl)] }),
        }),
      ]),
    ),
    extension(
      id_pe_authorityInfoAccess,
      false,
      new AuthorityInfoAccessSyntax([
        new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: uri(urls.ocsp) }),
      ]),
    ),
  ];
}

export async function createCa(opts: {
  algorithm: Algorithm;
  commonName: string;
  now: Date;
  validityDays?: number;
  serial: string;
}): Promise<{ cert: IssuedCert; keys: KeyPair }> {
  const { keys, spkiDer, keyId } = await newSubjectKey(opts.algorithm);
  const name = commonNameOnly(opts.commonName);
  const validityDays = opts.validityDays ?? 3650;
  const cert = signCertificate({
    serial: opts.serial,
    issuer: name,
    subject: name,
    notBefore: wholeSeconds(opts.now.getTime() - CLOCK_SKEW_MS),
    notAfter: wholeSeconds(opts.now.getTime() + validityDays * DAY_MS),
    spkiDer,
    signingKey: keys.privateKey,
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      ...keyIdExtensions(keyId, keyId),
    ],
  });
  return { cert, keys };
}

/**
 * A cross certificate (the seed's rollover step "cross-sign"): `subject`'s name and key, signed by
 * `issuer`, as a CA. A verifier that trusts only the issuer's root then accepts whatever the subject
 * CA signs, given this certificate as an intermediate. Valid while both CAs are, no longer.
 */
export function crossCertifyCa(opts: {
  subjectCertPem: string;
  issuer: SigningCa;
  now: Date;
  serial: string;
}): IssuedCert {
  const subject = parseCertificate(opts.subjectCertPem);
  const issuer = parseCertificate(opts.issuer.certPem);
  if (!subject.isCa || !issuer.isCa) throw new Error('cross-signing needs two CA certificates');
  return signCertificate({
    serial: opts.serial,
    issuer: issuer.subject,
    subject: subject.subject,
    notBefore: wholeSeconds(opts.now.getTime() - CLOCK_SKEW_MS),
    notAfter: wholeSeconds(Math.min(subject.notAfter.getTime(), issuer.notAfter.getTime())),
    spkiDer: new Uint8Array(subject.spkiDer).buffer,
    signingKey: opts.issuer.privateKey,
    extensions: [
      // pathLen 0: it vouches for the subject CA's leaves, not for CAs below it.
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: 0 })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      ...keyIdExtensions(subject.subjectKeyId, issuer.subjectKeyId),
    ],
  });
}

/** Leaf validity: backdated for skew, and never outliving the CA (chains would fail past that point). */
function leafValidity(
  now: Date,
  wantedNotAfterMs: number,
  caNotAfter: Date,
): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: wholeSeconds(now.getTime() - CLOCK_SKEW_MS),
    notAfter: wholeSeconds(Math.min(wantedNotAfterMs, caNotAfter.getTime())),
  };
}

export async function issueServerCert(opts: {
  ca: SigningCa;
  algorithm: Algorithm;
  hosts: string[];
  validityDays: number;
  now: Date;
  serial: string;
}): Promise<{ cert: IssuedCert; keys: KeyPair }> {
  const firstHost = opts.hosts[0];
  if (firstHost === undefined) throw new Error('a server certificate needs at least one host');
  const ca = parseCertificate(opts.ca.certPem);
  const { keys, spkiDer, keyId } = await newSubjectKey(opts.algorithm);
  // keyEncipherment only matters for RSA key transport (TLS 1.2 RSA kx); EC keys must not carry it.
  const usage =
    opts.algorithm === 'rsa-4096'
      ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment
      : KeyUsageFlags.digitalSignature;
  const cert = signCertificate({
    serial: opts.serial,
    issuer: ca.subject,
    subject: commonNameOnly(firstHost),
    ...leafValidity(opts.now, opts.now.getTime() + opts.validityDays * DAY_MS, ca.notAfter),
    spkiDer,
    signingKey: opts.ca.privateKey,
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(usage)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth])),
      extension(id_ce_subjectAltName, false, new SubjectAlternativeName(opts.hosts.map(hostToGeneralName))),
      ...keyIdExtensions(keyId, ca.subjectKeyId),
      ...distributionExtensions(opts.ca.distribution),
    ],
  });
  return { cert, keys };
}

export async function issueClientCert(opts: {
  ca: SigningCa;
  algorithm: Algorithm;
  commonName: string;
  /** OUs: the groups access rules match. */
  groups?: readonly string[];
  notAfter: Date;
  now: Date;
  serial: string;
}): Promise<{ cert: IssuedCert; keys: KeyPair }> {
  const { keys, spkiDer } = await newSubjectKey(opts.algorithm);
  return { cert: issueClientCertForKey({ ...opts, spkiDer: Buffer.from(spkiDer) }), keys };
}

/**
 * A client certificate for a public key the console never held the private half of (a signed CSR).
 * Only the key is taken from the requester: name, validity and extensions are ours.
 */
export function issueClientCertForKey(opts: {
  ca: SigningCa;
  spkiDer: Buffer;
  commonName: string;
  groups?: readonly string[];
  notAfter: Date;
  now: Date;
  serial: string;
}): IssuedCert {
  const ca = parseCertificate(opts.ca.certPem);
  const spkiDer = new Uint8Array(opts.spkiDer).buffer;
  const keyId = keyIdOfSpki(AsnConvert.parse(spkiDer, SubjectPublicKeyInfo).subjectPublicKey);
  return signCertificate({
    serial: opts.serial,
    issuer: ca.subject,
    subject: clientName(opts.commonName, opts.groups ?? []),
    ...leafValidity(opts.now, opts.notAfter.getTime(), ca.notAfter),
    spkiDer,
    signingKey: opts.ca.privateKey,
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth])),
      ...keyIdExtensions(keyId, ca.subjectKeyId),
      ...distributionExtensions(opts.ca.distribution),
    ],
  });
}

/** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): its value is an ASN.1 NULL. */
const OID_OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
const DER_NULL = new Uint8Array([0x05, 0x00]);

/**
 * A delegated OCSP signing certificate (RFC 6960 §4.2.2.2): the responder signs with its key, so the
 * CA key stays off the request path. Short-lived and marked nocheck, since nobody could ask an OCSP
 * responder whether the responder itself is revoked; it carries no CRL or OCSP URL for that reason.
 */
export async function issueOcspResponderCert(opts: {
  ca: SigningCa;
  algorithm: Algorithm;
  commonName: string;
  validityMs: number;
  now: Date;
  serial: string;
}): Promise<{ cert: IssuedCert; keys: KeyPair }> {
  const ca = parseCertificate(opts.ca.certPem);
  const { keys, spkiDer, keyId } = await newSubjectKey(opts.algorithm);
  const cert = signCertificate({
    serial: opts.serial,
    issuer: ca.subject,
    subject: commonNameOnly(opts.commonName),
    ...leafValidity(opts.now, opts.now.getTime() + opts.validityMs, ca.notAfter),
    spkiDer,
    signingKey: opts.ca.privateKey,
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_OCSPSigning])),
      new Extension({ extnID: OID_OCSP_NOCHECK, critical: false, extnValue: new OctetString(DER_NULL) }),
      ...keyIdExtensions(keyId, ca.subjectKeyId),
    ],
  });
  return { cert, keys };
}

/** Issues the three kinds of certificate the console needs: the root CA, gateway server certs and client certs. */
import { sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
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

export interface SigningCa {
  certPem: string;
  privateKey: CryptoKey;
}

const DAY_MS = 86_400_000;
/** Backdating absorbs small clock differences between the console and relying parties. */
const CLOCK_SKEW_MS = 60_000;
const OID_COMMON_NAME = '2.5.4.3';

/** X.509 validity has whole-second precision; truncating here keeps IssuedCert equal to the cert. */
const wholeSeconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);

/** Builds the Name structurally, so any character in `cn` stays inside one CN value. */
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
    ],
  });
  return { cert, keys };
}

export async function issueClientCert(opts: {
  ca: SigningCa;
  algorithm: Algorithm;
  commonName: string;
  notAfter: Date;
  now: Date;
  serial: string;
}): Promise<{ cert: IssuedCert; keys: KeyPair }> {
  const ca = parseCertificate(opts.ca.certPem);
  const { keys, spkiDer, keyId } = await newSubjectKey(opts.algorithm);
  const cert = signCertificate({
    serial: opts.serial,
    issuer: ca.subject,
    subject: commonNameOnly(opts.commonName),
    ...leafValidity(opts.now, opts.notAfter.getTime(), ca.notAfter),
    spkiDer,
    signingKey: opts.ca.privateKey,
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth])),
      ...keyIdExtensions(keyId, ca.subjectKeyId),
    ],
  });
  return { cert, keys };
}

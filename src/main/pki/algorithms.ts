/** One place that maps our Algorithm names to WebCrypto parameters and X.509 signature identifiers. */
import { type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { Algorithm } from '../../shared/validation';

export type WebKeyParams = RsaHashedKeyGenParams | EcKeyGenParams;

/** WebCrypto key-generation parameters; RSA uses PKCS#1 v1.5 because every TLS stack and openssl accept it. */
export function keyGenParams(alg: Algorithm): WebKeyParams {
  switch (alg) {
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ecdsa-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    case 'rsa-4096':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 4096,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
  }
}

export function keyImportParams(alg: Algorithm): RsaHashedImportParams | EcKeyImportParams {
  switch (alg) {
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ecdsa-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    case 'rsa-4096':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
}

export interface SignatureScheme {
  /** Digest name for node:crypto.sign. */
  hash: 'sha256' | 'sha384';
  /** DER AlgorithmIdentifier placed in the TBS and outer structure. */
  algorithmIdentifier: AlgorithmIdentifier;
}

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_SHA384 = '1.2.840.10045.4.3.3';
const OID_SHA256_RSA = '1.2.840.113549.1.1.11';
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

/** Signature scheme for a signing key of the given algorithm (hash strength matched to the curve). */
export function signatureScheme(alg: Algorithm): SignatureScheme {
  switch (alg) {
    case 'ecdsa-p256':
      return {
        hash: 'sha256',
        algorithmIdentifier: new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 }),
      };
    case 'ecdsa-p384':
      return {
        hash: 'sha384',
        algorithmIdentifier: new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA384 }),
      };
    case 'rsa-4096':
      // RFC 4055: the RSA identifiers carry an explicit NULL parameter.
      return {
        hash: 'sha256',
        algorithmIdentifier: new AlgorithmIdentifier({ algorithm: OID_SHA256_RSA, parameters: DER_NULL }),
      };
  }
}

export function signatureAlgorithmDer(alg: Algorithm): Buffer {
  return Buffer.from(AsnConvert.serialize(signatureScheme(alg).algorithmIdentifier));
}

/** Classifies a node KeyObject (public or private); throws for keys this console does not issue. */
export function algorithmOfKeyObject(key: KeyObject): Algorithm {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (details.namedCurve === 'secp384r1') return 'ecdsa-p384';
    throw new Error(`unsupported EC curve ${details.namedCurve ?? '(unknown)'}`);
  }
  if (key.asymmetricKeyType === 'rsa' && details.modulusLength === 4096) return 'rsa-4096';
  const size = details.modulusLength ? `-${details.modulusLength}` : '';
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? '(unknown)'}${size}`);
}

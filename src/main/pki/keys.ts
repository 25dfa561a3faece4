import { createPublicKey } from 'node:crypto';
import type { Algorithm } from '../../shared/validation';
import { algorithmOfKeyObject, keyGenParams, keyImportParams } from './algorithms';
import { parseCertificate } from './parse';
import { derToPem } from './pem';
import { subtle } from './webcrypto';

export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Extractable, because keys are exported to PKCS#8 for the vault and PKCS#12 bundles. */
export async function generateKeyPair(alg: Algorithm = 'ecdsa-p256'): Promise<KeyPair> {
  const pair = (await subtle.generateKey(keyGenParams(alg), true, ['sign', 'verify'])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export async function exportPrivateKeyPkcs8Der(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await subtle.exportKey('pkcs8', key));
}

export function privateKeyPem(pkcs8Der: Buffer): string {
  return derToPem(pkcs8Der, 'PRIVATE KEY');
}

export async function importPrivateKey(pkcs8Der: Buffer, alg: Algorithm): Promise<CryptoKey> {
  return subtle.importKey('pkcs8', new Uint8Array(pkcs8Der), keyImportParams(alg), true, ['sign']);
}

export function algorithmOfCert(certPem: string): Algorithm {
  const { spkiDer } = parseCertificate(certPem);
  return algorithmOfKeyObject(createPublicKey({ key: spkiDer, format: 'der', type: 'spki' }));
}

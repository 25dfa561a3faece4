import { X509Certificate, sign, verify, type KeyObject } from 'node:crypto';
import { ConsoleError } from '../errors';

/**
 * Signs checkpoints, archive trailers and the retention anchor with the CA key. Synchronous, because
 * appends run inside the caller's write transaction. Build one with createAuditSigner.
 */
export interface AuditSigner {
  readonly hash: 'sha256' | 'sha384';
  /** The CA certificate: a checkpoint is only signed after the segment it closes checks out with its key. */
  readonly caCertPem: string;
  sign(data: Buffer): Buffer;
}

export interface VerifyKey {
  readonly hash: 'sha256' | 'sha384';
  readonly publicKey: KeyObject;
}

/** P-384 signs with SHA-384, P-256 and RSA with SHA-256, as the certificates do (pki/algorithms.ts). */
function hashFor(key: KeyObject): 'sha256' | 'sha384' {
  return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
}

/** The algorithm comes from the certificate, never from a record an attacker could write. */
export function verifyKeyFromCert(caCertPem: string): VerifyKey {
  let publicKey: KeyObject;
  try {
    publicKey = new X509Certificate(caCertPem).publicKey;
  } catch (e) {
    throw new ConsoleError(
      'INVALID_INPUT',
      `not a CA certificate: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return { hash: hashFor(publicKey), publicKey };
}

const signerKeys = new WeakMap<AuditSigner, VerifyKey>();

/**
 * The signer's public key, parsed once per signer. Throws INVALID_INPUT when the signer's hash is not
 * the one its certificate implies: its checkpoints would never verify.
 */
export function signerKey(signer: AuditSigner): VerifyKey {
  let key = signerKeys.get(signer);
  if (!key) {
    key = verifyKeyFromCert(signer.caCertPem);
    if (key.hash !== signer.hash) {
      throw new ConsoleError(
        'INVALID_INPUT',
        `the audit signer hashes with ${signer.hash}, its CA needs ${key.hash}`,
      );
    }
    signerKeys.set(signer, key);
  }
  return key;
}

/** Refuses a key that does not belong to the certificate: its checkpoints would never verify. */
export function createAuditSigner(privateKey: KeyObject, caCertPem: string): AuditSigner {
  const { hash, publicKey } = verifyKeyFromCert(caCertPem);
  const signer: AuditSigner = { hash, caCertPem, sign: (data) => sign(hash, data, privateKey) };
  const probe = Buffer.from('mtls-console audit signer probe');
  if (!verify(hash, probe, publicKey, signer.sign(probe))) {
    throw new ConsoleError('INVALID_INPUT', 'the audit signing key does not match the CA certificate');
  }
  return signer;
}

// Fixed texts with a version, so a signature over one kind of statement can never pass as another.
export function checkpointText(seq: number, hash: string, signedAt: string): string {
  return `mtls-console audit checkpoint v1\n${seq}\n${hash}\n${signedAt}`;
}

export function anchorText(seq: number, prev: string, archivedAt: string): string {
  return `mtls-console audit anchor v1\n${seq}\n${prev}\n${archivedAt}`;
}

export function archiveText(t: {
  firstSeq: number;
  firstPrev: string;
  lastSeq: number;
  lastHash: string;
  createdAt: string;
}): string {
  return `mtls-console audit archive v1\n${t.firstSeq}\n${t.firstPrev}\n${t.lastSeq}\n${t.lastHash}\n${t.createdAt}`;
}

export function signText(signer: AuditSigner, text: string): string {
  return signer.sign(Buffer.from(text)).toString('base64');
}

export function verifyText(key: VerifyKey, text: string, sigBase64: unknown): boolean {
  if (typeof sigBase64 !== 'string') return false;
  try {
    return verify(key.hash, Buffer.from(text), key.publicKey, Buffer.from(sigBase64, 'base64'));
  } catch {
    return false;
  }
}

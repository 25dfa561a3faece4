/**
 * A CA backup (DESIGN.md §6): the CA key as an encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo,
 * PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC) followed by the CA certificate, in one PEM file.
 * Standard on purpose: `openssl pkcs8 -in FILE` opens the key and `openssl x509 -in FILE` reads the
 * certificate, so the backup outlives this program.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { Algorithm } from '../../shared/validation';
import { algorithmOfKeyObject } from './algorithms';
import { parseCertificate } from './parse';
import { pbes2Decrypt, pbes2Encrypt, Pbes2Error } from './pbes2';
import { derToPem, pemToDer } from './pem';

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256; about a third of a second here, once per backup. */
const BACKUP_ITERATIONS = 600_000;
const KEY_LABEL = 'ENCRYPTED PRIVATE KEY';
/** A backup is two small PEM blocks; a file much larger than this is something else. */
export const MAX_BACKUP_BYTES = 256 * 1024;

export interface CaBackup {
  readonly certPem: string;
  readonly keyPkcs8Der: Buffer;
  readonly algorithm: Algorithm;
}

/** A backup we cannot use, and why, in one line. */
export class BackupError extends Error {
  constructor(
    readonly kind: 'password' | 'format',
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

export async function writeCaBackup(opts: {
  certPem: string;
  keyPkcs8Der: Buffer;
  passphrase: string;
  /** Shown above the PEM blocks (RFC 7468 allows text there): what the file is. */
  comment: string;
}): Promise<string> {
  const sealed = await pbes2Encrypt(opts.keyPkcs8Der, opts.passphrase, BACKUP_ITERATIONS);
  const encryptedPrivateKeyInfo = new asn1js.Sequence({
    value: [
      sealed.algorithm.toSchema(),
      new asn1js.OctetString({ valueHex: new Uint8Array(sealed.ciphertext).buffer }),
    ],
  });
  const keyPem = derToPem(new Uint8Array(encryptedPrivateKeyInfo.toBER(false)), KEY_LABEL);
  const certPem = derToPem(parseCertificate(opts.certPem).der, 'CERTIFICATE');
  const comment = opts.comment
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n');
  return `${comment}\n${keyPem}${certPem}`;
}

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** Opens a backup; the key must decrypt and be the private half of the certificate, a CA we can run. */
export async function readCaBackup(text: string, passphrase: string): Promise<CaBackup> {
  if (text.length > MAX_BACKUP_BYTES)
    throw new BackupError('format', 'the file is too large to be a CA backup');
  let keyDer: Buffer;
  let certDer: Buffer;
  try {
    keyDer = pemToDer(text, KEY_LABEL);
  } catch {
    throw new BackupError('format', `no ${KEY_LABEL} block: not a CA backup`);
  }
  try {
    certDer = pemToDer(text, 'CERTIFICATE');
  } catch {
    throw new BackupError('format', 'no CERTIFICATE block: not a CA backup');
  }
  const parsed = asn1js.fromBER(new Uint8Array(keyDer).buffer);
  if (parsed.offset !== keyDer.length) throw new BackupError('format', 'the encrypted key is not valid DER');
  let info: pkijs.PKCS8ShroudedKeyBag;
  try {
    // A PKCS#12 shrouded key bag is exactly an EncryptedPrivateKeyInfo (RFC 7292 §4.2.2).
    info = new pkijs.PKCS8ShroudedKeyBag({ schema: parsed.result });
  } catch {
    throw new BackupError('format', 'the encrypted key is not an EncryptedPrivateKeyInfo');
  }
  let keyPkcs8Der: Buffer;
  try {
    keyPkcs8Der = await pbes2Decrypt(
      info.encryptionAlgorithm,
      Buffer.from(info.encryptedData.valueBlock.valueHexView),
      passphrase,
    );
  } catch (e) {
    if (e instanceof Pbes2Error) {
      throw new BackupError(
        e.kind === 'password' ? 'password' : 'format',
        e.kind === 'password' ? 'wrong backup passphrase (or a damaged backup)' : e.message,
      );
    }
    throw e;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPkcs8Der, format: 'der', type: 'pkcs8' });
  } catch {
    throw new BackupError('password', 'wrong backup passphrase (the key did not decrypt to PKCS#8)');
  }
  let cert: ReturnType<typeof parseCertificate>;
  try {
    cert = parseCertificate(certDer);
  } catch {
    throw new BackupError('format', 'the certificate in the backup cannot be read');
  }
  if (!cert.isCa) throw new BackupError('format', 'the certificate in the backup is not a CA certificate');
  if (!spkiOf(key).equals(cert.spkiDer)) {
    throw new BackupError('format', 'the key in the backup does not belong to its certificate');
  }
  let algorithm: Algorithm;
  try {
    algorithm = algorithmOfKeyObject(key);
  } catch (e) {
    throw new BackupError('format', `the CA key is not one mtls-console runs: ${(e as Error).message}`);
  }
  return { certPem: derToPem(cert.der, 'CERTIFICATE'), keyPkcs8Der, algorithm };
}

/**
 * PBES2 (RFC 8018 §6.2) with PBKDF2 and AES-CBC on node:crypto: the password-based encryption inside
 * our PKCS#12 files and CA backups. Done here rather than by pkijs, whose encryption draws a 64-byte
 * salt (GnuTLS refuses more than 32) and splits the ciphertext into a constructed BER OCTET STRING.
 */
import { createCipheriv, createDecipheriv, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const pbkdf2Async = promisify(pbkdf2);

const OID_PBES2 = '1.2.840.113549.1.5.13';
const OID_PBKDF2 = '1.2.840.113549.1.5.12';

/** PRFs that PBKDF2 may name (RFC 8018 B.1.2); absent means hmacWithSHA1. */
const PRFS: Readonly<Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const OID_HMAC_SHA256 = '1.2.840.113549.2.9';

const CIPHERS: Readonly<Record<string, { name: string; keyLength: number }>> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32 },
};
const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42';

/** 16 bytes, as OpenSSL 3 writes for PBES2 (NIST SP 800-132 asks for at least 128 bits). */
export const PBES2_SALT_BYTES = 16;
/** A file naming more rounds than this is refused rather than left to spin the CPU. */
const MAX_ITERATIONS = 10_000_000;

export interface Pbes2Encrypted {
  /** The PBES2 AlgorithmIdentifier (PBKDF2-HMAC-SHA256, AES-256-CBC with its IV). */
  readonly algorithm: pkijs.AlgorithmIdentifier;
  readonly ciphertext: Buffer;
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return new Uint8Array(buf).buffer;
}

/** Encrypts with PBKDF2-HMAC-SHA256 and AES-256-CBC under a fresh salt and IV; the password is UTF-8. */
export async function pbes2Encrypt(
  plain: Buffer,
  password: string,
  iterations: number,
): Promise<Pbes2Encrypted> {
  const salt = randomBytes(PBES2_SALT_BYTES);
  const iv = randomBytes(16);
  const key = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  const kdf = new pkijs.PBKDF2Params({
    salt: new asn1js.OctetString({ valueHex: toArrayBuffer(salt) }),
    iterationCount: iterations,
    prf: new pkijs.AlgorithmIdentifier({ algorithmId: OID_HMAC_SHA256, algorithmParams: new asn1js.Null() }),
  });
  const params = new pkijs.PBES2Params({
    keyDerivationFunc: new pkijs.AlgorithmIdentifier({
      algorithmId: OID_PBKDF2,
      algorithmParams: kdf.toSchema(),
    }),
    encryptionScheme: new pkijs.AlgorithmIdentifier({
      algorithmId: OID_AES256_CBC,
      algorithmParams: new asn1js.OctetString({ valueHex: toArrayBuffer(iv) }),
    }),
  });
  return {
    algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_PBES2, algorithmParams: params.toSchema() }),
    ciphertext,
  };
}

/** Why a PBES2 blob could not be opened: the password, or a structure we do not read. */
export class Pbes2Error extends Error {
  constructor(
    readonly kind: 'password' | 'unsupported',
    message: string,
  ) {
    super(message);
    this.name = 'Pbes2Error';
  }
}

/**
 * Decrypts what pbes2Encrypt (or `openssl pkcs8 -topk8`) wrote: PBKDF2 with an HMAC-SHA PRF and
 * AES-CBC. A wrong password shows as bad padding; that is all CBC can tell.
 */
export async function pbes2Decrypt(
  algorithm: pkijs.AlgorithmIdentifier,
  ciphertext: Buffer,
  password: string,
): Promise<Buffer> {
  if (algorithm.algorithmId !== OID_PBES2) {
    throw new Pbes2Error('unsupported', `encryption ${algorithm.algorithmId} is not PBES2`);
  }
  let params: pkijs.PBES2Params;
  let kdf: pkijs.PBKDF2Params;
  try {
    params = new pkijs.PBES2Params({ schema: algorithm.algorithmParams });
    if (params.keyDerivationFunc.algorithmId !== OID_PBKDF2) {
      throw new Pbes2Error(
        'unsupported',
        `key derivation ${params.keyDerivationFunc.algorithmId} is not PBKDF2`,
      );
    }
    kdf = new pkijs.PBKDF2Params({ schema: params.keyDerivationFunc.algorithmParams });
  } catch (e) {
    if (e instanceof Pbes2Error) throw e;
    throw new Pbes2Error('unsupported', 'malformed PBES2 parameters');
  }
  const prf = kdf.prf ? PRFS[kdf.prf.algorithmId] : 'sha1';
  const cipher = CIPHERS[params.encryptionScheme.algorithmId];
  if (!prf || !cipher) throw new Pbes2Error('unsupported', 'PBES2 with an unsupported PRF or cipher');
  if (!(kdf.salt instanceof asn1js.OctetString))
    throw new Pbes2Error('unsupported', 'PBKDF2 salt is not a string');
  if (kdf.iterationCount < 1 || kdf.iterationCount > MAX_ITERATIONS) {
    throw new Pbes2Error('unsupported', `PBKDF2 iteration count ${kdf.iterationCount} is out of range`);
  }
  const ivNode: unknown = params.encryptionScheme.algorithmParams;
  if (!(ivNode instanceof asn1js.OctetString) || ivNode.valueBlock.valueHexView.length !== 16) {
    throw new Pbes2Error('unsupported', 'AES-CBC without a 16-byte IV');
  }
  const key = await pbkdf2Async(
    Buffer.from(password, 'utf8'),
    Buffer.from(kdf.salt.valueBlock.valueHexView),
    kdf.iterationCount,
    cipher.keyLength,
    prf,
  );
  try {
    const decipher = createDecipheriv(cipher.name, key, Buffer.from(ivNode.valueBlock.valueHexView));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new Pbes2Error('password', 'wrong passphrase (or a damaged file)');
  }
}

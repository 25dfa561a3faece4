import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { ConsoleError } from '../errors';
import { parseSealed, passphraseSealSchema, type PassphraseSeal, type Vault } from './format';

const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;

interface KdfParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

function deriveKey(passphrase: string, salt: Buffer, k: KdfParams): Promise<Buffer> {
  // scrypt needs 128*N*r bytes; Node's default maxmem (32 MiB) is exactly that for N=2^15, r=8 and refuses it.
  const maxmem = 128 * k.N * k.r * 2 + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(passphrase, salt, KEY_LEN, { N: k.N, r: k.r, p: k.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** Binds the KDF parameters to the ciphertext, so editing the header cannot go unnoticed. */
function aad(k: KdfParams): Buffer {
  return Buffer.from(`mtls-console vault v1 passphrase scrypt N=${k.N} r=${k.r} p=${k.p}`);
}

export class PassphraseVault implements Vault {
  readonly backend = 'passphrase' as const;
  readonly #passphrase: string;
  /** Derived keys by salt+params: scrypt costs ~100 ms, and one vault unseals the same keys repeatedly. */
  readonly #keys = new Map<string, Promise<Buffer>>();

  constructor(passphrase: string) {
    if (passphrase.length === 0) throw new ConsoleError('INVALID_INPUT', 'the passphrase must not be empty');
    // NFC so the same passphrase typed on different systems derives the same key.
    this.#passphrase = passphrase.normalize('NFC');
  }

  #key(salt: Buffer, k: KdfParams): Promise<Buffer> {
    const id = `${k.N}:${k.r}:${k.p}:${salt.toString('base64')}`;
    let key = this.#keys.get(id);
    if (!key) {
      key = deriveKey(this.#passphrase, salt, k);
      this.#keys.set(id, key);
      key.catch(() => this.#keys.delete(id));
    }
    return key;
  }

  async seal(plain: Buffer): Promise<Buffer> {
    const k: KdfParams = { N, r: R, p: P };
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await this.#key(salt, k), iv);
    cipher.setAAD(aad(k));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    const doc: PassphraseSeal = {
      v: 1,
      backend: 'passphrase',
      kdf: 'scrypt',
      N: k.N,
      r: k.r,
      p: k.p,
      salt: salt.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ct: ct.toString('base64'),
    };
    return Buffer.from(JSON.stringify(doc));
  }

  async unseal(sealed: Buffer, source?: string): Promise<Buffer> {
    const doc = parseSealed(sealed, passphraseSealSchema, source);
    const iv = Buffer.from(doc.iv, 'base64');
    const tag = Buffer.from(doc.tag, 'base64');
    const salt = Buffer.from(doc.salt, 'base64');
    if (iv.length !== 12 || tag.length !== 16 || salt.length < 16) {
      const what = source ? `sealed key ${source}` : 'sealed key';
      throw new ConsoleError('CORRUPT_STATE', `${what} is corrupt: bad iv, tag or salt length`);
    }
    const key = await this.#key(salt, doc);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(aad(doc));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(doc.ct, 'base64')), decipher.final()]);
    } catch {
      // GCM cannot tell a wrong key from edited bytes; a wrong passphrase is by far the common case.
      throw new ConsoleError('VAULT_LOCKED', 'wrong passphrase: the sealed key could not be opened');
    }
  }
}

import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isConsoleError } from '../errors';
import {
  isBasicTextBackend,
  PassphraseVault,
  SafeStorageVault,
  sealedBackendOf,
  type SafeStorageLike,
} from './index';

const pem = Buffer.from(
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
);

/** Stand-in for Electron's safeStorage (an external dependency): real AES-256-GCM under a process key. */
function fakeSafeStorage(opts: { available?: boolean; backend?: string } = {}): SafeStorageLike {
  const key = randomBytes(32);
  return {
    isEncryptionAvailable: () => opts.available ?? true,
    encryptString(s) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([c.update(s, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), ct]);
    },
    decryptString(b) {
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12));
      d.setAuthTag(b.subarray(12, 28));
      return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
    },
    ...(opts.backend === undefined ? {} : { getSelectedStorageBackend: () => opts.backend! }),
  };
}

function edit(sealed: Buffer, change: (doc: Record<string, unknown>) => void): Buffer {
  const doc = JSON.parse(sealed.toString()) as Record<string, unknown>;
  change(doc);
  return Buffer.from(JSON.stringify(doc));
}

function flipByteB64(s: unknown, at = 0): string {
  const b = Buffer.from(String(s), 'base64');
  b[at] = b[at]! ^ 0x01;
  return b.toString('base64');
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e: unknown = await p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  if (!isConsoleError(e)) throw e;
  return { code: e.code, message: e.message };
}

describe('PassphraseVault', () => {
  const vault = new PassphraseVault('correct horse battery staple');

  it('round-trips, with a fresh salt and iv per seal, and no plaintext in the output', async () => {
    const a = await vault.seal(pem);
    const b = await vault.seal(pem);
    expect(await vault.unseal(a)).toEqual(pem);
    expect(await new PassphraseVault('correct horse battery staple').unseal(b)).toEqual(pem);
    const doc = JSON.parse(a.toString()) as Record<string, unknown>;
    expect(doc).toMatchObject({ v: 1, backend: 'passphrase', kdf: 'scrypt', N: 32768, r: 8, p: 1 });
    expect(Buffer.from(String(doc.salt), 'base64')).toHaveLength(16);
    expect(Buffer.from(String(doc.iv), 'base64')).toHaveLength(12);
    expect(doc.salt).not.toBe(JSON.parse(b.toString()).salt);
    for (const needle of [
      'PRIVATE KEY',
      pem.toString('base64').slice(0, 40),
      pem.subarray(40, 80).toString(),
    ]) {
      expect(a.includes(needle)).toBe(false);
    }
    expect(sealedBackendOf(a)).toBe('passphrase');
    expect(await vault.unseal(await vault.seal(Buffer.alloc(0)))).toEqual(Buffer.alloc(0));
  });

  it('a wrong passphrase is VAULT_LOCKED', async () => {
    const sealed = await vault.seal(pem);
    expect(await errorOf(new PassphraseVault('Correct horse battery staple').unseal(sealed))).toEqual({
      code: 'VAULT_LOCKED',
      message: 'wrong passphrase: the sealed key could not be opened',
    });
  });

  it('rejects tampered ciphertext, tag, iv and KDF parameters', async () => {
    const sealed = await vault.seal(pem);
    const tampered = [
      edit(sealed, (d) => (d.ct = flipByteB64(d.ct, 5))),
      edit(sealed, (d) => (d.tag = flipByteB64(d.tag))),
      edit(sealed, (d) => (d.iv = flipByteB64(d.iv))),
      edit(sealed, (d) => (d.salt = flipByteB64(d.salt))),
      edit(sealed, (d) => (d.N = 2 ** 14)),
    ];
    for (const t of tampered) expect((await errorOf(vault.unseal(t))).code).toBe('VAULT_LOCKED');
  });

  it('garbage and malformed documents are CORRUPT_STATE naming the source', async () => {
    const sealed = await vault.seal(pem);
    expect(await errorOf(vault.unseal(Buffer.from('not json'), '/s/ca.key.sealed'))).toEqual({
      code: 'CORRUPT_STATE',
      message: 'sealed key /s/ca.key.sealed is corrupt: not a sealed-key JSON document',
    });
    const noTag = edit(sealed, (d) => delete d.tag);
    expect(await errorOf(vault.unseal(noTag, 'k'))).toMatchObject({
      code: 'CORRUPT_STATE',
      message: expect.stringContaining('tag'),
    });
    const hugeN = edit(sealed, (d) => (d.N = 2 ** 30));
    expect((await errorOf(vault.unseal(hugeN))).code).toBe('CORRUPT_STATE');
    expect(() => sealedBackendOf(Buffer.from('{"v":2}'))).toThrow(/sealed key is corrupt/);
    expect(() => new PassphraseVault('')).toThrow(/must not be empty/);
  });
});

describe('SafeStorageVault', () => {
  it('round-trips binary data and hides the plaintext', async () => {
    const vault = new SafeStorageVault(fakeSafeStorage());
    const bin = randomBytes(300);
    const sealed = await vault.seal(bin);
    expect(await vault.unseal(sealed)).toEqual(bin);
    expect(JSON.parse(sealed.toString())).toMatchObject({ v: 1, backend: 'safeStorage' });
    expect(sealedBackendOf(sealed)).toBe('safeStorage');
    const sealedPem = await vault.seal(pem);
    expect(sealedPem.includes('PRIVATE KEY')).toBe(false);
    expect(sealedPem.includes(pem.toString('base64').slice(0, 40))).toBe(false);
  });

  it('another keychain, tampering, or no encryption at all is VAULT_LOCKED', async () => {
    const sealed = await new SafeStorageVault(fakeSafeStorage()).seal(pem);
    expect((await errorOf(new SafeStorageVault(fakeSafeStorage()).unseal(sealed))).code).toBe('VAULT_LOCKED');
    const vault = new SafeStorageVault(fakeSafeStorage());
    const own = await vault.seal(pem);
    expect((await errorOf(vault.unseal(edit(own, (d) => (d.ct = flipByteB64(d.ct, 20)))))).code).toBe(
      'VAULT_LOCKED',
    );
    expect((await errorOf(new SafeStorageVault(fakeSafeStorage({ available: false })).seal(pem))).code).toBe(
      'VAULT_LOCKED',
    );
  });

  it('a passphrase-sealed blob is not accepted by the safeStorage vault', async () => {
    const sealed = await new PassphraseVault('pw').seal(pem);
    expect((await errorOf(new SafeStorageVault(fakeSafeStorage()).unseal(sealed))).code).toBe(
      'CORRUPT_STATE',
    );
  });

  it('detects the Linux basic_text backend', () => {
    expect(isBasicTextBackend(fakeSafeStorage({ backend: 'basic_text' }))).toBe(true);
    expect(isBasicTextBackend(fakeSafeStorage({ backend: 'gnome_libsecret' }))).toBe(false);
    expect(isBasicTextBackend(fakeSafeStorage())).toBe(false);
  });
});

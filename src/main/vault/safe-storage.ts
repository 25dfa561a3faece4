import { ConsoleError } from '../errors';
import { B64_RE, parseSealed, safeStorageSealSchema, type Vault } from './format';

/** The part of Electron's `safeStorage` we use; declared here so this module never imports electron. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(s: string): Buffer;
  decryptString(b: Buffer): string;
  getSelectedStorageBackend?(): string;
}

/** Linux without a keyring: safeStorage falls back to a hard-coded key, i.e. obfuscation (DESIGN §6). */
export function isBasicTextBackend(s: SafeStorageLike): boolean {
  return typeof s.getSelectedStorageBackend === 'function' && s.getSelectedStorageBackend() === 'basic_text';
}

export class SafeStorageVault implements Vault {
  readonly backend = 'safeStorage' as const;

  constructor(private readonly safeStorage: SafeStorageLike) {}

  #requireAvailable(): void {
    if (!this.safeStorage.isEncryptionAvailable()) {
      throw new ConsoleError('VAULT_LOCKED', 'OS keychain encryption (safeStorage) is not available');
    }
  }

  async seal(plain: Buffer): Promise<Buffer> {
    this.#requireAvailable();
    // encryptString takes text; base64 carries arbitrary key bytes through it losslessly.
    const ct = this.safeStorage.encryptString(plain.toString('base64'));
    return Buffer.from(JSON.stringify({ v: 1, backend: 'safeStorage', ct: ct.toString('base64') }));
  }

  async unseal(sealed: Buffer, source?: string): Promise<Buffer> {
    const doc = parseSealed(sealed, safeStorageSealSchema, source);
    this.#requireAvailable();
    let text: string;
    try {
      text = this.safeStorage.decryptString(Buffer.from(doc.ct, 'base64'));
    } catch {
      throw new ConsoleError('VAULT_LOCKED', 'the OS keychain could not open the sealed key');
    }
    if (!B64_RE.test(text))
      throw new ConsoleError('VAULT_LOCKED', 'the OS keychain could not open the sealed key');
    return Buffer.from(text, 'base64');
  }
}

import { ConsoleError } from '../errors';
import {
  PassphraseVault,
  SafeStorageVault,
  isBasicTextBackend,
  type SafeStorageLike,
  type Vault,
} from '../vault';
import type { VaultBackend } from '../../shared/model';

/** Hands out the vault that seals a new CA's keys or opens an existing one's (DESIGN.md §6). */
export interface VaultResolver {
  create(choice: { backend: VaultBackend; passphrase?: string }): Promise<Vault>;
  open(backend: VaultBackend): Promise<Vault>;
  /** Remember a passphrase given later (the app's unlock screen). */
  setPassphrase(passphrase: string): void;
  /** Forget it again (a wrong passphrase at unlock). */
  clearPassphrase(): void;
  /** Whether opening a passphrase vault would need a passphrase that nobody has given yet. */
  needsPassphrase(): boolean;
  /** Which backends can seal here, and why one cannot. */
  describe(): { safeStorage: boolean; note?: string };
}

/** A new CA's passphrase: long enough that the scrypt cost is not the only defence. */
export const MIN_PASSPHRASE = 12;

export interface VaultResolverOptions {
  /** Electron's safeStorage in the app; absent in the CLI. */
  safeStorage?: SafeStorageLike;
  /** Asked once, lazily, when a passphrase vault is needed and none was set (prompt or file). */
  passphrase?: () => Promise<string>;
}

export function createVaultResolver(opts: VaultResolverOptions = {}): VaultResolver {
  let passphrase: string | null = null;
  const cached = new Map<string, PassphraseVault>();

  const safeStorageProblem = (): string | undefined => {
    if (!opts.safeStorage) return 'the OS keychain (safeStorage) is only available in the desktop app';
    if (!opts.safeStorage.isEncryptionAvailable()) return 'the OS keychain is not available on this system';
    if (isBasicTextBackend(opts.safeStorage)) {
      return 'no OS keyring was found (Linux basic_text backend: a hard-coded key, not protection); use a passphrase';
    }
    return undefined;
  };

  const passphraseVault = async (given?: string): Promise<Vault> => {
    if (given !== undefined) passphrase = given;
    if (passphrase === null && opts.passphrase) passphrase = await opts.passphrase();
    if (passphrase === null || passphrase === '') {
      throw new ConsoleError('VAULT_LOCKED', 'a passphrase is needed to open the CA keys');
    }
    let vault = cached.get(passphrase);
    if (!vault) {
      vault = new PassphraseVault(passphrase);
      cached.set(passphrase, vault);
    }
    return vault;
  };

  const safeStorageVault = (): Vault => {
    const problem = safeStorageProblem();
    if (problem || !opts.safeStorage)
      throw new ConsoleError('VAULT_LOCKED', problem ?? 'safeStorage unavailable');
    return new SafeStorageVault(opts.safeStorage);
  };

  return {
    async create(choice) {
      if (choice.backend === 'safeStorage') return safeStorageVault();
      const vault = await passphraseVault(choice.passphrase);
      // Checked on the passphrase actually used, whether it came from the app, a file or a prompt.
      if (passphrase === null || passphrase.length < MIN_PASSPHRASE) {
        passphrase = null;
        throw new ConsoleError(
          'INVALID_INPUT',
          `the passphrase must be at least ${MIN_PASSPHRASE} characters (it protects the CA key)`,
        );
      }
      return vault;
    },
    async open(backend) {
      return backend === 'safeStorage' ? safeStorageVault() : passphraseVault();
    },
    needsPassphrase() {
      return passphrase === null && !opts.passphrase;
    },
    setPassphrase(p) {
      passphrase = p;
    },
    clearPassphrase() {
      passphrase = null;
    },
    describe() {
      const note = safeStorageProblem();
      return note === undefined ? { safeStorage: true } : { safeStorage: false, note };
    },
  };
}

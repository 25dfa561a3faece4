import type { SafeStorage } from 'electron';
import type { SafeStorageLike } from '../vault';

/**
 * Electron's safeStorage as the vault's `SafeStorageLike` (DESIGN.md §6). The vault resolver
 * refuses it where Linux has only the `basic_text` backend (a hard-coded key) and reports that in
 * `status.vault.note`, so the operator is told and a passphrase vault is used instead.
 */
export function electronSafeStorage(safeStorage: SafeStorage): SafeStorageLike {
  return {
    isEncryptionAvailable: () => safeStorage.isEncryptionAvailable(),
    encryptString: (plain: string) => safeStorage.encryptString(plain),
    decryptString: (sealed: Buffer) => safeStorage.decryptString(sealed),
    // Only Linux has backends; elsewhere the OS keychain is always the real one.
    getSelectedStorageBackend: () =>
      process.platform === 'linux' ? safeStorage.getSelectedStorageBackend() : 'os_keychain',
  };
}

export { sealedBackendOf, type Vault, type VaultBackend } from './format';
export { PassphraseVault } from './passphrase';
export { isBasicTextBackend, SafeStorageVault, type SafeStorageLike } from './safe-storage';

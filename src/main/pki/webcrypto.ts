import { KeyObject, webcrypto } from 'node:crypto';

/**
 * Node's WebCrypto typed as the standard (DOM lib) interfaces the rest of the app uses,
 * so CryptoKey values flow between modules without per-call casts.
 */
export const nodeCrypto = webcrypto as unknown as Crypto;
export const subtle: SubtleCrypto = nodeCrypto.subtle;

export function toKeyObject(key: CryptoKey): KeyObject {
  return KeyObject.from(key as unknown as webcrypto.CryptoKey);
}

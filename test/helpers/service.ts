import { X509Certificate } from 'node:crypto';
import { createVaultResolver, type ConsoleService } from '../../src/main/service';
import { isConsoleError } from '../../src/main/errors';

/** The passphrase the service tests seal their state with. */
export const PASSPHRASE = 'correct horse battery staple';

/** A vault resolver that already holds PASSPHRASE, as after an unlock. */
export function unlockedVaults(): ReturnType<typeof createVaultResolver> {
  const vaults = createVaultResolver();
  vaults.setPassphrase(PASSPHRASE);
  return vaults;
}

/** A clock the test moves: the service sees Date.now() + shift. */
export function movableClock(): { now: () => Date; add: (ms: number) => void } {
  let shift = 0;
  return { now: () => new Date(Date.now() + shift), add: (ms) => (shift += ms) };
}

/** The rejection's code and message, for `expect(...).toMatchObject`; throws when `p` resolves. */
export async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isConsoleError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}

/** A certificate's public key (SPKI DER, hex): equal for two certificates of the same key. */
export const spkiHex = (pem: string): string =>
  new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');

type InitInput = Parameters<ConsoleService['init']>[0];

/**
 * Creates a CA sealed with PASSPHRASE: ECDSA P-256 and a 90-day server certificate for localhost,
 * unless `extra` says otherwise.
 */
export function initCa(
  service: Pick<ConsoleService, 'init'>,
  caName: string,
  extra: Partial<InitInput> = {},
): ReturnType<ConsoleService['init']> {
  return service.init({
    algorithm: 'ecdsa-p256',
    caName,
    hosts: ['localhost'],
    serverDays: 90,
    vault: { backend: 'passphrase', passphrase: PASSPHRASE },
    ...extra,
  });
}

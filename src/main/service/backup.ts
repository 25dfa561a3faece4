import fs from 'node:fs/promises';
import path from 'node:path';
import { appendAudit } from '../audit';
import { StateDb } from '../db';
import { ConsoleError, isConsoleError } from '../errors';
import { BackupError, importPrivateKey, readCaBackup, summarizeCert, writeCaBackup } from '../pki';
import { fsyncDir } from '../store';
import { DEFAULT_GATEWAY_CONFIG, type VaultBackend } from '../../shared/model';
import { audit, createStateAroundCa, unsealCa, type OpContext } from './ca-ops';
import { outsideStateDir } from './export-path';
import { ioError, stage } from './exports';
import { MIN_PASSPHRASE } from './vaults';

/**
 * CA backup and restore (DESIGN.md §6): the CA key as an encrypted PKCS#8 under a passphrase of its
 * own, with the CA certificate, so a lost keychain or state dir does not mean a new CA for everyone.
 */

const KDF = 'PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC';

export function checkBackupPassphrase(passphrase: string): void {
  if (passphrase.length < MIN_PASSPHRASE) {
    throw new ConsoleError(
      'INVALID_INPUT',
      `the backup passphrase must be at least ${MIN_PASSPHRASE} characters (it protects the CA key)`,
    );
  }
}

export async function backupCa(
  ctx: OpContext,
  input: { readonly outFile: string; readonly passphrase: string },
): Promise<{ file: string; caSerial: string; fingerprintSha256: string }> {
  checkBackupPassphrase(input.passphrase);
  const file = await outsideStateDir(ctx.stateDir, path.resolve(input.outFile));
  const existing = await fs.lstat(file).catch(() => null);
  if (existing) throw new ConsoleError('ALREADY_EXISTS', `refusing to overwrite ${file}`);
  const ca = await unsealCa(ctx);
  const summary = summarizeCert(ca.certPem);
  const text = await writeCaBackup({
    certPem: ca.certPem,
    keyPkcs8Der: ca.keyDer,
    passphrase: input.passphrase,
    comment: [
      `mtls-console CA backup of ${summary.subject} (serial ${summary.serial}), made ${ctx.now().toISOString()}.`,
      `The key is an encrypted PKCS#8 (${KDF}): openssl pkcs8 -in THIS_FILE opens it.`,
      'Restore with: mtls-console restore-ca --in THIS_FILE --state-dir NEW_DIR --hosts ...',
    ].join('\n'),
  });
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw ioError(dir, e);
  });
  const staged = await stage({ final: file, data: text, mode: 0o600 });
  const state = ctx.state();
  try {
    state.tx(() =>
      appendAudit(
        state.db,
        [
          audit(ctx, 'ca.backup.exported', {
            file,
            caSerial: summary.serial,
            fingerprintSha256: summary.fingerprintSha256,
            encryption: KDF,
          }),
        ],
        { signer: ca.signer },
      ),
    );
    // link, not rename: a file that appeared meanwhile is never replaced.
    await fs.link(staged, file).catch((e: unknown) => {
      throw (e as NodeJS.ErrnoException).code === 'EEXIST'
        ? new ConsoleError('ALREADY_EXISTS', `refusing to overwrite ${file}`)
        : ioError(file, e);
    });
    await fsyncDir(dir);
  } finally {
    await fs.unlink(staged).catch(() => undefined);
  }
  return { file, caSerial: summary.serial, fingerprintSha256: summary.fingerprintSha256 };
}

export interface RestoreInput {
  /** The backup file's path, for the audit record and messages. */
  readonly file: string;
  readonly text: string;
  readonly backupPassphrase: string;
  readonly hosts: readonly string[];
  readonly serverDays: number;
  /** The new state dir's vault (its own passphrase). */
  readonly vault: { readonly backend: VaultBackend; readonly passphrase?: string };
}

/** Opens a backup, with BackupError turned into the console's one-line errors. */
async function openBackup(input: RestoreInput) {
  try {
    return await readCaBackup(input.text, input.backupPassphrase);
  } catch (e) {
    if (e instanceof BackupError) {
      throw new ConsoleError(
        e.kind === 'password' ? 'VAULT_LOCKED' : 'INVALID_INPUT',
        `${input.file}: ${e.message}`,
      );
    }
    throw e;
  }
}

/**
 * A fresh state dir around a restored CA: a new database, a new server certificate and an empty
 * registry, sealed under the new state dir's own vault; one transaction with its audit records.
 * Refuses a state dir that already holds a CA.
 */
export async function restoreCa(ctx: OpContext, input: RestoreInput): Promise<StateDb> {
  try {
    StateDb.openExisting(ctx.stateDir).close();
    throw new ConsoleError(
      'ALREADY_EXISTS',
      `a CA already exists in ${ctx.stateDir}; restore into a new state dir`,
    );
  } catch (e) {
    if (!isConsoleError(e) || e.code !== 'NOT_INITIALIZED') throw e;
  }
  const backup = await openBackup(input);
  const now = ctx.now();
  const summary = summarizeCert(backup.certPem);
  if (summary.notAfter.getTime() <= now.getTime()) {
    throw new ConsoleError(
      'CA_EXPIRED',
      `the CA in ${input.file} expired on ${summary.notAfter.toISOString()}; it can no longer sign`,
    );
  }
  const vault = await ctx.vaults.create(input.vault);
  return createStateAroundCa(ctx, vault, {
    certPem: backup.certPem,
    keyDer: backup.keyPkcs8Der,
    privateKey: await importPrivateKey(backup.keyPkcs8Der, backup.algorithm),
    algorithm: backup.algorithm,
    caName: summary.commonName || summary.subject,
    hosts: input.hosts,
    serverDays: input.serverDays,
    gateway: DEFAULT_GATEWAY_CONFIG,
    record: audit(ctx, 'ca.restored', {
      from: input.file,
      subject: summary.subject,
      algorithm: backup.algorithm,
      serial: summary.serial,
      fingerprintSha256: summary.fingerprintSha256,
      notAfter: summary.notAfter.toISOString(),
      vault: vault.backend,
    }),
  });
}

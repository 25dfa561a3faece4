import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { appendAudit, type AuditEntryInput, type AuditSigner } from '../audit';
import { ConsoleError } from '../errors';
import { crlDerToPem, privateKeyPem } from '../pki';
import { fsyncDir, tempNameFor } from '../store';
import { audit, unsealCa, type OpContext } from './ca-ops';
import { outsideStateDir, realPathOfFuture } from './export-path';
import { readGatewayTrust } from './rollover';
import { readCa, readCrl, readCurrentServer, readMeta } from './state';

/**
 * Hands the gateway's material to other verifiers and proxies (issue 9): the CA certificate, the CA
 * chain, the CRL and, explicitly confirmed, the server certificate with its key for a proxy such as
 * nginx. Files are staged beside their final names, the audit records committed, then the files
 * renamed into place: a key never lands in a folder without its record.
 */

/** How the operator confirmed that the server's private key may leave the vault. */
export type KeyExportConfirmation = 'flag' | 'prompt' | 'dialog';

export interface ExportInput {
  readonly outDir: string;
  /** ca.crt: the CA certificate. */
  readonly ca?: boolean;
  /** ca-chain.crt: every CA certificate the gateway trusts (both roots while a CA rollover runs). */
  readonly chain?: boolean;
  readonly crl?: 'pem' | 'der';
  /** server.crt and server.key (0600): only with a confirmation. */
  readonly server?: boolean;
  readonly serverKeyConfirmed?: KeyExportConfirmation;
}

export interface ExportedFile {
  readonly role: 'ca' | 'chain' | 'crl' | 'server-cert' | 'server-key';
  readonly path: string;
  /** Octal, e.g. "600". */
  readonly mode: string;
}

export interface ExportResult {
  readonly dir: string;
  readonly files: readonly ExportedFile[];
}

interface Planned {
  readonly role: ExportedFile['role'];
  readonly final: string;
  readonly data: string | Buffer;
  readonly mode: number;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

export async function exportMaterial(ctx: OpContext, input: ExportInput): Promise<ExportResult> {
  if (!input.ca && !input.chain && !input.crl && !input.server) {
    throw new ConsoleError('INVALID_INPUT', 'nothing to export: choose --ca, --chain, --crl or --server');
  }
  if (input.server && input.serverKeyConfirmed === undefined) {
    throw new ConsoleError(
      'INVALID_INPUT',
      "exporting the server's private key needs --yes-export-server-key (or a confirmation on a terminal)",
    );
  }
  const dir = await realPathOfFuture(path.resolve(input.outDir));
  const stat = await fs.stat(dir).catch(() => null);
  if (stat && !stat.isDirectory()) {
    throw new ConsoleError('INVALID_INPUT', `output path ${dir} exists and is not a directory`);
  }
  const at = (name: string) => path.join(dir, name);
  // Checked before the vault is asked for anything: a refused folder costs no passphrase.
  const names = [
    ...(input.ca ? ['ca.crt'] : []),
    ...(input.chain ? ['ca-chain.crt'] : []),
    ...(input.crl ? [`crl.${input.crl}`] : []),
    ...(input.server ? ['server.crt', 'server.key'] : []),
  ];
  for (const name of names) await outsideStateDir(ctx.stateDir, at(name));
  const state = ctx.state();
  const snap = state.read(() => ({
    meta: readMeta(state.db),
    caPem: readCa(state.db).certPem,
    crl: readCrl(state.db),
    server: readCurrentServer(state.db),
    // During a CA rollover: both roots, and the server certificate followed by its cross certificate,
    // so a proxy fed these files serves what the gateway serves.
    trust: readGatewayTrust(state.db),
  }));

  const planned: Planned[] = [];
  if (input.ca) planned.push({ role: 'ca', final: at('ca.crt'), data: snap.caPem, mode: 0o644 });
  if (input.chain)
    planned.push({ role: 'chain', final: at('ca-chain.crt'), data: snap.trust.caPem, mode: 0o644 });
  if (input.crl === 'pem') {
    planned.push({ role: 'crl', final: at('crl.pem'), data: crlDerToPem(snap.crl.der), mode: 0o644 });
  } else if (input.crl === 'der') {
    planned.push({ role: 'crl', final: at('crl.der'), data: snap.crl.der, mode: 0o644 });
  }
  let signer: AuditSigner | null = null;
  if (input.server) {
    // The vault opens here, before anything is written: a wrong passphrase changes nothing.
    const vault = await ctx.vaults.open(snap.meta.vaultBackend);
    const keyDer = await vault.unseal(snap.server.sealedKey, `the server key in ${state.file}`);
    signer = (await unsealCa(ctx)).signer;
    planned.push(
      { role: 'server-cert', final: at('server.crt'), data: snap.trust.certPem, mode: 0o600 },
      { role: 'server-key', final: at('server.key'), data: privateKeyPem(keyDer), mode: 0o600 },
    );
  }

  const entries: AuditEntryInput[] = [];
  const fileOf = (role: ExportedFile['role']) => planned.find((p) => p.role === role)?.final;
  if (input.ca || input.chain) {
    entries.push(
      audit(ctx, 'ca.exported', {
        files: [fileOf('ca'), fileOf('chain')].filter((f) => f !== undefined),
        sha256: sha256(input.chain ? snap.trust.caPem : snap.caPem),
      }),
    );
  }
  if (input.crl) {
    entries.push(
      audit(ctx, 'crl.exported', {
        file: fileOf('crl'),
        format: input.crl,
        crlNumber: String(snap.crl.number),
        nextUpdate: snap.crl.nextUpdate,
      }),
    );
  }
  if (input.server) {
    entries.push(
      audit(
        ctx,
        'server.key.exported',
        {
          files: [fileOf('server-cert'), fileOf('server-key')],
          notAfter: snap.server.notAfter,
          confirmed: input.serverKeyConfirmed,
        },
        { serial: snap.server.serial },
      ),
    );
  }

  await fs.mkdir(dir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw ioError(dir, e);
  });
  const staged: string[] = [];
  try {
    for (const p of planned) staged.push(await stage(p));
    state.tx(() => appendAudit(state.db, entries, signer ? { signer } : {}));
  } catch (e) {
    await Promise.all(staged.map((s) => fs.unlink(s).catch(() => undefined)));
    throw e;
  }
  try {
    for (const [i, p] of planned.entries()) await fs.rename(staged[i] as string, p.final);
    await fsyncDir(dir);
  } catch (e) {
    await Promise.all(staged.map((s) => fs.unlink(s).catch(() => undefined)));
    throw ioError(dir, e);
  }
  return {
    dir,
    files: planned.map((p) => ({ role: p.role, path: p.final, mode: p.mode.toString(8) })),
  };
}

/** Writes a file in full under a temporary name beside its final one, with its final mode. */
export async function stage(p: { final: string; data: string | Buffer; mode: number }): Promise<string> {
  const tmp = tempNameFor(p.final);
  let handle: fs.FileHandle | null = null;
  try {
    // 'wx': never follows a planted symlink, never shares a file with another writer.
    handle = await fs.open(tmp, 'wx', p.mode);
    await handle.writeFile(p.data);
    await handle.sync();
    if (process.platform !== 'win32') await handle.chmod(p.mode);
    return tmp;
  } catch (e) {
    await fs.unlink(tmp).catch(() => undefined);
    throw ioError(p.final, e);
  } finally {
    await handle?.close();
  }
}

export function ioError(file: string, e: unknown): ConsoleError {
  if (e instanceof ConsoleError) return e;
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'disk full' : (err.code ?? err.message ?? String(e));
  return new ConsoleError('IO', `cannot write ${file}: ${why}`);
}

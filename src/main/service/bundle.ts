import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConsoleError } from '../errors';
import { privateKeyPem } from '../pki';
import { fsyncDir } from '../store';
import { realPathOfFuture } from './export-path';

/** A client bundle: NAME.crt, NAME.key (0600), ca.crt and, with a password, NAME.p12 (DESIGN.md §1). */
export interface BundleTargets {
  readonly dir: string;
  readonly cert: string;
  /** Absent when a CSR was signed: the key never left its owner's machine. */
  readonly key?: string;
  readonly ca: string;
  readonly p12?: string;
}

/**
 * Where a bundle goes. Symlinks are resolved first (on the nearest existing ancestor, as the folder may
 * not exist yet): a plain key must never land in the state dir, which holds sealed keys only.
 */
export async function bundleTargets(
  outDir: string,
  name: string,
  withP12: boolean,
  stateDir: string,
  withKey = true,
): Promise<BundleTargets> {
  const dir = await realPathOfFuture(path.resolve(outDir));
  const state = await realPathOfFuture(path.resolve(stateDir));
  if (dir === state || dir.startsWith(state + path.sep) || state.startsWith(dir + path.sep)) {
    throw new ConsoleError('INVALID_INPUT', `export the bundle outside the state dir ${state}`);
  }
  // The name was validated against [A-Za-z0-9._@-]; basename is a second guard against path tricks.
  const base = path.basename(name);
  return {
    dir,
    cert: path.join(dir, `${base}.crt`),
    ...(withKey ? { key: path.join(dir, `${base}.key`) } : {}),
    ca: path.join(dir, 'ca.crt'),
    ...(withP12 ? { p12: path.join(dir, `${base}.p12`) } : {}),
  };
}

/**
 * Refuses when a file would be overwritten (unless forced); an identical ca.crt is not a conflict,
 * nor one that holds only certificates of our own CAs (`ourCaPems`: it is replaced by the current
 * trust, e.g. both roots while a CA rollover runs).
 */
export async function checkBundleTargets(
  targets: BundleTargets,
  caCertPem: string,
  force: boolean,
  ourCaPems: readonly string[] = [],
): Promise<void> {
  const stat = await fs.stat(targets.dir).catch(() => null);
  if (stat && !stat.isDirectory()) {
    throw new ConsoleError('INVALID_INPUT', `output path ${targets.dir} exists and is not a directory`);
  }
  if (force) return;
  const existing: string[] = [];
  for (const file of [targets.cert, targets.key, targets.p12]) {
    if (file && (await exists(file))) existing.push(file);
  }
  const ca = await fs.readFile(targets.ca, 'utf8').catch(() => null);
  if (ca !== null && ca !== caCertPem && !onlyOurCas(ca, ourCaPems)) existing.push(targets.ca);
  if (existing.length > 0) {
    throw new ConsoleError('ALREADY_EXISTS', `refusing to overwrite ${existing.join(', ')} (use --force)`);
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Whether a ca.crt's text is nothing but certificates of our CAs (compared block by block). */
export function onlyOurCas(text: string, ourCaPems: readonly string[]): boolean {
  const ours = new Set(ourCaPems.flatMap((p) => p.match(PEM_BLOCK) ?? []).map((b) => b.replace(/\s+/g, '')));
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0 || text.replace(PEM_BLOCK, '').trim() !== '') return false;
  return blocks.every((b) => ours.has(b.replace(/\s+/g, '')));
}

export interface BundleContent {
  readonly certPem: string;
  /** Absent for a signed CSR (no key to ship). */
  readonly keyDer?: Buffer;
  readonly caCertPem: string;
  /** The password-protected PKCS#12, already built. */
  readonly p12?: Buffer;
}

/** A file written in full under a temporary name beside its final one. */
export interface StagedFile {
  readonly staged: string;
  readonly final: string;
  readonly sha256: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A bundle file to be written under a temporary name, with what it will hold. */
export interface PlannedFile extends StagedFile {
  readonly data: string | Buffer;
  readonly mode: number;
}

/** Names and contents of the bundle's files, before anything is written (so they can be recorded first). */
export function planBundle(targets: BundleTargets, content: BundleContent): PlannedFile[] {
  const files: [string, string | Buffer, number][] = [];
  if (targets.key && content.keyDer) files.push([targets.key, privateKeyPem(content.keyDer), 0o600]);
  files.push([targets.cert, content.certPem, 0o644], [targets.ca, content.caCertPem, 0o644]);
  if (targets.p12 && content.p12) files.push([targets.p12, content.p12, 0o600]);
  return files.map(([final, data, mode]) => ({
    staged: path.join(
      path.dirname(final),
      `.${path.basename(final)}.staged-${process.pid}-${randomBytes(4).toString('hex')}`,
    ),
    final,
    sha256: sha256(data),
    data,
    mode,
  }));
}

/**
 * Writes every planned file under its temporary name (fsynced, final mode), so that after the
 * certificate is committed only renames remain. On failure nothing is left behind.
 */
export async function stageBundle(dir: string, planned: readonly PlannedFile[]): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw ioError(dir, e);
  });
  try {
    for (const f of planned) await writeNew(f.staged, f.data, f.mode, f.final);
  } catch (e) {
    await discardStaged(planned);
    throw e;
  }
}

async function writeNew(file: string, data: string | Buffer, mode: number, shownAs: string): Promise<void> {
  let handle: fs.FileHandle | null = null;
  try {
    // 'wx' never follows a symlink planted at the name, and never shares a file with another writer.
    handle = await fs.open(file, 'wx', mode);
    await handle.writeFile(data);
    await handle.sync();
    if (process.platform !== 'win32') await handle.chmod(mode);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    handle = null;
    await fs.unlink(file).catch(() => undefined);
    throw ioError(shownAs, e);
  } finally {
    await handle?.close();
  }
}

/**
 * Moves staged files to their names. Without `force` an existing file is never replaced (link fails
 * on EEXIST); an identical ca.crt is left as it is. On failure, the files this call placed are removed
 * again and the error names the file.
 */
export async function placeBundle(
  staged: readonly StagedFile[],
  force: boolean,
  ourCaPems: readonly string[] = [],
): Promise<void> {
  const placed: StagedFile[] = [];
  try {
    for (const f of staged) {
      if (force) {
        await fs.rename(f.staged, f.final);
      } else {
        try {
          await fs.link(f.staged, f.final);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (
            code === 'EEXIST' &&
            path.basename(f.final) === 'ca.crt' &&
            (await hashOf(f.final)) === f.sha256
          ) {
            await fs.unlink(f.staged);
            continue;
          }
          // Another generation of our own trust (a CA rollover started or ended): brought up to date.
          if (
            code === 'EEXIST' &&
            path.basename(f.final) === 'ca.crt' &&
            onlyOurCas((await fs.readFile(f.final, 'utf8').catch(() => '')) || '', ourCaPems)
          ) {
            await fs.rename(f.staged, f.final);
            continue;
          }
          if (code === 'EEXIST') {
            throw new ConsoleError('ALREADY_EXISTS', `refusing to overwrite ${f.final} (use --force)`);
          }
          throw e;
        }
        await fs.unlink(f.staged);
      }
      placed.push(f);
    }
    const dir = staged[0] ? path.dirname(staged[0].final) : null;
    if (dir) await fsyncDir(dir);
  } catch (e) {
    await removeIfOurs(placed);
    await discardStaged(staged);
    throw e instanceof ConsoleError ? e : ioError(staged[placed.length]?.final ?? 'bundle', e);
  }
}

/** Removes staged files that are still there. */
export async function discardStaged(staged: readonly StagedFile[]): Promise<void> {
  for (const f of staged) await fs.unlink(f.staged).catch(() => undefined);
}

/**
 * Removes final files only where they still hold what we wrote (never someone else's file). ca.crt is
 * left alone: it is public and the same in every bundle of the folder, so it may be another's.
 */
export async function removeIfOurs(files: readonly StagedFile[]): Promise<void> {
  for (const f of files) {
    if (path.basename(f.final) === 'ca.crt') continue;
    if ((await hashOf(f.final)) === f.sha256) await fs.unlink(f.final).catch(() => undefined);
  }
}

/** Whether every file of a bundle is in place with the content that was staged. */
export async function bundleComplete(files: readonly StagedFile[]): Promise<boolean> {
  for (const f of files) if ((await hashOf(f.final)) !== f.sha256) return false;
  return true;
}

async function hashOf(file: string): Promise<string | null> {
  return fs.readFile(file).then(sha256, () => null);
}

export function curlLine(
  files: { cert: string; key: string; ca: string },
  host: string,
  listen: string,
): string {
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `curl --cacert ${q(files.ca)} --cert ${q(files.cert)} --key ${q(files.key)} https://${hostPart}:${port}/`;
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

function ioError(file: string, e: unknown): ConsoleError {
  if (e instanceof ConsoleError) return e;
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'disk full' : (err.code ?? err.message ?? String(e));
  return new ConsoleError('IO', `cannot write ${file}: ${why}`);
}

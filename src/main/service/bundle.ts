import fs from 'node:fs/promises';
import path from 'node:path';
import { ConsoleError } from '../errors';
import { atomicWriteFile } from '../store';
import { privateKeyPem } from '../pki';

/** A client bundle: NAME.crt, NAME.key (0600), ca.crt and, with a password, NAME.p12 (DESIGN.md §1). */
export interface BundleTargets {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly p12?: string;
}

export function bundleTargets(outDir: string, name: string, withP12: boolean): BundleTargets {
  const dir = path.resolve(outDir);
  // The name was validated against [A-Za-z0-9._@-]; basename is a second guard against path tricks.
  const base = path.basename(name);
  return {
    dir,
    cert: path.join(dir, `${base}.crt`),
    key: path.join(dir, `${base}.key`),
    ca: path.join(dir, 'ca.crt'),
    ...(withP12 ? { p12: path.join(dir, `${base}.p12`) } : {}),
  };
}

/** Refuses when a file would be overwritten (unless forced); an identical ca.crt is not a conflict. */
export async function checkBundleTargets(
  targets: BundleTargets,
  caCertPem: string,
  force: boolean,
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
  if (ca !== null && ca !== caCertPem) existing.push(targets.ca);
  if (existing.length > 0) {
    throw new ConsoleError('ALREADY_EXISTS', `refusing to overwrite ${existing.join(', ')} (use --force)`);
  }
}

export interface BundleContent {
  readonly certPem: string;
  readonly keyDer: Buffer;
  readonly caCertPem: string;
  /** The password-protected PKCS#12, already built. */
  readonly p12?: Buffer;
  readonly force: boolean;
}

export async function writeBundle(targets: BundleTargets, content: BundleContent): Promise<void> {
  await fs.mkdir(targets.dir, { recursive: true, mode: 0o700 });
  const write = async (file: string, data: string | Buffer, mode: number) => {
    if (content.force) return atomicWriteFile(file, data, mode);
    // 'wx' fails if another process created the file since the check: still no overwrite.
    const handle = await fs.open(file, 'wx', mode).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST')
        throw new ConsoleError('ALREADY_EXISTS', `refusing to overwrite ${file} (use --force)`);
      throw new ConsoleError('IO', `cannot write ${file}: ${e.message}`);
    });
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
  await write(targets.key, privateKeyPem(content.keyDer), 0o600);
  await write(targets.cert, content.certPem, 0o644);
  if (!(await exists(targets.ca)) || content.force) await write(targets.ca, content.caCertPem, 0o644);
  if (targets.p12 && content.p12) await write(targets.p12, content.p12, 0o600);
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
  return fs
    .access(file)
    .then(() => true)
    .catch(() => false);
}

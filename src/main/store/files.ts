import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ConsoleError } from '../errors';

const IS_WINDOWS = process.platform === 'win32';

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e
    ? String((e as { code: unknown }).code)
    : undefined;
}

/** Wraps a filesystem failure as IO, leaving our own errors untouched. */
export function ioError(what: string, e: unknown): ConsoleError {
  if (e instanceof ConsoleError) return e;
  return new ConsoleError('IO', `${what}: ${errMessage(e)}`);
}

/**
 * Temp files carry the writer's pid so a later lock stealer can tell leftovers of a killed process
 * (see sweepDeadTempFiles in lock.ts) from a write still in progress.
 */
export const TEMP_RE = /\.tmp-(\d+)-[0-9a-f]{12}$/;

export function tempNameFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

export async function ensureStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await stat(dir);
    if (!st.isDirectory()) throw new ConsoleError('IO', `state dir ${dir} exists but is not a directory`);
    // mkdir honours umask and leaves an existing dir alone, so enforce the mode explicitly (POSIX only).
    if (!IS_WINDOWS && (st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
  } catch (e) {
    throw ioError(`could not prepare state dir ${dir}`, e);
  }
}

/** fsync a directory so a rename or create inside it survives power loss; not possible on Windows. */
export async function fsyncDir(dir: string): Promise<void> {
  if (IS_WINDOWS) return;
  const fh = await open(dir, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function atomicWriteFile(
  target: string,
  data: string | Uint8Array,
  mode: number = 0o600,
): Promise<void> {
  const tmp = tempNameFor(target);
  let renamed = false;
  try {
    // 'wx' so two writers can never share a temp file; mode applies from the first byte.
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
      // The create mode is filtered by umask; chmod makes the final mode exact.
      if (!IS_WINDOWS) await fh.chmod(mode);
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    renamed = true;
    await fsyncDir(path.dirname(target));
  } catch (e) {
    if (!renamed) await unlink(tmp).catch(() => undefined);
    throw ioError(`could not write ${target}`, e);
  }
}

export async function readFileIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw ioError(`could not read ${file}`, e);
  }
}

/** First zod issue as `path: message`, short enough for one CLI line. */
export function describeZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid value';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return `${where}: ${issue.message}`;
}

export async function readJsonFile<T>(file: string, schema: z.ZodType<T>): Promise<T | null> {
  const buf = await readFileIfExists(file);
  if (buf === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new ConsoleError('CORRUPT_STATE', `state file ${file} is corrupt: invalid JSON (${errMessage(e)})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConsoleError(
      'CORRUPT_STATE',
      `state file ${file} is corrupt: ${describeZodError(parsed.error)}`,
    );
  }
  return parsed.data;
}

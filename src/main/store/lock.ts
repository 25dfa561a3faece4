import { randomBytes } from 'node:crypto';
import { link, open, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConsoleError } from '../errors';
import { ensureStateDir, errCode, ioError, TEMP_RE, tempNameFor } from './files';
import { isProcessDead, selfIdentity, type ProcessIdentity } from './proc';

const LOCK_NAME = '.lock';
/** Longest backoff between attempts: short, so a released lock is picked up within a few tens of ms. */
const MAX_DELAY_MS = 50;
/** An unreadable lock/marker (only possible after power loss, or on a filesystem without hard links) is
 *  considered abandoned after this long; a live writer fills it within microseconds. */
const UNREADABLE_STALE_MS = 10_000;
/** Bounds the marker-of-marker recursion (each level needs another stealer killed mid-steal). */
const MAX_STEAL_DEPTH = 8;

const ownerSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  acquiredAt: z.string(),
  token: z.string(),
  startTime: z.string().optional(),
});

interface Observed {
  /** Exact bytes seen: every lock/marker carries a random token, so equal bytes mean the same acquisition. */
  readonly raw: string;
  readonly owner: ProcessIdentity | null;
}

function ownerContent(): string {
  return JSON.stringify({
    ...selfIdentity(),
    acquiredAt: new Date().toISOString(),
    token: randomBytes(16).toString('hex'),
  });
}

/**
 * Creates `file` with `content` only if it does not exist. Written to a temp file and hard-linked into
 * place, so nobody ever observes an empty lock (O_EXCL + write would leave one behind if killed between).
 */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = tempNameFor(file);
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, file);
    return true;
  } catch (e) {
    const code = errCode(e);
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS')
      return createExclusiveNoLink(file, content);
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Fallback for filesystems without hard links; the brief empty window is covered by UNREADABLE_STALE_MS. */
async function createExclusiveNoLink(file: string, content: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(file, 'wx', 0o600);
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
  return true;
}

async function observe(file: string): Promise<Observed | null> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
  let owner: ProcessIdentity | null = null;
  try {
    const parsed = ownerSchema.safeParse(JSON.parse(raw));
    if (parsed.success) owner = parsed.data;
  } catch {
    owner = null;
  }
  return { raw, owner };
}

async function isAbandoned(file: string, seen: Observed): Promise<boolean> {
  if (seen.owner) return isProcessDead(seen.owner);
  try {
    const st = await stat(file);
    return Date.now() - st.mtimeMs > UNREADABLE_STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Removes `file` if it still holds exactly `seen` (an abandoned acquisition). Stealers of one owner are
 * serialized by the O_EXCL marker `<file>.steal.<pid>`, and a file with a given token is only ever
 * removed by its owner or by the marker holder, so the re-check below cannot race with a fresh lock.
 * A marker left by a stealer that was itself killed is cleared the same way, one level down.
 */
async function removeIfAbandoned(file: string, seen: Observed, depth: number): Promise<boolean> {
  if (depth > MAX_STEAL_DEPTH) return false;
  const marker = `${file}.steal.${seen.owner ? seen.owner.pid : 'unreadable'}`;
  const markerContent = ownerContent();
  if (!(await createExclusive(marker, markerContent))) {
    const other = await observe(marker);
    if (other && (await isAbandoned(marker, other))) await removeIfAbandoned(marker, other, depth + 1);
    return false; // either way the caller just retries
  }
  try {
    const now = await observe(file);
    if (now === null || now.raw !== seen.raw) return false;
    await unlink(file).catch((e: unknown) => {
      if (errCode(e) !== 'ENOENT') throw e;
    });
    return true;
  } finally {
    await unlink(marker).catch(() => undefined);
  }
}

/** Temp files (atomic writes, lock creation) left by killed processes are garbage; drop them. */
async function sweepDeadTempFiles(dir: string): Promise<void> {
  const self = selfIdentity();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    const pid = m ? Number(m[1]) : NaN;
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === self.pid) continue;
    if (isProcessDead({ pid, hostname: self.hostname }))
      await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

function timeoutError(dir: string, holder: string, timeoutMs: number): ConsoleError {
  return new ConsoleError(
    'IO',
    `state dir ${dir} is locked by ${holder}; gave up after ${formatSeconds(timeoutMs)}`,
  );
}

interface Held {
  readonly lockPath: string;
  readonly content: string;
}

async function acquireFileLock(dir: string, deadline: number, timeoutMs: number): Promise<Held> {
  const lockPath = path.join(dir, LOCK_NAME);
  let delay = 2;
  for (;;) {
    const content = ownerContent();
    if (await createExclusive(lockPath, content)) return { lockPath, content };
    const seen = await observe(lockPath);
    if (seen === null) continue; // released between our two calls: try again at once
    if (await isAbandoned(lockPath, seen)) {
      if (await removeIfAbandoned(lockPath, seen, 0)) {
        await sweepDeadTempFiles(dir);
        continue;
      }
      // Another waiter is stealing it right now: back off like any other wait.
    }
    const now = Date.now();
    if (now >= deadline) {
      throw timeoutError(dir, seen.owner ? `pid ${seen.owner.pid}` : 'an unknown process', timeoutMs);
    }
    // Jitter keeps two waiters from retrying in lockstep.
    await sleep(Math.min(deadline - now, delay * (0.75 + Math.random() / 2)));
    delay = Math.min(MAX_DELAY_MS, delay * 1.5);
  }
}

async function releaseFileLock(held: Held): Promise<void> {
  const seen = await observe(held.lockPath);
  // Never remove a lock that is not ours (cannot happen while we live, but a check is cheap).
  if (seen === null || seen.raw !== held.content) return;
  await unlink(held.lockPath).catch((e: unknown) => {
    if (errCode(e) !== 'ENOENT') throw e;
  });
}

/** In-process queue per dir, in front of the file lock (which cannot tell two callers of one pid apart). */
const queues = new Map<string, Promise<void>>();

async function waitTurn(
  prev: Promise<void>,
  deadline: number,
  dir: string,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(timeoutError(dir, `pid ${process.pid} (this process)`, timeoutMs)),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    await Promise.race([prev, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `fn` while holding the state dir's inter-process lock. Not re-entrant: calling it again from
 * inside `fn` for the same dir deadlocks until the timeout.
 */
export async function withStateLock<T>(
  stateDir: string,
  fn: () => Promise<T>,
  opts: { timeoutMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new ConsoleError(
      'INVALID_INPUT',
      `lock timeout must be a non-negative number of ms, got ${timeoutMs}`,
    );
  }
  const dir = path.resolve(stateDir);
  const deadline = Date.now() + timeoutMs;
  const prev = queues.get(dir) ?? Promise.resolve();
  let done: () => void = () => undefined;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const tail = prev.then(() => mine);
  queues.set(dir, tail);
  try {
    await waitTurn(prev, deadline, dir, timeoutMs);
    await ensureStateDir(dir);
    let held: Held;
    try {
      held = await acquireFileLock(dir, deadline, timeoutMs);
    } catch (e) {
      throw ioError(`could not lock state dir ${dir}`, e);
    }
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      // fn's error matters more than a failed release.
      await releaseFileLock(held).catch(() => undefined);
      throw e;
    }
    try {
      await releaseFileLock(held);
    } catch (e) {
      throw ioError(`could not unlock state dir ${dir}`, e);
    }
    return result;
  } finally {
    done();
    if (queues.get(dir) === tail) queues.delete(dir);
  }
}

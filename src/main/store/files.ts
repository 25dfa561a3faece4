import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConsoleError } from '../errors';

/** Atomic writes of the files beside the database (exports such as crl.pem) and of operator exports. */

const IS_WINDOWS = process.platform === 'win32';

/** Wraps a filesystem failure as IO, leaving our own errors untouched. */
function ioError(what: string, e: unknown): ConsoleError {
  if (e instanceof ConsoleError) return e;
  return new ConsoleError('IO', `${what}: ${e instanceof Error ? e.message : String(e)}`);
}

/** A hidden temp name beside `target`; the pid tells whose leftover it is. */
export function tempNameFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** fsync a directory so a rename or create inside it survives power loss; not possible on Windows. */
export async function fsyncDir(dir: string): Promise<void> {
  if (IS_WINDOWS) return;
  const fh = await open(dir, 'r');
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

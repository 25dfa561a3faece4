import { createWriteStream } from 'node:fs';
import { chmod, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConsoleError } from '../errors';
import { fsyncDir, tempNameFor } from '../store';

const IS_WINDOWS = process.platform === 'win32';

/**
 * Streams chunks into a 0600 temp file beside `target` (through `transform`, e.g. gzip), fsyncs it and
 * renames it into place: a reader never sees half a file, and a crash leaves only a temp file.
 * The pipeline applies backpressure, so memory stays at one chunk however long the source is.
 */
export async function writeFileAtomically(
  target: string,
  source: AsyncIterable<string>,
  opts: { transform?: Transform; overwrite?: boolean } = {},
): Promise<void> {
  const tmp = tempNameFor(target);
  try {
    if (!opts.overwrite) {
      const exists = await open(target).then(
        async (fh) => (await fh.close(), true),
        () => false,
      );
      if (exists) throw new ConsoleError('ALREADY_EXISTS', `${target} already exists`);
    }
    // 'wx': a temp name is never shared; flush: fsync before close, so the rename publishes durable bytes.
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true });
    const input = Readable.from(source, { objectMode: false });
    await (opts.transform ? pipeline(input, opts.transform, out) : pipeline(input, out));
    if (!IS_WINDOWS) await chmod(tmp, 0o600); // the create mode is filtered by umask
    await rename(tmp, target);
    await fsyncDir(path.dirname(target));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (e instanceof ConsoleError) throw e;
    throw new ConsoleError('IO', `could not write ${target}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Lets other work run between chunks of a long read on the shared connection. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

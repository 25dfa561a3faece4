import fs from 'node:fs/promises';
import path from 'node:path';
import { ConsoleError } from '../errors';

/** The real path `p` will have once created: symlinks of its nearest existing ancestor resolved. */
export async function realPathOfFuture(p: string): Promise<string> {
  const missing: string[] = [];
  let cur = path.resolve(p);
  for (;;) {
    try {
      return path.join(await fs.realpath(cur), ...missing.reverse());
    } catch (e) {
      const parent = path.dirname(cur);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === cur) {
        throw new ConsoleError('IO', `cannot resolve ${p}: ${(e as Error).message}`);
      }
      missing.push(path.basename(cur));
      cur = parent;
    }
  }
}

/**
 * Refuses an output file inside the state dir (symlinks resolved): an export must never replace the
 * database or land a plain key beside the sealed ones. `allowUnder` names a subfolder that is fine
 * (the automatic audit archives).
 */
export async function outsideStateDir(stateDir: string, file: string, allowUnder?: string): Promise<string> {
  const target = await realPathOfFuture(file);
  const state = await realPathOfFuture(stateDir);
  const inside = (dir: string) => target === dir || target.startsWith(dir + path.sep);
  if (allowUnder !== undefined && inside(path.join(state, allowUnder))) return target;
  if (inside(state) || state.startsWith(target + path.sep)) {
    throw new ConsoleError('INVALID_INPUT', `refusing to write ${file}: it is inside the state dir ${state}`);
  }
  return target;
}

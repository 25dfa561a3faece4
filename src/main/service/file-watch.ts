import fs from 'node:fs';
import path from 'node:path';

/**
 * Calls `onChange` when any of `files` is replaced. State files are replaced by rename, so a watch on
 * the directory sees them; a short poll of (inode, mtime, size) backs it up where fs.watch is unreliable
 * (network filesystems, some containers). Either way a change is seen well within a second.
 */
export function watchFiles(
  files: readonly string[],
  onChange: (file: string) => void,
  pollMs = 200,
): () => void {
  const stamps = new Map<string, string>();
  const stamp = (file: string): string => {
    try {
      const st = fs.statSync(file);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return 'absent';
    }
  };
  for (const f of files) stamps.set(f, stamp(f));
  const check = (file: string) => {
    const next = stamp(file);
    if (stamps.get(file) !== next) {
      stamps.set(file, next);
      onChange(file);
    }
  };
  const checkAll = () => files.forEach(check);

  const watchers: fs.FSWatcher[] = [];
  for (const dir of new Set(files.map((f) => path.dirname(f)))) {
    try {
      const w = fs.watch(dir, { persistent: false }, (_event, name) => {
        const file = name ? path.join(dir, name.toString()) : null;
        if (file && stamps.has(file)) check(file);
      });
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // The poll below still notices changes.
    }
  }
  const timer = setInterval(checkAll, pollMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const w of watchers) w.close();
  };
}

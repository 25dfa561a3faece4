// Test support only (not exported from index): runs a *.fixture.ts file in a real child process.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';

const repoRoot = path.resolve(__dirname, '../../..');

export interface FixtureProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  /** Resolves with the next stdout line (rejects if the child exits first). */
  nextLine(): Promise<string>;
  /** Resolves with the exit code, or the signal name. */
  exited: Promise<number | string>;
  stderr(): string;
}

export function startFixture(file: string, args: readonly string[]): FixtureProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (err += d));
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const lines: string[] = [];
  const waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  let closed = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiters.shift();
    if (w) w.resolve(line);
    else lines.push(line);
  });
  void exited.then((how) => {
    closed = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`fixture exited (${how}) before a line: ${err}`));
  });
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  return {
    child,
    pid: child.pid,
    exited,
    stderr: () => err,
    nextLine: () => {
      const l = lines.shift();
      if (l !== undefined) return Promise.resolve(l);
      if (closed) return Promise.reject(new Error(`fixture already exited: ${err}`));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
  };
}

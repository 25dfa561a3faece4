/** Test-only harness: the real openssl CLI as an independent checker, on files in a private temp dir. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Never rejects: tests assert on the exit code, including expected failures. */
export function openssl(args: string[], cwd?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(OPENSSL, args, { cwd, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface TempDir {
  path: string;
  file(name: string, content: string | Buffer): Promise<string>;
  remove(): Promise<void>;
}

export async function makeTempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'mtls-pki-'));
  return {
    path,
    async file(name, content) {
      const full = join(path, name);
      await writeFile(full, content);
      return full;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Runs the built CLI (`out/main/cli.js`, what `npx mtls-console` runs) as a real process. */
export const REPO = path.resolve(__dirname, '..', '..');
export const CLI = path.join(REPO, 'bin', 'mtls-console.cjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Env {
  stateDir: string;
  passphraseFile: string;
  tmp: string;
}

export async function makeEnv(prefix = 'mtls-cli-'): Promise<Env> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const passphraseFile = path.join(tmp, 'passphrase');
  await fs.writeFile(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });
  return { tmp, stateDir: path.join(tmp, 'state'), passphraseFile };
}

export async function removeEnv(env: Env): Promise<void> {
  await fs.rm(env.tmp, { recursive: true, force: true });
}

export function cli(
  env: Env | null,
  args: readonly string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  const full = env
    ? ['--state-dir', env.stateDir, '--passphrase-file', env.passphraseFile, ...args]
    : [...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...full],
      { cwd: env?.tmp ?? REPO, env: cleanEnv(extraEnv), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export function spawnCli(env: Env, args: readonly string[]): ChildProcess {
  return spawn(
    process.execPath,
    [CLI, '--state-dir', env.stateDir, '--passphrase-file', env.passphraseFile, ...args],
    {
      cwd: env.tmp,
      env: cleanEnv({}),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** Starts `serve` on an ephemeral port in front of `upstream` (a URL); resolves with the port it printed. */
export function startServe(
  env: Env,
  upstream: string,
  extra: readonly string[] = [],
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawnCli(env, ['serve', '--listen', '127.0.0.1:0', '--upstream', upstream, ...extra]);
  let output = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /serving mTLS on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) resolve({ child, port: Number(m[1]), output: () => output });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${output}`)));
  });
}

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MTLS_CONSOLE_STATE_DIR;
  delete env.MTLS_CONSOLE_PASSPHRASE_FILE;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

export function run(cmd: string, args: readonly string[], opts: { input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function openssl(args: readonly string[]): Promise<CliResult> {
  return run('openssl', args);
}

/** Every file under a dir with its content hash and mode: "changes nothing on disk" is a snapshot equality. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const [data, st] = await Promise.all([fs.readFile(p), fs.stat(p)]);
      out[path.relative(dir, p)] =
        `${(st.mode & 0o777).toString(8)}:${crypto.createHash('sha256').update(data).digest('hex')}`;
    }
  };
  await walk(dir);
  return out;
}

export async function initCa(env: Env, extra: readonly string[] = []): Promise<void> {
  const r = await cli(env, ['init', '--hosts', 'localhost,127.0.0.1', ...extra]);
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
}

export interface IssueJson {
  serial: string;
  name: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
  files: { cert: string; key: string; ca: string; p12?: string };
}

export async function issue(env: Env, name: string, extra: readonly string[] = []): Promise<IssueJson> {
  const r = await cli(env, [
    'issue-client',
    '--name',
    name,
    '--out-dir',
    path.join(env.tmp, 'out'),
    '--json',
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`issue-client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as IssueJson;
}

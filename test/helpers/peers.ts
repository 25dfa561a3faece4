import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';

/**
 * Independent peers (GnuTLS, NSS, Java, nginx) are optional on a developer machine; CI installs them
 * (.ci/run). A test that needs one skips with a message naming the package only when it is absent.
 */
export function findBinary(
  name: string,
  extraDirs: readonly string[] = ['/usr/sbin', '/sbin'],
): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs].filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  return null;
}

/** Which Debian package provides a peer, for the skip message. */
export const PEER_PACKAGES: Readonly<Record<string, string>> = {
  certtool: 'gnutls-bin',
  'gnutls-cli': 'gnutls-bin',
  pk12util: 'libnss3-tools',
  certutil: 'libnss3-tools',
  keytool: 'default-jre-headless',
  nginx: 'nginx',
  python3: 'python3',
};

export function missingPeerNote(name: string): string {
  return `${name} not found: install the Debian package ${PEER_PACKAGES[name] ?? name} to run this check`;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Never rejects: tests assert on the exit code, including expected failures. */
export function runPeer(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 30_000,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
        env: { ...process.env, ...opts.env },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/**
 * `openssl s_server` that demands a client certificate (-Verify 1 with -verify_return_error) and
 * answers one request with its status page, which names the client certificate's subject.
 */
export async function startMtlsServer(opts: {
  certFile: string;
  keyFile: string;
  caFile: string;
}): Promise<{ port: number; child: ChildProcess; stop: () => void }> {
  const port = await freePort();
  const child = spawn('openssl', [
    's_server',
    '-accept',
    `127.0.0.1:${port}`,
    '-cert',
    opts.certFile,
    '-key',
    opts.keyFile,
    '-CAfile',
    opts.caFile,
    '-Verify',
    '1',
    '-verify_return_error',
    '-www',
    '-naccept',
    '1',
  ]);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ACCEPT')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`s_server exited early (${code})`)));
  });
  return {
    port,
    child,
    stop: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

/** Resolves once something accepts TCP connections on the port; bounded, and fails fast if `alive` turns false. */
export async function waitForPort(port: number, alive: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('the server exited before it listened');
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    // nginx prints no readiness line; a short pause between connection attempts is the only signal.
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/**
 * nginx in the foreground, one process, everything under `dir`, serving `serverBody` (the inside
 * of a `server {}` block) on an ephemeral loopback port with TLS.
 */
export async function startNginx(
  nginx: string,
  dir: string,
  serverBody: string,
): Promise<{ port: number; stop: () => Promise<void>; log: () => string }> {
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  fs.writeFileSync(
    conf,
    [
      'daemon off;',
      'master_process off;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} info;`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${path.join(dir, 'body')};`,
      `  proxy_temp_path ${path.join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${path.join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${path.join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${path.join(dir, 'scgi')};`,
      '  server {',
      `    listen 127.0.0.1:${port} ssl;`,
      serverBody,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(nginx, ['-p', dir, '-e', errorLog, '-c', conf], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '');
  try {
    await waitForPort(port, () => child.exitCode === null && child.signalCode === null);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`nginx did not start: ${(e as Error).message}\n${log()}`);
  }
  return {
    port,
    log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

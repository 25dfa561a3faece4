import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

/** Real peers for the specs: a loopback upstream, an mTLS client with keep-alive, openssl. */

export const DAY_MS = 86_400_000;

export interface Upstream {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

/** The "control API that must only listen on loopback" the gateway fronts (DESIGN.md §1). */
export async function startUpstream(): Promise<Upstream> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${String(req.headers['x-forwarded-client-cert'] ?? '')}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that was free a moment ago (the gateway binds it next). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface MtlsClient {
  /** GET over the kept-alive connection; resolves with status and body. */
  get(path: string): Promise<{ status: number; body: string }>;
  /** The TLS socket of the first request, once made. */
  socket(): TLSSocket | null;
  /** Resolves when that socket closes (the gateway dropped us). */
  closed(): Promise<void>;
  destroy(): void;
}

export function mtlsClient(opts: {
  port: number;
  cert: string;
  key: string;
  ca: string;
  servername?: string;
}): MtlsClient {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 1,
    cert: fs.readFileSync(opts.cert),
    key: fs.readFileSync(opts.key),
    ca: fs.readFileSync(opts.ca),
    minVersion: 'TLSv1.3',
    servername: opts.servername ?? 'localhost',
  });
  let sock: TLSSocket | null = null;
  let closedP: Promise<void> | null = null;
  return {
    get(pathname) {
      return new Promise((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port: opts.port,
            path: pathname,
            method: 'GET',
            agent,
            servername: opts.servername ?? 'localhost',
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', reject);
          },
        );
        req.on('socket', (s) => {
          if (!sock) {
            sock = s as TLSSocket;
            closedP = new Promise<void>((r) => s.once('close', () => r()));
          }
        });
        req.on('error', reject);
        req.end();
      });
    },
    socket: () => sock,
    closed() {
      if (!closedP) throw new Error('no connection yet');
      return closedP;
    },
    destroy: () => agent.destroy(),
  };
}

/** Rejects after `ms` with a message naming what did not happen: a deadline, not a sleep. */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

export async function opensslVerifyClient(caFile: string, certFile: string): Promise<string> {
  const { stdout } = await promisify(execFile)('openssl', [
    'verify',
    '-purpose',
    'sslclient',
    '-CAfile',
    caFile,
    certFile,
  ]);
  return stdout.trim();
}

export function certNotAfter(file: string): Date {
  return new Date(new X509Certificate(fs.readFileSync(file)).validTo);
}

/** Whole days left (floor), the way the UI counts them. */
export function daysLeft(notAfter: Date, now = Date.now()): number {
  return Math.floor((notAfter.getTime() - now) / DAY_MS);
}

import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { DEFAULT_GATEWAY_CONFIG, type ConnectionInfo, type GatewayConfig } from '../../shared/model';
import { ForkLauncher } from './launcher';
import type { GatewayAuditEntry, GatewayTlsMaterial } from './protocol';
import { GatewaySupervisor, type StartOptions, type SupervisorOptions } from './supervisor';
import type { Ca, Pair } from './certs.fixture';
import { Gateway, type GatewayInit, type GatewaySink } from './gateway';

/** The gateway entry run from source through tsx, as the brief allows for tests. */
export const GATEWAY_SOURCE = path.join(__dirname, 'gateway-main.ts');

export function launcher(): ForkLauncher {
  return new ForkLauncher(GATEWAY_SOURCE, ['--import', 'tsx']);
}

// ── upstream ───────────────────────────────────────────────────────────────────

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: string;
}

/**
 * A loopback upstream that records everything it receives. Routes: /slow?ms=N, /sse (three
 * events, 50 ms apart, then the test ends it), /hold (never answers), /echo-hash (length and SHA-256 of
 * the request body), /big?bytes=N (a sized body of N bytes), upgrade → raw echo.
 */
export class Upstream {
  readonly seen: Seen[] = [];
  connections = 0;
  upgrades = 0;
  private readonly sockets = new Set<Socket>();
  private readonly idleWaiters: Array<() => void> = [];
  readonly server: http.Server;
  port = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: Buffer.concat(chunks).toString(),
        });
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/slow') {
          setTimeout(() => res.end('slow done'), Number(url.searchParams.get('ms') ?? 1000));
          return;
        }
        if (url.pathname === '/hold') return;
        if (url.pathname === '/echo-hash') {
          const body = Buffer.concat(chunks);
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({ length: body.length, sha256: createHash('sha256').update(body).digest('hex') }),
          );
          return;
        }
        if (url.pathname === '/big') {
          // A large sized body written in chunks that respect backpressure.
          const total = Number(url.searchParams.get('bytes') ?? 0);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
          let sent = 0;
          const pump = (): void => {
            while (sent < total) {
              const n = Math.min(64 * 1024, total - sent);
              const chunk = Buffer.alloc(n, sent % 251);
              sent += n;
              if (!res.write(chunk)) {
                res.once('drain', pump);
                return;
              }
            }
            res.end();
          };
          pump();
          return;
        }
        if (url.pathname === '/sse') {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          let n = 0;
          const iv = setInterval(() => {
            res.write(`data: event ${n}\n\n`);
            if (++n === 3) {
              clearInterval(iv);
              res.end();
            }
          }, 50);
          res.on('close', () => clearInterval(iv));
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.setHeader('connection', 'keep-alive, x-secret-hop');
        res.setHeader('x-secret-hop', 'must not reach the client');
        res.end(JSON.stringify({ path: req.url, method: req.method }));
      });
    });
    // Short keep-alive so the gateway's pooled upstream sockets close by themselves.
    this.server.keepAliveTimeout = 300;
    this.server.on('connection', (s: Socket) => {
      this.connections++;
      this.sockets.add(s);
      s.on('close', () => {
        this.sockets.delete(s);
        if (this.sockets.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      this.upgrades++;
      this.seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: '',
      });
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${wsAccept(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
      );
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    });
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once no socket is open on the upstream (the gateway leaked none). */
  idle(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  openSockets(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function wsAccept(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

// ── gateway under test ───────────────────────────────────────────────────────

export class Harness {
  readonly sup: GatewaySupervisor;
  readonly audit: GatewayAuditEntry[] = [];
  readonly states: string[] = [];
  lastConnections: ConnectionInfo[] = [];
  port = 0;
  private auditWaiters: Array<() => void> = [];
  private connWaiters: Array<() => void> = [];

  constructor(opts: SupervisorOptions = {}) {
    this.sup = new GatewaySupervisor(launcher(), opts);
    this.sup.onAudit((entries) => {
      this.audit.push(...entries);
      for (const w of this.auditWaiters.splice(0)) w();
    });
    this.sup.onState((s) => this.states.push(s.kind));
    this.sup.onConnections((list) => {
      this.lastConnections = list;
      for (const w of this.connWaiters.splice(0)) w();
    });
  }

  static material(ca: Ca, server: Pair, extraCaPem = ''): GatewayTlsMaterial {
    return { keyPem: server.keyPem, certPem: server.certPem, caPem: ca.certPem + extraCaPem };
  }

  async start(
    material: GatewayTlsMaterial,
    config: Partial<GatewayConfig> & { upstream: string },
    options: StartOptions = {},
  ): Promise<number> {
    const addr = await this.sup.start(
      material,
      { ...DEFAULT_GATEWAY_CONFIG, listen: '127.0.0.1:0', ...config },
      options,
    );
    this.port = addr.port;
    return addr.port;
  }

  /** Waits (bounded) for an audit entry matching `pred`, checking entries already received first. */
  waitAudit(
    pred: (e: GatewayAuditEntry) => boolean,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<GatewayAuditEntry> {
    return waitFor(
      () => this.audit.slice(from).find(pred),
      (wake) => this.auditWaiters.push(wake),
      timeoutMs,
      'audit entry',
    );
  }

  /** Waits for a connections snapshot satisfying `pred`. */
  waitConnections(pred: (list: ConnectionInfo[]) => boolean, timeoutMs = 10_000): Promise<ConnectionInfo[]> {
    return waitFor(
      () => (pred(this.lastConnections) ? this.lastConnections : undefined),
      (wake) => this.connWaiters.push(wake),
      timeoutMs,
      'connections snapshot',
    );
  }

  refusals(): GatewayAuditEntry[] {
    return this.audit.filter((e) => e.type === 'gateway.connection.refused');
  }

  async stop(): Promise<void> {
    await this.sup.stop(500);
  }
}

async function waitFor<T>(
  check: () => T | undefined,
  subscribe: (wake: () => void) => void,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = check();
    if (hit !== undefined) return hit;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      subscribe(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

// ── independent clients ─────────────────────────────────────────────────────

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command with a hard timeout; never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export function curl(
  port: number,
  urlPath: string,
  opts: { ca: Ca; client?: Pair; args?: string[] },
): Promise<Run> {
  const args = [
    '-sS',
    '--max-time',
    '10',
    '--cacert',
    opts.ca.certFile,
    ...(opts.client ? ['--cert', opts.client.certFile, '--key', opts.client.keyFile] : []),
    '-w',
    '\n%{http_code}',
    ...(opts.args ?? []),
    `https://127.0.0.1:${port}${urlPath}`,
  ];
  return run('curl', args);
}

/** Status code printed by curl's -w; 0 when no HTTP response arrived. */
export function curlStatus(r: Run): number {
  const last = r.stdout.trimEnd().split('\n').pop() ?? '0';
  return Number(last);
}

/** A tls.connect client; resolves once the handshake is done (or rejects). */
export function connect(
  port: number,
  ca: Ca,
  client: Pair | undefined,
  extra: tls.ConnectionOptions = {},
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ca: ca.certPem,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
      servername: 'localhost',
      ...extra,
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends one keep-alive request on an open TLS socket and resolves with status and body. */
export function request(
  socket: tls.TLSSocket,
  urlPath: string,
): Promise<{ status: number; body: string; headers: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const head = buf.slice(0, headEnd);
      const m = /content-length: (\d+)/i.exec(head);
      const len = m ? Number(m[1]) : 0;
      if (buf.length - headEnd - 4 < len) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({
        status: Number(head.split(' ')[1]),
        headers: head,
        body: buf.slice(headEnd + 4, headEnd + 4 + len),
      });
    };
    const onClose = (): void =>
      reject(new Error(`socket closed before a response (got ${JSON.stringify(buf)})`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

/** Resolves when the socket closes. */
export function closed(socket: tls.TLSSocket | Socket): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

export function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/**
 * A gateway in this process (for settings that are not on the parent→gateway wire, or a test that
 * plays the parent): real TLS and sockets, its audit records collected in `audit`.
 */
export async function inProcessGateway(opts: {
  readonly ca: Ca;
  readonly server: Pair;
  readonly config: Partial<GatewayConfig> & { upstream: string };
  readonly options?: GatewayInit['options'];
  readonly proxy?: GatewayInit['proxy'];
  readonly renew?: GatewaySink['renew'];
}): Promise<{ gateway: Gateway; port: number; audit: GatewayAuditEntry[] }> {
  const audit: GatewayAuditEntry[] = [];
  const gateway = new Gateway(
    {
      tls: Harness.material(opts.ca, opts.server),
      revokedSerials: [],
      config: { ...DEFAULT_GATEWAY_CONFIG, listen: '127.0.0.1:0', ...opts.config },
      ...(opts.options ? { options: opts.options } : {}),
      ...(opts.proxy ? { proxy: opts.proxy } : {}),
    },
    {
      audit: (e) => audit.push(e),
      connections: () => undefined,
      log: () => undefined,
      ...(opts.renew ? { renew: opts.renew } : {}),
    },
  );
  return { gateway, port: (await gateway.start()).port, audit };
}

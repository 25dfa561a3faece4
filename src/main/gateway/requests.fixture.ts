import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type tls from 'node:tls';

/** One request as the upstream saw it, logged when its headers arrived (before any body). */
export interface Logged {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly at: number;
}

/**
 * A loopback upstream that logs every request the moment its headers arrive and tracks how many
 * requests of one client certificate serial run at once. Routes: /slow?ms=N, /big?bytes=N, /hold
 * (never answers), /early (103 Early Hints, then 200), /quiet?ms=N (an event, N ms of silence,
 * another event), /stall (headers and 5 bytes, then silence), anything else → JSON echo of the path.
 * Upgrades: `websocket` and `h2c` are both accepted, so a tunnel the gateway should refuse shows.
 */
export class LoggingUpstream {
  readonly log: Logged[] = [];
  readonly upgrades: Logged[] = [];
  maxConcurrentPerSerial = 0;
  private readonly running = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly logWaiters: Array<() => void> = [];
  readonly server: http.Server;
  port = 0;

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 300;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => {
        this.sockets.delete(s);
        if (this.sockets.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
      this.upgrades.push(entry(req));
      socket.on('error', () => socket.destroy());
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${String(req.headers.upgrade)}\r\nConnection: Upgrade\r\n\r\n`,
      );
      socket.pipe(socket);
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const e = entry(req);
    this.log.push(e);
    for (const w of this.logWaiters.splice(0)) w();
    const serial = String(req.headers['x-client-cert-serial'] ?? '');
    const now = (this.running.get(serial) ?? 0) + 1;
    this.running.set(serial, now);
    this.maxConcurrentPerSerial = Math.max(this.maxConcurrentPerSerial, now);
    res.on('close', () => this.running.set(serial, (this.running.get(serial) ?? 1) - 1));
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    const ms = Number(url.searchParams.get('ms') ?? 0);
    // Fuzz paths carry a unique id: /fz/<id>/<route>.
    const route = url.pathname.startsWith('/fz/') ? `/${url.pathname.split('/')[3] ?? ''}` : url.pathname;
    switch (route) {
      case '/slow': {
        const t = setTimeout(() => res.end(`slow ${req.url ?? ''} ${serial}`), ms);
        res.on('close', () => clearTimeout(t));
        return;
      }
      case '/hold':
        return;
      case '/early':
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        setTimeout(() => res.end('final answer'), 20);
        return;
      case '/quiet': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        const t = setTimeout(() => res.end('data: second\n\n'), ms);
        res.on('close', () => clearTimeout(t));
        return;
      }
      case '/stall':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1000 });
        res.write('12345');
        return;
      case '/big': {
        const total = Number(url.searchParams.get('bytes') ?? 0);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            const n = Math.min(64 * 1024, total - sent);
            sent += n;
            if (!res.write(Buffer.alloc(n, 0x61))) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      default:
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, method: req.method, serial }));
    }
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  openSockets(): number {
    return this.sockets.size;
  }

  /** Resolves once no socket is open on the upstream, or rejects after timeoutMs. */
  idle(timeoutMs = 5_000): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return bounded(new Promise((resolve) => this.idleWaiters.push(resolve)), timeoutMs, 'upstream idle');
  }

  /** Resolves once a request matching `pred` was logged. */
  async waitLogged(pred: (e: Logged) => boolean, timeoutMs = 5_000): Promise<Logged> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.log.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an upstream request');
      await bounded(new Promise<void>((r) => this.logWaiters.push(r)), left, 'upstream request').catch(
        () => undefined,
      );
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function entry(req: http.IncomingMessage): Logged {
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    at: Date.now(),
  };
}

export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export interface Parsed {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/**
 * Collects what a raw client receives and splits it into responses (Content-Length framed, as the
 * fixture upstream always answers; 1xx heads count as their own entries).
 */
export class RawReader {
  private buf = Buffer.alloc(0);
  readonly responses: Parsed[] = [];
  closed = false;
  private waiters: Array<() => void> = [];

  private finals = 0;

  /** `methods`: the methods of the requests sent, in order, when some are HEAD. */
  constructor(
    readonly socket: tls.TLSSocket,
    private readonly methods: readonly string[] = [],
  ) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      const status = Number(head.split(' ')[1]);
      // A HEAD response announces a length but carries no body (RFC 9110 §9.3.2).
      const bodyless = status < 200 || (status >= 200 && this.methods[this.finals] === 'HEAD');
      const len = bodyless ? 0 : Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buf.length < end + 4 + len) return;
      this.responses.push({ status, head, body: this.buf.subarray(end + 4, end + 4 + len).toString() });
      if (status >= 200) this.finals++;
      this.buf = this.buf.subarray(end + 4 + len);
    }
  }

  /** Waits until `pred` holds (checked on every arrival and on close), bounded. */
  async until(pred: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out: got ${this.responses.length} responses, closed=${this.closed}`);
      await bounded(new Promise<void>((r) => this.waiters.push(r)), left, 'client data').catch(
        () => undefined,
      );
    }
  }
}

export function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
}

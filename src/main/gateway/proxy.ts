import http from 'node:http';
import https from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import type { ClientIdentity } from './verify';

/** RFC 9110 §7.6.1 connection-specific fields, plus the de-facto Proxy-Connection and Keep-Alive. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers that claim something about the client: only the gateway may set them. */
const IDENTITY_HEADERS = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-client-cert',
  'x-client-cert-serial',
  'x-real-ip',
  'forwarded',
]);

function namedInConnection(value: string | string[] | undefined): Set<string> {
  const list = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    list
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}

function isHopByHop(name: string, named: Set<string>): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named.has(name);
}

/** Envoy's XFCC quoting: a quoted value escapes `"` and `\`. */
export function xfccValue(id: ClientIdentity): string {
  const cn = id.cn.replace(/[\\"]/g, (c) => `\\${c}`);
  return `Hash=${id.hash};Subject="CN=${cn}"`;
}

/** Builds the request headers sent upstream: hop-by-hop and client-sent identity headers removed, ours added. */
export function upstreamRequestHeaders(
  incoming: http.IncomingHttpHeaders,
  ctx: { identity: ClientIdentity; remoteAddress: string; upstreamHost: string; upgrade: boolean },
): http.OutgoingHttpHeaders {
  const named = namedInConnection(incoming.connection);
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    // Expect: 100-continue was answered by our own http server already.
    if (isHopByHop(key, named) || IDENTITY_HEADERS.has(key) || key === 'host' || key === 'expect') continue;
    out[key] = value;
  }
  if (ctx.upgrade && typeof incoming.upgrade === 'string') {
    out['connection'] = 'upgrade';
    out['upgrade'] = incoming.upgrade;
  }
  // Like nginx's default `proxy_set_header Host $proxy_host`: a loopback API that checks Host
  // (DNS-rebinding defence) sees its own name; the client's Host travels in X-Forwarded-Host.
  out['host'] = ctx.upstreamHost;
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host;
  out['x-forwarded-for'] = ctx.remoteAddress;
  out['x-forwarded-proto'] = 'https';
  out['x-forwarded-client-cert'] = xfccValue(ctx.identity);
  out['x-client-cert-serial'] = ctx.identity.serial;
  return out;
}

/** Response headers from upstream minus hop-by-hop ones (Node re-frames the body itself). */
export function clientResponseHeaders(incoming: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = namedInConnection(incoming.connection);
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || isHopByHop(name, named)) continue;
    out[name] = value;
  }
  return out;
}

/** Path without the query string: queries may carry secrets and the audit log is kept for years. */
export function auditPath(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return (q === -1 ? u : u.slice(0, q)).slice(0, 2048);
}

/** What the proxy needs from the connection table, so it never holds the table itself. */
export interface ProxyConnection {
  readonly id: string;
  readonly identity: ClientIdentity;
  readonly remoteAddress: string;
  requests: number;
  inFlight: number;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ms: number;
  readonly upgrade: boolean;
}

export interface ProxyHooks<C extends ProxyConnection> {
  connectionOf(socket: Socket): C | undefined;
  /** Called once per request when it is over (finished, failed or aborted). */
  requestDone(conn: C, record: RequestRecord): void;
  upstreamError(conn: C, info: RequestRecord & { error: string }): void;
  /** A request or upgraded stream ended; a draining gateway may now close the connection. */
  idle(conn: C): void;
  /** True once the gateway is stopping: responses then carry `Connection: close`. */
  draining(): boolean;
  /** Why requests are not dispatched now (audit records cannot be written), or null. */
  held(): string | null;
  /** A request answered 503 because of held(); it never reached the upstream. */
  requestHeld(conn: C, record: RequestRecord): void;
}

export interface ProxyTarget {
  readonly url: URL;
  readonly timeoutMs: number;
  readonly maxSockets: number;
}

class UpstreamTimeout extends Error {
  constructor(ms: number) {
    super(`upstream sent no response within ${ms} ms`);
  }
}

/**
 * Reverse proxy to one upstream. Its http.Server never listens: the TLS listener hands it sockets
 * that already passed verification, so no unauthenticated byte is ever parsed as HTTP.
 */
export class ReverseProxy<C extends ProxyConnection> {
  readonly server: http.Server;
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(
    private readonly target: ProxyTarget,
    private readonly hooks: ProxyHooks<C>,
  ) {
    // Plain requests go through an undici pool (measurably less CPU per request than http.request);
    // upgrades keep using node:http, which hands over the raw socket.
    this.pool = new Pool(target.url.origin, { connections: target.maxSockets, pipelining: 1 });
    this.basePath = target.url.pathname.replace(/\/+$/, '');
    this.server = http.createServer({
      // Keep-alive and idle limits are the gateway's (config.idleTimeoutMs), not http's defaults.
      keepAliveTimeout: 0,
      requestTimeout: 0,
    });
    this.server.timeout = 0;
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
  }

  close(): void {
    void this.pool.destroy().catch(() => undefined);
  }

  private upstreamPath(url: string | undefined): string {
    const u = url ?? '/';
    return this.basePath + (u.startsWith('/') ? u : `/${u}`);
  }

  /** An upgrade request on a fresh upstream socket, which becomes the tunnel's other end. */
  private upgradeRequest(req: http.IncomingMessage, conn: C): http.ClientRequest {
    const url = this.target.url;
    const mod = url.protocol === 'https:' ? https : http;
    return mod.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? undefined : Number(url.port),
      method: req.method,
      path: this.upstreamPath(req.url),
      agent: false,
      headers: upstreamRequestHeaders(req.headers, {
        identity: conn.identity,
        remoteAddress: conn.remoteAddress,
        upstreamHost: url.host,
        upgrade: true,
      }),
    });
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const conn = this.hooks.connectionOf(req.socket);
    if (!conn) {
      // Unreachable by construction: only verified sockets are fed to this server.
      req.socket.destroy();
      return;
    }
    conn.requests++;
    conn.inFlight++;
    const started = performance.now();
    const method = req.method ?? 'GET';
    const path = auditPath(req.url);
    let bytesIn = 0;
    let bytesOut = 0;
    let abortUpstream: ((err: Error) => void) | null = null;
    if (this.hooks.draining()) res.shouldKeepAlive = false;

    const held = this.hooks.held();
    if (held !== null) {
      const body = 'service unavailable: the gateway cannot write its audit records\n';
      res.shouldKeepAlive = false;
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
      res.end(body);
      req.resume();
      conn.inFlight--;
      this.hooks.requestHeld(conn, {
        method,
        path,
        status: 503,
        bytesIn: 0,
        bytesOut: body.length,
        ms: Math.round(performance.now() - started),
        upgrade: false,
      });
      this.hooks.idle(conn);
      return;
    }

    const withBody = hasBody(req);
    // Most API calls (GET, HEAD, DELETE) carry no body: then there is no stream to relay at all.
    if (!withBody) req.resume();

    const fail = (err: Error): void => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const timedOut = (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT';
      const status = timedOut ? 504 : 502;
      const body = status === 504 ? 'upstream timed out\n' : 'upstream unavailable\n';
      this.hooks.upstreamError(conn, {
        method,
        path,
        status,
        bytesIn,
        bytesOut: 0,
        ms: Math.round(performance.now() - started),
        upgrade: false,
        error: timedOut ? `upstream sent no response within ${this.target.timeoutMs} ms` : errorText(err),
      });
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
      res.end(body);
    };

    // undici's dispatcher: one pooled upstream exchange with no per-request stream objects, and
    // backpressure both ways (a false from onData pauses the upstream until the client drains).
    this.pool.dispatch(
      {
        method: method as Dispatcher.HttpMethod,
        path: this.upstreamPath(req.url),
        headers: upstreamRequestHeaders(req.headers, {
          identity: conn.identity,
          remoteAddress: conn.remoteAddress,
          upstreamHost: this.target.url.host,
          upgrade: false,
        }) as Record<string, string | string[]>,
        // Async iteration pulls chunk by chunk: backpressure to the client, and nothing read before
        // undici is ready (a 'data' listener here would start the flow and drop early chunks).
        body: withBody
          ? Readable.from(
              counted(req, (n) => (bytesIn += n)),
              { objectMode: false },
            )
          : null,
        headersTimeout: this.target.timeoutMs,
        // Streams such as server-sent events may stay quiet for long stretches.
        bodyTimeout: 0,
      },
      {
        onConnect: (abort) => {
          abortUpstream = abort;
        },
        onHeaders: (statusCode, rawHeaders, resume, statusText) => {
          const headers = headersFromRaw(rawHeaders);
          res.writeHead(statusCode, statusText, clientResponseHeaders(headers));
          // Server-sent events and other streams of unknown length: send the headers now, each chunk
          // as it comes. A sized body goes out with its headers in one TLS record instead.
          if (headers['content-length'] === undefined) res.flushHeaders();
          res.on('drain', resume);
          return true;
        },
        onData: (chunk) => {
          bytesOut += chunk.length;
          return res.write(chunk);
        },
        onComplete: () => {
          res.end();
        },
        onError: fail,
      },
    );

    res.on('close', () => {
      // The client left before the upstream finished: stop the upstream work too.
      if (!res.writableFinished) abortUpstream?.(new Error('client went away'));
      conn.inFlight--;
      this.hooks.requestDone(conn, {
        method,
        path,
        status: res.statusCode,
        bytesIn,
        bytesOut,
        ms: Math.round(performance.now() - started),
        upgrade: false,
      });
      this.hooks.idle(conn);
    });
  }

  /** WebSocket and other upgrades: relay the upstream's answer, then pipe both sockets. */
  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = this.hooks.connectionOf(req.socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    conn.requests++;
    conn.inFlight++;
    const started = performance.now();
    const method = req.method ?? 'GET';
    const path = auditPath(req.url);
    let status = 0;
    let timedOut = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      conn.inFlight--;
      this.hooks.requestDone(conn, {
        method,
        path,
        status,
        bytesIn: 0,
        bytesOut: 0,
        ms: Math.round(performance.now() - started),
        upgrade: true,
      });
      this.hooks.idle(conn);
    };
    socket.on('close', finish);
    socket.on('error', () => socket.destroy());

    const upReq = this.upgradeRequest(req, conn);
    const timer = setTimeout(() => {
      timedOut = true;
      upReq.destroy(new UpstreamTimeout(this.target.timeoutMs));
    }, this.target.timeoutMs);

    upReq.on('upgrade', (upRes, upSocket, upHead) => {
      clearTimeout(timer);
      status = upRes.statusCode ?? 101;
      socket.write(rawHead(upRes, false));
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on('error', () => socket.destroy());
      upSocket.on('close', () => socket.destroy());
      socket.on('close', () => upSocket.destroy());
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });

    // The upstream declined the upgrade: relay its plain answer and close.
    upReq.on('response', (upRes) => {
      clearTimeout(timer);
      status = upRes.statusCode ?? 502;
      socket.write(rawHead(upRes, true));
      upRes.pipe(socket);
    });

    upReq.on('error', (err) => {
      clearTimeout(timer);
      if (status !== 0) {
        socket.destroy();
        return;
      }
      status = timedOut ? 504 : 502;
      this.hooks.upstreamError(conn, {
        method,
        path,
        status,
        bytesIn: 0,
        bytesOut: 0,
        ms: Math.round(performance.now() - started),
        upgrade: true,
        error: errorText(err),
      });
      const body = status === 504 ? 'upstream timed out\n' : 'upstream unavailable\n';
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\n` +
          `content-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    });
    upReq.end();
  }
}

function rawHead(res: http.IncomingMessage, close: boolean): string {
  const lines = [`HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}`];
  const named = namedInConnection(res.headers.connection);
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const key = name.toLowerCase();
    // A 101 keeps Connection/Upgrade (they are the point); a refusal is re-framed as close-delimited.
    if (close ? isHopByHop(key, named) || key === 'content-length' : false) continue;
    lines.push(`${name}: ${raw[i + 1] as string}`);
  }
  if (close) lines.push('connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function errorText(err: Error & { code?: string }): string {
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

/** RFC 9112 §6.3: a request has a body only when it says so with Content-Length or Transfer-Encoding. */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** undici reports response headers as raw name/value buffers; repeated names become arrays, as in node:http. */
function headersFromRaw(raw: Buffer[] | string[] | null): http.IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  if (!raw) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    const value = raw[i + 1]!.toString();
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = name === 'set-cookie' ? [prev, value] : `${prev}, ${value}`;
  }
  return out;
}

async function* counted(source: AsyncIterable<Buffer>, add: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    add(chunk.length);
    yield chunk;
  }
}

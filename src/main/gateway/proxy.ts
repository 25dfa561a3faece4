import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Pool } from 'undici';
import { HeaderPolicy, xfccValue, type HeaderContext, type HeaderPolicyOptions } from './request-headers';
import { RequestLane, type LaneStop, type Running } from './request-lane';
import { upstreamTarget } from './request-target';
import { isWebSocketUpgrade, rawReply, Tunnel } from './tunnel';
import { UpstreamExchange, type RequestOutcome } from './upstream-exchange';
import type { ClientIdentity } from './verify';

export { xfccValue };

/** Path without the query string: queries may carry secrets and the audit log is kept for years. */
export function auditPath(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return (q === -1 ? u : u.slice(0, q)).slice(0, 2048);
}

const defaultPolicy = new HeaderPolicy();

/** The upstream request headers with the built-in strip list (kept for callers of the old API). */
export function upstreamRequestHeaders(
  incoming: http.IncomingHttpHeaders,
  ctx: HeaderContext & { upgrade: boolean },
): http.OutgoingHttpHeaders {
  const up = ctx.upgrade && typeof incoming.upgrade === 'string' ? incoming.upgrade : null;
  return defaultPolicy.upstreamRequestHeaders(incoming, ctx, up);
}

export function clientResponseHeaders(incoming: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return defaultPolicy.clientResponseHeaders(incoming);
}

/** What the proxy needs from the connection table, so it never holds the table itself. */
export interface ProxyConnection {
  readonly id: string;
  readonly identity: ClientIdentity;
  readonly remoteAddress: string;
  requests: number;
  /** Requests queued or being served on this connection: while > 0 the connection is not idle. */
  inFlight: number;
}

export type { RequestOutcome };

/** One request that reached the upstream (exactly one per dispatched request). */
export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  /** The status the client was sent; 0 when it was sent none (aborted before the upstream answered). */
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ms: number;
  readonly upgrade: boolean;
  readonly outcome: RequestOutcome;
  readonly reason?: string;
}

/** Why a request was answered (or its connection closed) without being dispatched. */
export type RequestRefusal = 'revoked' | 'expired' | 'upgrade_not_allowed' | 'upgrade_pipelined' | 'bad_path';

export interface RefusedRecord {
  readonly method: string;
  readonly path: string;
  /** 400 for a bad request; 0 when the connection was closed instead of answered. */
  readonly status: number;
  readonly reason: RequestRefusal;
  readonly detail?: string;
  readonly upgrade: boolean;
}

export interface ProxyHooks<C extends ProxyConnection> {
  connectionOf(socket: Socket): C | undefined;
  /** Called exactly once per request that was dispatched to the upstream, with its true outcome. */
  requestDone(conn: C, record: RequestRecord): void;
  /** In addition to requestDone: the upstream failed (502), was too slow (504) or went silent. */
  upstreamError(conn: C, info: RequestRecord & { error: string }): void;
  /** A request refused before dispatch; it never reached the upstream. */
  requestRefused(conn: C, record: RefusedRecord): void;
  /** Requests that were queued behind another and never sent, because their connection ended. */
  requestsDropped(conn: C, count: number, why: LaneStop): void;
  /** Nothing is queued or in flight on the connection any more (inFlight is 0). */
  idle(conn: C): void;
  /** True once the gateway is stopping: queued requests are then dropped, not started. */
  draining(): boolean;
  /** Why requests are not dispatched now (audit records cannot be written), or null. */
  held(): string | null;
  /** A request answered 503 because of held(); it never reached the upstream. */
  requestHeld(conn: C, record: Omit<RequestRecord, 'outcome'>): void;
  /** Checked before every dispatch: the certificate was revoked or has expired since the handshake. */
  identityProblem(conn: C): 'revoked' | 'expired' | null;
  /** Close the connection for a reason of the request layer. */
  closeConnection(conn: C, why: 'revoked' | 'expired' | 'overflow'): void;
}

export interface ProxyTarget {
  readonly url: URL;
  /** Response-headers timeout of the upstream (→ 504). */
  readonly timeoutMs: number;
  readonly maxSockets: number;
  /** The gateway's idle timeout: a client stalling an in-flight request this long is cut. */
  readonly idleMs?: number;
}

export interface ProxyOptions extends HeaderPolicyOptions {
  /** Pipelined requests held per connection behind the one being served; more closes it. */
  readonly maxQueued?: number;
  /** Longest upstream silence within a response body (SSE, long poll) before it is cut. */
  readonly bodyIdleMs?: number;
}

/**
 * Each queued request costs its parsed head (a few KB); 256 bounds that per connection while
 * leaving room for clients that really pipeline. More closes the connection.
 */
export const DEFAULT_MAX_QUEUED = 256;
const DEFAULT_IDLE_MS = 300_000;
/** A silent stream (SSE, long poll) outlives the idle timeout: upstreams usually ping every 15–30 s. */
const MIN_BODY_IDLE_MS = 600_000;
const WATCHDOG_MS = 500;

type Item =
  | {
      readonly kind: 'http';
      readonly req: http.IncomingMessage;
      readonly res: http.ServerResponse;
      readonly expectContinue: boolean;
    }
  | { readonly kind: 'upgrade'; readonly req: http.IncomingMessage; readonly head: Buffer };

/**
 * Reverse proxy to one upstream. Its http.Server never listens: the TLS listener hands it sockets
 * that already passed verification, so no unauthenticated byte is ever parsed as HTTP. Each
 * connection's requests go through its own RequestLane, one at a time.
 */
export class ReverseProxy<C extends ProxyConnection> {
  readonly server: http.Server;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly policy: HeaderPolicy;
  private readonly lanes = new WeakMap<Socket, RequestLane<Item>>();
  private readonly running = new Set<UpstreamExchange>();
  /** Exchanges and tunnels in progress. */
  private readonly active = new Set<Running>();
  private readonly watchdog: NodeJS.Timeout;
  private idleMs: number;
  private timeoutMs: number;
  private readonly bodyIdleMs: number;
  private readonly maxQueued: number;

  constructor(
    private readonly target: ProxyTarget,
    private readonly hooks: ProxyHooks<C>,
    private readonly options: ProxyOptions = {},
  ) {
    // One request at a time per client connection bounds the pool's queue by the number of
    // connections; plain requests use undici (less CPU per request than http.request).
    this.pool = new Pool(target.url.origin, { connections: target.maxSockets, pipelining: 1 });
    this.basePath = target.url.pathname.replace(/\/+$/, '');
    this.policy = new HeaderPolicy(options);
    this.idleMs = target.idleMs ?? DEFAULT_IDLE_MS;
    this.timeoutMs = target.timeoutMs;
    this.bodyIdleMs = options.bodyIdleMs ?? Math.max(2 * this.idleMs, MIN_BODY_IDLE_MS);
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.server = http.createServer({
      // Keep-alive and idle limits are the gateway's (config.idleTimeoutMs), not http's defaults.
      keepAliveTimeout: 0,
      requestTimeout: 0,
    });
    this.server.timeout = 0;
    this.server.on('connection', (socket: Socket) => this.attach(socket));
    this.server.on('request', (req, res) => this.onRequest(req, res, false));
    // 100 Continue is sent when the request is dispatched, not while it waits in the lane.
    this.server.on('checkContinue', (req, res) => this.onRequest(req, res, true));
    this.server.on('upgrade', (req: http.IncomingMessage, _socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, head),
    );
    this.watchdog = setInterval(() => this.checkStalls(), WATCHDOG_MS);
    this.watchdog.unref();
  }

  /** Settings saved while running: they apply to requests started from now on. */
  updateLimits(limits: { readonly timeoutMs?: number; readonly idleMs?: number }): void {
    this.timeoutMs = limits.timeoutMs ?? this.timeoutMs;
    this.idleMs = limits.idleMs ?? this.idleMs;
  }

  /**
   * Ends every running request now, so their audit records are written before the gateway process
   * exits (a socket's 'close' event would come a tick too late), then closes the upstream pool.
   */
  close(): void {
    clearInterval(this.watchdog);
    for (const r of [...this.active]) r.abort('shutdown');
    void this.pool.destroy().catch(() => undefined);
  }

  private attach(socket: Socket): void {
    const conn = this.hooks.connectionOf(socket);
    if (!conn) return;
    // Drops are summed and recorded once, when the socket closes: a flood of pipelined requests
    // behind a refusal must not become a flood of audit records.
    let drops = 0;
    let dropWhy: LaneStop = 'client_closed';
    const lane: RequestLane<Item> = new RequestLane<Item>(this.maxQueued, {
      start: (item, done): Running | null => this.start(conn, lane, item, done),
      dropped: (count, why) => {
        if (drops === 0) dropWhy = why;
        drops += count;
      },
      idle: () => {
        conn.inFlight = 0;
        this.hooks.idle(conn);
      },
    });
    this.lanes.set(socket, lane);
    // A client that leaves (or half-closes) takes its queued requests with it: none is sent.
    socket.once('end', () => lane.stop('client_closed'));
    socket.once('close', () => {
      lane.stop('client_closed');
      if (drops > 0) this.hooks.requestsDropped(conn, drops, dropWhy);
    });
  }

  private enqueue(socket: Socket, item: Item): void {
    const conn = this.hooks.connectionOf(socket);
    const lane = this.lanes.get(socket);
    if (!conn || !lane) {
      // Unreachable by construction: only verified sockets are fed to this server.
      socket.destroy();
      return;
    }
    conn.requests++;
    if (lane.push(item)) conn.inFlight = lane.pending;
    else if (lane.stoppedBy === 'overflow') this.hooks.closeConnection(conn, 'overflow');
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): void {
    this.enqueue(req.socket, { kind: 'http', req, res, expectContinue });
  }

  private onUpgrade(req: http.IncomingMessage, head: Buffer): void {
    const lane = this.lanes.get(req.socket);
    const conn = this.hooks.connectionOf(req.socket);
    // An upgrade pipelined behind other requests: Node has already handed the socket over, so the
    // responses before it could no longer be paced. No browser does this; refuse and close.
    if (lane && conn && lane.pending > 0) {
      conn.requests++;
      this.hooks.requestRefused(conn, {
        method: req.method ?? 'GET',
        path: auditPath(req.url),
        status: 0,
        reason: 'upgrade_pipelined',
        upgrade: true,
      });
      lane.stop('client_closed');
      req.socket.destroy();
      return;
    }
    this.enqueue(req.socket, { kind: 'upgrade', req, head });
  }

  /** Starts one item of a lane: every check that must hold at dispatch time, then the exchange. */
  private start(conn: C, lane: RequestLane<Item>, item: Item, done: () => void): Running | null {
    conn.inFlight = lane.pending;
    const { req } = item;
    const method = req.method ?? 'GET';
    const path = auditPath(req.url);
    const upgrade = item.kind === 'upgrade';
    const refuse = (reason: RequestRefusal, status: number, detail?: string): void =>
      this.hooks.requestRefused(conn, {
        method,
        path,
        status,
        reason,
        upgrade,
        ...(detail !== undefined ? { detail } : {}),
      });

    // Revocation and expiry are checked again before each dispatch (DESIGN.md §8, issue 8 items 4, 7).
    const problem = this.hooks.identityProblem(conn);
    if (problem !== null) {
      refuse(problem, 0);
      lane.stop(problem);
      this.hooks.closeConnection(conn, problem);
      done();
      return null;
    }
    if (this.hooks.draining()) {
      lane.stop('draining');
      if (item.kind === 'upgrade') req.socket.destroy();
      done();
      return null;
    }
    const held = this.hooks.held();
    if (held !== null) {
      this.answerHeld(conn, item, method, path);
      lane.stop('held');
      done();
      return null;
    }
    if (item.kind === 'upgrade' && !isWebSocketUpgrade(req)) {
      refuse('upgrade_not_allowed', 400, String(req.headers.upgrade ?? '').slice(0, 100));
      rawReply(req.socket, 400, 'only WebSocket upgrades are accepted');
      done();
      return null;
    }
    const target = upstreamTarget(this.basePath, req.url);
    if (!target.ok) {
      refuse('bad_path', 400, target.detail);
      if (item.kind === 'upgrade') rawReply(req.socket, 400, `bad request path: ${target.detail}`);
      else localReply(item.res, 400, `bad request path: ${target.detail}`, req);
      done();
      return null;
    }

    const started = performance.now();
    const ctx: HeaderContext = {
      identity: conn.identity,
      remoteAddress: conn.remoteAddress,
      upstreamHost: this.target.url.host,
      certDer: () => peerDer(req.socket),
    };
    if (item.kind === 'upgrade') {
      const tunnel = new Tunnel(
        {
          url: this.target.url,
          path: target.path,
          method,
          headers: this.policy.upstreamRequestHeaders(req.headers, ctx, 'websocket'),
          socket: req.socket,
          head: item.head,
          timeoutMs: this.timeoutMs,
          idleMs: this.idleMs,
        },
        (r) => {
          this.active.delete(tunnel);
          const rec: RequestRecord = {
            method,
            path,
            status: r.status,
            bytesIn: 0,
            bytesOut: 0,
            ms: Math.round(performance.now() - started),
            upgrade: true,
            outcome: r.outcome,
            ...(r.reason !== undefined ? { reason: r.reason } : {}),
          };
          if (r.error !== undefined) this.hooks.upstreamError(conn, { ...rec, error: r.error });
          this.hooks.requestDone(conn, rec);
          done();
        },
      );
      this.active.add(tunnel);
      tunnel.start();
      return tunnel;
    }

    const { res } = item;
    if (this.hooks.draining()) res.shouldKeepAlive = false;
    const exchange = new UpstreamExchange(
      {
        pool: this.pool,
        method,
        path: target.path,
        headers: this.policy.upstreamRequestHeaders(req.headers, ctx, null),
        req,
        res,
        policy: this.policy,
        headersTimeoutMs: this.timeoutMs,
        bodyIdleMs: this.bodyIdleMs,
        expectContinue: item.expectContinue,
      },
      (r) => {
        this.running.delete(exchange);
        this.active.delete(exchange);
        const rec: RequestRecord = {
          method,
          path,
          status: r.status,
          bytesIn: r.bytesIn,
          bytesOut: r.bytesOut,
          ms: Math.round(performance.now() - started),
          upgrade: false,
          outcome: r.outcome,
          ...(r.reason !== undefined ? { reason: r.reason } : {}),
        };
        if (
          r.outcome === 'upstream_error' ||
          (r.outcome === 'timeout' && r.reason?.startsWith('client') !== true)
        ) {
          this.hooks.upstreamError(conn, { ...rec, error: r.reason ?? r.outcome });
        }
        this.hooks.requestDone(conn, rec);
        done();
      },
    );
    this.running.add(exchange);
    this.active.add(exchange);
    exchange.start();
    return exchange;
  }

  private answerHeld(conn: C, item: Item, method: string, path: string): void {
    const text = 'service unavailable: the gateway cannot write its audit records';
    if (item.kind === 'upgrade') rawReply(item.req.socket, 503, text);
    else localReply(item.res, 503, text, item.req, true);
    this.hooks.requestHeld(conn, {
      method,
      path,
      status: 503,
      bytesIn: 0,
      bytesOut: text.length + 1,
      ms: 0,
      upgrade: item.kind === 'upgrade',
    });
  }

  private checkStalls(): void {
    const now = Date.now();
    for (const ex of this.running) ex.check(now, this.idleMs);
  }
}

/** A short plain-text answer the gateway gives itself; the request body, if any, is discarded. */
function localReply(
  res: http.ServerResponse,
  status: number,
  text: string,
  req: http.IncomingMessage,
  close = false,
): void {
  const body = `${text}\n`;
  req.resume();
  if (close) res.shouldKeepAlive = false;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const derCache = new WeakMap<Socket, Buffer>();

/** The client's leaf certificate (DER), read once per connection and only when a cert header is on. */
function peerDer(socket: Socket): Buffer {
  let der = derCache.get(socket);
  if (!der) {
    der = (socket as TLSSocket).getPeerCertificate().raw;
    derCache.set(socket, der);
  }
  return der;
}

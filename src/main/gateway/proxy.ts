import type http from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ClientHttp, type ParsedRequest } from './client-http';
import { Exchange, type RequestOutcome } from './exchange';
import { MAX_HEADER_PAIRS } from './http1';
import { HeaderPolicy, xfccValue, type HeaderContext, type HeaderPolicyOptions } from './request-headers';
import { RequestLane, type LaneStop, type Running } from './request-lane';
import { upstreamTarget } from '../../shared/request-target';
import { isWebSocketUpgrade, Tunnel } from './tunnel';
import { UpstreamPool } from './upstream-pool';
import type { RenewOutcome } from './wire';
import { RENEW_PATH, RenewEndpoint } from './renew-endpoint';
import type { ClientIdentity } from './verify';
import { decide, type AccessRule } from '../../shared/policy-decide';

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
export type RequestRefusal =
  | 'revoked'
  | 'expired'
  | 'upgrade_not_allowed'
  | 'upgrade_pipelined'
  | 'bad_path'
  /** No access rule allows this method and path for this client (403). */
  | 'policy_denied'
  /** Malformed, or something the gateway does not relay (two Hosts, an unknown coding or Expect). */
  | 'bad_request';

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
  /** Renews the connection's certificate (the parent signs); see renew-endpoint.ts. */
  renew(conn: C, csrDer: Buffer | undefined): Promise<RenewOutcome>;
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
const WATCHDOG_MS = 250;

/** Transfer codings the gateway relays: chunked only (RFC 9112 §7; nginx answers others with 501). */
function unsupportedCoding(te: string | undefined): boolean {
  return te !== undefined && te.trim().toLowerCase() !== 'chunked';
}

interface Client<C> {
  readonly conn: C;
  readonly http: ClientHttp;
  readonly lane: RequestLane<ParsedRequest>;
  /** The connection's identity header lines, built once per header-settings version. */
  identity: string;
  policyVersion: number;
}

/**
 * Reverse proxy to one upstream. The TLS listener hands it sockets that already passed
 * verification, so no unauthenticated byte is ever parsed as HTTP. Requests are parsed with
 * llhttp straight off the TLS socket and relayed over a pool of keep-alive upstream sockets; each
 * connection's requests go through its own RequestLane, one at a time.
 */
export class ReverseProxy<C extends ProxyConnection> {
  private readonly pool: UpstreamPool;
  private readonly basePath: string;
  private readonly upstreamHost: string;
  private policy: HeaderPolicy;
  /** Bumped when the header settings change, so each connection rebuilds its identity lines. */
  private policyVersion = 0;
  /**
   * Connections being served; what runs is each one's lane's. No set of requests: a Set's table
   * lives in old space once promoted, and each rehash leaves the old table holding the requests
   * it had, which then keeps their young objects alive through scavenges (all promoted, issue 12).
   */
  private readonly clients = new Set<Client<C>>();
  private readonly watchdog: NodeJS.Timeout;
  private idleMs: number;
  private timeoutMs: number;
  private readonly bodyIdleMs: number;
  private readonly maxQueued: number;
  private rules: readonly AccessRule[] = [];

  constructor(
    private readonly target: ProxyTarget,
    private readonly hooks: ProxyHooks<C>,
    private readonly options: ProxyOptions = {},
  ) {
    // One request at a time per client connection bounds the pool's wait queue by the number of
    // connections.
    this.pool = new UpstreamPool(target.url, target.maxSockets);
    this.basePath = target.url.pathname.replace(/\/+$/, '');
    this.upstreamHost = target.url.host;
    this.policy = new HeaderPolicy({ ...options, upstreamOrigin: target.url.origin });
    this.idleMs = target.idleMs ?? DEFAULT_IDLE_MS;
    this.timeoutMs = target.timeoutMs;
    this.bodyIdleMs = options.bodyIdleMs ?? Math.max(2 * this.idleMs, MIN_BODY_IDLE_MS);
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.watchdog = setInterval(() => this.checkStalls(), WATCHDOG_MS);
    this.watchdog.unref();
  }

  /** Access rules saved while running: every request dispatched from now on is checked against them. */
  setRules(rules: readonly AccessRule[]): void {
    this.rules = rules;
  }

  /** Header settings saved while running: every request dispatched from now on follows them. */
  setHeaderOptions(options: HeaderPolicyOptions): void {
    this.policy = new HeaderPolicy({ ...this.options, ...options, upstreamOrigin: this.target.url.origin });
    this.policyVersion++;
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
    for (const c of [...this.clients]) c.lane.current?.abort('shutdown');
    this.pool.close();
  }

  /** Serves HTTP on a verified socket until it closes. */
  attach(socket: TLSSocket): void {
    const conn = this.hooks.connectionOf(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    // Drops are summed and recorded once, when the socket closes: a flood of pipelined requests
    // behind a refusal must not become a flood of audit records.
    let drops = 0;
    let dropWhy: LaneStop = 'client_closed';
    const client: Client<C> = {
      conn,
      http: new ClientHttp(socket, {
        request: (req) => this.enqueue(client, req),
        parseError: (code, reason) => this.onParseError(client, code, reason),
      }),
      lane: new RequestLane<ParsedRequest>(this.maxQueued, {
        start: (req, done): Running | null => this.start(client, req, done),
        dropped: (count, why) => {
          if (drops === 0) dropWhy = why;
          drops += count;
        },
        idle: () => {
          conn.inFlight = 0;
          this.hooks.idle(conn);
        },
      }),
      identity: '',
      policyVersion: -1,
    };
    // A client that leaves (or half-closes) takes its queued requests with it: none is sent.
    socket.once('end', () => client.lane.stop('client_closed'));
    this.clients.add(client);
    socket.once('close', () => {
      this.clients.delete(client);
      client.lane.stop('client_closed');
      if (drops > 0) this.hooks.requestsDropped(conn, drops, dropWhy);
    });
  }

  private enqueue(client: Client<C>, req: ParsedRequest): void {
    const { conn, lane } = client;
    // An upgrade pipelined behind other requests cannot be paced with the responses before it.
    // No browser does this; refuse and close.
    if (req.upgrade && lane.pending > 0) {
      conn.requests++;
      this.hooks.requestRefused(conn, {
        method: req.method,
        path: auditPath(req.url),
        status: 0,
        reason: 'upgrade_pipelined',
        upgrade: true,
      });
      lane.stop('client_closed');
      client.http.socket.destroy();
      return;
    }
    conn.requests++;
    if (lane.push(req)) conn.inFlight = lane.pending;
    else if (lane.stoppedBy === 'overflow') this.hooks.closeConnection(conn, 'overflow');
  }

  /** A malformed request: 400 (431 for an oversized head) when nothing is in flight, else close. */
  private onParseError(client: Client<C>, code: string, reason: string): void {
    const { conn, lane, http } = client;
    conn.requests++;
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const busy = lane.pending > 0;
    this.hooks.requestRefused(conn, {
      method: '-',
      path: '-',
      status: busy ? 0 : status,
      reason: 'bad_request',
      detail: `${code}: ${reason}`.slice(0, 200),
      upgrade: false,
    });
    if (busy) {
      lane.stop('client_closed');
      http.socket.destroy();
    } else {
      http.reply(status, status === 431 ? 'request header fields too large' : 'bad request', true);
    }
  }

  /** Starts one request of a lane: every check that must hold at dispatch time, then the exchange. */
  private start(client: Client<C>, req: ParsedRequest, done: () => void): Running | null {
    const { conn, lane, http } = client;
    conn.inFlight = lane.pending;
    const method = req.method;
    const path = auditPath(req.url);
    const upgrade = req.upgrade;
    const refuse = (reason: RequestRefusal, status: number, detail?: string): void =>
      this.hooks.requestRefused(conn, {
        method,
        path,
        status,
        reason,
        upgrade,
        ...(detail !== undefined ? { detail } : {}),
      });
    /** Refused with an answer; the connection stays open only if the request's body is all read. */
    const answer = (reason: RequestRefusal, status: number, text: string, detail?: string): null => {
      refuse(reason, status, detail);
      const close = upgrade || !req.keepAlive || (req.hasBody && !req.body.done);
      if (req.hasBody) req.body.discard();
      http.reply(status, text, close, req.http10);
      done();
      return null;
    };

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
      if (upgrade) http.socket.destroy();
      done();
      return null;
    }
    const held = this.hooks.held();
    if (held !== null) {
      this.answerHeld(client, req);
      lane.stop('held');
      done();
      return null;
    }
    if (req.tooManyHeaders) {
      return answer(
        'bad_request',
        431,
        'request header fields too large',
        `more than ${MAX_HEADER_PAIRS} headers`,
      );
    }
    if (upgrade && !isWebSocketUpgrade(req)) {
      return answer(
        'upgrade_not_allowed',
        400,
        'only WebSocket upgrades are accepted',
        String(req.facts.upgrade ?? req.method).slice(0, 100),
      );
    }
    // RFC 9112 §3.2: exactly one Host; two could be read differently by the gateway and the upstream.
    if (req.facts.hostCount > 1 || (!req.http10 && req.facts.hostCount === 0)) {
      return answer('bad_request', 400, 'bad request: exactly one Host header is required', 'host');
    }
    if (unsupportedCoding(req.facts.transferEncoding)) {
      return answer(
        'bad_request',
        501,
        'transfer coding not implemented',
        String(req.facts.transferEncoding).slice(0, 100),
      );
    }
    if (req.facts.expect !== undefined && req.facts.expect.trim().toLowerCase() !== '100-continue') {
      return answer('bad_request', 417, 'expectation failed', req.facts.expect.slice(0, 100));
    }
    const target = upstreamTarget(this.basePath, req.url);
    if (!target.ok) return answer('bad_path', 400, `bad request path: ${target.detail}`, target.detail);
    // The gateway's own endpoint, never proxied: access rules are about the upstream's paths.
    if (target.clientPath === RENEW_PATH) return this.startRenew(client, req, done);
    if (this.rules.length > 0) {
      const d = decide(
        this.rules,
        { name: conn.identity.cn, groups: conn.identity.groups },
        method,
        target.clientPath,
      );
      if (!d.allowed) {
        return answer(
          'policy_denied',
          403,
          `forbidden: ${d.reason}`,
          d.rule === null ? d.reason : `${d.rule}: ${d.reason}`,
        );
      }
    }

    const started = performance.now();
    if (upgrade) {
      const tunnel = new Tunnel(
        {
          url: this.target.url,
          path: target.path,
          method,
          headers: this.policy.upstreamRequestHeaders(
            headersObject(req.rawHeaders),
            {
              identity: conn.identity,
              remoteAddress: conn.remoteAddress,
              upstreamHost: this.upstreamHost,
              certDer: () => http.socket.getPeerCertificate().raw,
              method,
            },
            'websocket',
          ),
          socket: http.socket,
          head: req.upgradeHead,
          timeoutMs: this.timeoutMs,
          idleMs: this.idleMs,
        },
        (r) => {
          const rec = requestRecord(method, path, started, { ...r, bytesIn: 0, bytesOut: 0 }, true);
          if (r.error !== undefined) this.hooks.upstreamError(conn, { ...rec, error: r.error });
          this.hooks.requestDone(conn, rec);
          done();
        },
      );
      tunnel.start();
      return tunnel;
    }

    const exchange = new Exchange(
      {
        pool: this.pool,
        policy: this.policy,
        client: http,
        req,
        path: target.path,
        upstreamHost: this.upstreamHost,
        identity: this.identityOf(client),
        headersTimeoutMs: this.timeoutMs,
        bodyIdleMs: this.bodyIdleMs,
        close: !req.keepAlive || this.hooks.draining(),
      },
      (r) => {
        const rec = requestRecord(method, path, started, r, false);
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
    exchange.start();
    return exchange;
  }

  private startRenew(client: Client<C>, req: ParsedRequest, done: () => void): Running {
    const started = performance.now();
    const endpoint: RenewEndpoint = new RenewEndpoint(
      client.http,
      req,
      (csrDer) => this.hooks.renew(client.conn, csrDer),
      (r) => {
        this.hooks.requestDone(client.conn, requestRecord(req.method, RENEW_PATH, started, r, false));
        done();
      },
      this.timeoutMs,
    );
    endpoint.start();
    return endpoint;
  }

  private identityOf(client: Client<C>): string {
    if (client.policyVersion !== this.policyVersion) {
      const socket = client.http.socket;
      client.identity = this.policy.identityLines({
        identity: client.conn.identity,
        remoteAddress: client.conn.remoteAddress,
        upstreamHost: this.upstreamHost,
        certDer: () => socket.getPeerCertificate().raw,
      });
      client.policyVersion = this.policyVersion;
    }
    return client.identity;
  }

  private answerHeld(client: Client<C>, req: ParsedRequest): void {
    const text = 'service unavailable: the gateway cannot write its audit records';
    if (req.hasBody) req.body.discard();
    client.http.reply(503, text, true, req.http10);
    this.hooks.requestHeld(client.conn, {
      method: req.method,
      path: auditPath(req.url),
      status: 503,
      bytesIn: 0,
      bytesOut: text.length + 1,
      ms: 0,
      upgrade: req.upgrade,
    });
  }

  private checkStalls(): void {
    const now = Date.now();
    for (const c of this.clients) {
      const r = c.lane.current;
      if (r instanceof Exchange) r.check(now, this.idleMs);
    }
  }
}

/** The audit record of one handled request. */
function requestRecord(
  method: string,
  path: string,
  started: number,
  r: {
    readonly status: number;
    readonly bytesIn: number;
    readonly bytesOut: number;
    readonly outcome: RequestOutcome;
    readonly reason?: string;
  },
  upgrade: boolean,
): RequestRecord {
  return {
    method,
    path,
    status: r.status,
    bytesIn: r.bytesIn,
    bytesOut: r.bytesOut,
    ms: Math.round(performance.now() - started),
    upgrade,
    outcome: r.outcome,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  };
}

/** Raw header lines as node:http's lowercased object (repeated names joined), for the tunnel. */
function headersObject(raw: readonly string[]): http.IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = key === 'set-cookie' ? [prev, value] : `${prev}, ${value}`;
  }
  return out;
}

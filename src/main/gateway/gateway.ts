import type { TLSSocket } from 'node:tls';
import type { AuditActor, ConnectionInfo, GatewayConfig } from '../../shared/model';
import { parseHostPort } from '../../shared/host-port';
import { ConnectionTable, type LiveConnection } from './connections';
import { checkedUpstream, HEARTBEAT_MS, resolveLimits, TICK_MS, type GatewayLimits } from './limits';
import { TlsListener, type Accepted } from './listener';
import {
  GATEWAY_AUDIT_TYPES as T,
  type GatewayAuditEntry,
  type GatewayOptions,
  type GatewayTlsMaterial,
  type LogLevel,
  type RefusalReason,
  type TlsMessage,
  type WireCredentials,
  type RenewOutcome,
} from './wire';
import { ReverseProxy, type ProxyOptions, type RequestRecord } from './proxy';
import type { HeaderPolicyOptions } from './request-headers';
import { refuseWithAnswer } from './refusal-reply';
import { RefusalThrottle } from './refusal-throttle';
import {
  chainProblem,
  reasonForHandshakeError,
  RevocationSet,
  TrustStore,
  verifySocket,
  type Verdict,
} from './verify';

/** Refusals recorded in full per reason and remote address in each window; the rest are counted. */
const REFUSALS_PER_WINDOW = 20;

/** Where the gateway's observations go; gateway-main forwards them to the parent process. */
export interface GatewaySink {
  audit(entry: GatewayAuditEntry): void;
  connections(list: ConnectionInfo[]): void;
  log(level: LogLevel, line: string): void;
  /** Asks the parent (which holds the CA key) to renew a client's certificate; absent: 503. */
  renew?(req: { serial: string; csrDer?: Buffer }): Promise<RenewOutcome>;
}

export interface GatewayInit {
  readonly tls: GatewayTlsMaterial;
  readonly revokedSerials: readonly string[];
  readonly config: GatewayConfig;
  readonly options?: GatewayOptions;
  /** Request-layer tuning (queue depth, body idle time); header options come from the config. */
  readonly proxy?: ProxyOptions;
  /** Upstream credentials (issue 11 §3), values in clear. */
  readonly credentials?: WireCredentials;
}

const SYSTEM: AuditActor = { kind: 'system' };

let isoSecond = -1;
let isoPrefix = '';
/**
 * `new Date().toISOString()` for the audit records, one per request: the text up to the seconds is
 * built once a second and the milliseconds appended (Date#toISOString cost ~1 µs a record).
 */
export function isoNow(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/** The operator's header settings, as the proxy takes them. */
function headerOptions(config: GatewayConfig, credentials: WireCredentials): HeaderPolicyOptions {
  return {
    stripHeaders: config.stripHeaders,
    clientCertHeader: config.clientCertHeader,
    xfccCert: config.xfccCert,
    rewriteOrigin: config.rewriteOrigin,
    credentials,
  };
}

function clientActor(conn: { identity: { cn: string; serial: string } }): AuditActor {
  return { kind: 'client', cn: conn.identity.cn, serial: conn.identity.serial };
}

/**
 * The embedded mTLS gateway: a TLS 1.3 listener whose verified sockets feed a reverse proxy.
 * Purely message-driven: it reads no files, so the parent alone decides what it trusts.
 */
export class Gateway {
  private limits: GatewayLimits;
  private readonly listener: TlsListener;
  /** New connections go to this proxy; a new upstream gets a new one (see reconfigure). */
  private proxy: ReverseProxy<LiveConnection>;
  private readonly makeProxy: (upstream: URL) => ReverseProxy<LiveConnection>;
  /** Proxies of a previous upstream, closed once the connections they serve are gone. */
  private retired: { proxy: ReverseProxy<LiveConnection>; until: number }[] = [];
  private credentials: WireCredentials = [];
  private config: GatewayConfig;
  private readonly options: GatewayOptions;
  private readonly table = new ConnectionTable();
  private readonly refusals: RefusalThrottle;
  private readonly revoked = new RevocationSet();
  private readonly trust: TrustStore;
  private readonly listen: { host: string; port: number };
  private ticker: NodeJS.Timeout | undefined;
  private publishedVersion = -1;
  private lastPublish = 0;
  private stopping = false;
  /** Why the gateway takes no requests now (fail-closed audit), or null. */
  private held: string | null = null;
  private drained: (() => void) | undefined;

  constructor(
    init: GatewayInit,
    private readonly sink: GatewaySink,
  ) {
    const listen = parseHostPort(init.config.listen);
    if (!listen) throw new Error(`bad listen address ${init.config.listen}`);
    this.listen = listen;
    this.config = init.config;
    this.options = init.options ?? {};
    this.limits = resolveLimits(init.config, init.options);
    this.refusals = new RefusalThrottle(
      REFUSALS_PER_WINDOW,
      this.limits.refusalWindowMs,
      this.limits.refusalBudget,
    );
    const upstream = checkedUpstream(init.config);
    this.trust = new TrustStore(init.tls.caPem);
    this.revoked.replace(init.revokedSerials);
    this.listener = new TlsListener(init.tls, this.limits, {
      secure: (s, accepted) => this.onSecure(s, accepted),
      handshakeFailed: (err, remote) => this.onHandshakeFailed(err, remote),
      dropped: (remote, detail) => this.refused('handshake_limit', remote, undefined, detail),
    });
    this.makeProxy = (upstream: URL): ReverseProxy<LiveConnection> =>
      new ReverseProxy(
        {
          url: upstream,
          timeoutMs: this.limits.upstreamTimeoutMs,
          maxSockets: this.limits.maxConnections * 2,
          idleMs: this.limits.idleTimeoutMs,
        },
        {
          connectionOf: (socket) => this.table.of(socket),
          requestDone: (conn, rec) => this.onRequestDone(conn, rec),
          upstreamError: (conn, info) => this.onUpstreamError(conn, info),
          idle: (conn) => this.onConnIdle(conn),
          draining: () => this.stopping,
          held: () => this.held,
          requestHeld: (conn, rec) => this.audit(T.requestHeld, clientActor(conn), { id: conn.id, ...rec }),
          requestRefused: (conn, rec) =>
            this.audit(T.requestRefused, clientActor(conn), { id: conn.id, ...rec }),
          requestsDropped: (conn, count, why) =>
            this.audit(T.requestsDropped, clientActor(conn), { id: conn.id, count, why }),
          // Checked before each dispatch, not only at the handshake (DESIGN.md §8).
          identityProblem: (conn) =>
            this.revoked.hasCanonical(conn.serialKey)
              ? 'revoked'
              : Date.now() > conn.identity.notAfter
                ? 'expired'
                : null,
          closeConnection: (conn, why) => this.table.close(conn, why === 'overflow' ? 'error' : why),
          renew: (conn, csrDer) =>
            this.sink.renew
              ? this.sink.renew({ serial: conn.identity.serial, ...(csrDer ? { csrDer } : {}) })
              : Promise.resolve({ ok: false, status: 503, error: 'renewal is not available here' }),
        },
        { ...init.proxy, ...headerOptions(this.config, this.credentials) },
      );
    this.credentials = init.credentials ?? [];
    this.proxy = this.makeProxy(upstream);
    this.proxy.setRules(init.config.accessRules);
  }

  /** Credentials set or removed while running: the next request of every connection uses them. */
  setCredentials(list: WireCredentials): void {
    this.credentials = list;
    this.proxy.setHeaderOptions(headerOptions(this.config, this.credentials));
    for (const r of this.retired) r.proxy.setHeaderOptions(headerOptions(this.config, this.credentials));
  }

  /**
   * Settings saved while running (issue 8): limits and timeouts apply to new handshakes and
   * connections at once, and a new upstream to every connection opened from now on (connections
   * already open finish on the old one). Throws, changing nothing, on a bad upstream or a
   * different listen address, which needs a restart.
   */
  reconfigure(config: GatewayConfig): void {
    const listen = parseHostPort(config.listen);
    if (!listen || config.listen !== this.config.listen) {
      throw new Error(`the listen address cannot change while running (${this.config.listen})`);
    }
    const upstream = checkedUpstream(config);
    const upstreamChanged = config.upstream !== this.config.upstream;
    const headersChanged =
      JSON.stringify(headerOptions(config, [])) !== JSON.stringify(headerOptions(this.config, []));
    this.limits = resolveLimits(config, this.options);
    this.config = config;
    this.listener.setLimits(this.limits);
    if (upstreamChanged) {
      this.retired.push({ proxy: this.proxy, until: Date.now() });
      this.proxy = this.makeProxy(upstream);
    } else if (headersChanged) {
      // Identity headers are security settings: every connection's next request follows them.
      this.proxy.setHeaderOptions(headerOptions(config, this.credentials));
    }
    // So are access rules: the next request of every open connection is checked against them.
    this.proxy.setRules(config.accessRules);
    this.sink.log(
      'info',
      `settings applied live${upstreamChanged ? ` (upstream now ${config.upstream})` : ''}`,
    );
  }

  async start(): Promise<{ host: string; port: number }> {
    const addr = await this.listener.listen(this.listen.host, this.listen.port);
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.sink.log('info', `listening on ${addr.address}:${addr.port}`);
    return { host: addr.address, port: addr.port };
  }

  /** Hot rotation of the server cert and/or the CA bundle; throws (and changes nothing) on bad material. */
  updateTls(msg: TlsMessage): void {
    // Parse the bundle first: a bad one must leave both the listener and the trust store unchanged.
    if (msg.caPem !== undefined) new TrustStore(msg.caPem);
    this.listener.update({
      ...(msg.server ? { server: msg.server } : {}),
      ...(msg.caPem !== undefined ? { caPem: msg.caPem } : {}),
    });
    if (msg.caPem !== undefined) this.trust.replace(msg.caPem);
    this.sink.log(
      'info',
      `tls material updated (${msg.server ? 'server cert' : ''}${msg.caPem ? ' ca bundle' : ''})`,
    );
  }

  /** Replaces the revocation set and closes live connections of every revoked serial; returns how many. */
  updateRevocations(serials: readonly string[]): number {
    this.revoked.replace(serials);
    let closed = 0;
    for (const conn of this.table.all()) {
      if (this.revoked.hasCanonical(conn.serialKey)) {
        this.table.close(conn, 'revoked');
        closed++;
      }
    }
    return closed;
  }

  /** Fail-closed: with a reason, refuse new connections and answer 503 to requests; null lifts it. */
  hold(reason: string | null): void {
    if (reason === this.held) return;
    this.held = reason;
    this.sink.log(
      reason ? 'error' : 'info',
      reason ? `taking no requests: ${reason}` : 'taking requests again',
    );
  }

  kill(target: { id: string } | { serial: string }): number {
    const conns = this.table.select(target);
    for (const c of conns) this.table.close(c, 'killed');
    return conns.length;
  }

  connections(): ConnectionInfo[] {
    return this.table.snapshot();
  }

  openSockets(): Promise<number> {
    return this.listener.openSockets();
  }

  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes everything. */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.listener.stopAccepting();
    for (const conn of this.table.all()) this.onConnIdle(conn);
    if (this.table.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const conn of this.table.all()) this.table.close(conn, 'shutdown');
    this.proxy.close();
    for (const r of this.retired.splice(0)) r.proxy.close();
    if (this.ticker) clearInterval(this.ticker);
    this.reportSuppressed(Date.now(), true);
    this.publish(Date.now());
  }

  // ── events ──────────────────────────────────────────────────────────────────

  private onSecure(socket: TLSSocket, accepted: Accepted): void {
    const remote = accepted.remote;
    // Close on error without an unhandled 'error' event; the close handler does the bookkeeping.
    socket.on('error', () => socket.destroy());
    // A refused client is told why (a short 4xx/503), then closed; nothing it sends is parsed.
    const refuse = (reason: RefusalReason, verdict?: Verdict, detail?: string): void => {
      this.refused(reason, remote, verdict, detail, { resumed: socket.isSessionReused() });
      refuseWithAnswer(socket, reason, this.limits.refusalLingerMs);
    };
    if (this.stopping) return refuse('shutting_down');
    if (this.held !== null) return refuse('audit_unavailable');
    const oversized = chainProblem(socket, accepted.handshakeBytes(), this.limits);
    if (oversized) {
      this.listener.penalize(accepted.prefix);
      return refuse(oversized.reason, undefined, oversized.detail);
    }
    const verdict = verifySocket(socket, { revoked: this.revoked, trust: this.trust, now: Date.now() });
    if (!verdict.ok) return refuse(verdict.reason, verdict);
    // The authenticated caps, counted only once a client has proven who it is (issue 8, item 2).
    if (this.table.size >= this.limits.maxConnections) {
      return refuse('limit_reached', verdict, `${this.table.size} live connections`);
    }
    const mine = this.table.countOf(verdict.identity.serial);
    if (mine >= this.limits.maxConnectionsPerIdentity) {
      return refuse('identity_limit', verdict, `${mine} live connections of this certificate`);
    }
    const now = Date.now();
    const conn = this.table.add(socket, verdict.identity, remote, now);
    this.listener.authenticated(socket);
    socket.setNoDelay(true);
    socket.once('close', () => this.onClose(conn));
    this.audit(T.accepted, clientActor(conn), {
      id: conn.id,
      remote,
      tlsVersion: socket.getProtocol(),
      cipher: socket.getCipher().name,
      resumed: socket.isSessionReused(),
      issuer: verdict.identity.issuer,
    });
    // From here on the socket is HTTP: no byte was read before the checks above passed.
    this.proxy.attach(socket);
  }

  private onHandshakeFailed(err: Error & { code?: string }, remote: string): void {
    this.refused(reasonForHandshakeError(err), remote, undefined, err.code ?? err.message);
  }

  private onClose(conn: LiveConnection): void {
    this.table.remove(conn);
    this.audit(T.closed, clientActor(conn), {
      id: conn.id,
      remote: conn.remoteAddress,
      bytesIn: conn.socket.bytesRead,
      bytesOut: conn.socket.bytesWritten,
      durationMs: Date.now() - conn.since,
      requests: conn.requests,
      ...(conn.closeReason ? { reason: conn.closeReason } : {}),
    });
    if (this.stopping && this.table.size === 0) this.drained?.();
  }

  private onRequestDone(conn: LiveConnection, rec: RequestRecord): void {
    this.table.touch();
    // Optional fields assigned, not spread: one per request, and the same key order.
    const details: Record<string, unknown> = {
      id: conn.id,
      method: rec.method,
      path: rec.path,
      status: rec.status,
      bytesIn: rec.bytesIn,
      bytesOut: rec.bytesOut,
      ms: rec.ms,
      outcome: rec.outcome,
    };
    if (rec.reason !== undefined) details['reason'] = rec.reason;
    if (rec.upgrade) details['upgrade'] = true;
    this.audit(T.request, clientActor(conn), details);
  }

  private onUpstreamError(conn: LiveConnection, info: RequestRecord & { error: string }): void {
    this.audit(T.upstreamError, clientActor(conn), {
      id: conn.id,
      method: info.method,
      path: info.path,
      status: info.status,
      error: info.error,
      ms: info.ms,
    });
    this.sink.log('warn', `upstream ${info.status}: ${info.error}`);
  }

  /** While stopping, a connection with nothing in flight is closed at once. */
  private onConnIdle(conn: LiveConnection): void {
    if (conn.inFlight === 0) this.table.requestDone(conn);
    if (!this.stopping || conn.inFlight > 0) return;
    this.table.close(conn, 'shutdown');
  }

  private refused(
    reason: RefusalReason,
    remote: string,
    verdict: Verdict | undefined,
    detail?: string,
    extra: Record<string, unknown> = {},
  ): void {
    const bad = verdict && !verdict.ok ? verdict : undefined;
    // A verified client refused by a cap is attributed; a failed one only if our CA signed it.
    const p = verdict?.ok ? verdict.identity : bad?.presented;
    const attributable = verdict?.ok === true || bad?.attributable === true;
    const actor: AuditActor = p && attributable ? { kind: 'client', cn: p.cn, serial: p.serial } : SYSTEM;
    const why = detail ?? bad?.detail;
    if (!this.refusals.admit(reason, remote, Date.now())) return;
    this.audit(T.refused, actor, {
      reason,
      remote,
      ...(p ? { cn: p.cn, serial: p.serial, issuer: p.issuer } : {}),
      ...(why !== undefined ? { detail: why } : {}),
      ...extra,
    });
  }

  private reportSuppressed(now: number, all: boolean): void {
    for (const s of this.refusals.flush(now, all)) {
      this.audit(T.refusedSuppressed, SYSTEM, {
        reason: s.reason,
        remote: s.remote,
        count: s.suppressed,
        since: new Date(s.since).toISOString(),
        ...(s.sources !== undefined ? { sources: s.sources } : {}),
      });
    }
  }

  private audit(type: string, actor: AuditActor, details: Record<string, unknown>): void {
    this.sink.audit({ type, actor, details, time: isoNow() });
  }

  /** Idle sweep and throttled publication of the connection table. */
  private tick(): void {
    const now = Date.now();
    const { idle, slow, moved } = this.table.sweep(
      now,
      this.limits.idleTimeoutMs,
      this.limits.headersTimeoutMs,
    );
    // Idle means no request in flight and no bytes either way: a silent stream (SSE, long poll) is
    // not idle; the proxy's own timers bound a request whose client or upstream stalls.
    for (const c of idle) if (c.inFlight === 0) this.table.close(c, 'idle');
    for (const c of slow) this.table.close(c, 'headers_timeout');
    // At notAfter whatever the traffic (issue 8, item 7); the proxy also checks before each dispatch.
    for (const c of this.table.expired(now)) this.table.close(c, 'expired');
    this.closeRetiredProxies();
    this.reportSuppressed(now, false);
    if (moved) this.table.touch();
    this.publish(now);
  }

  /** A previous upstream's proxy is closed once no connection opened before the switch is left. */
  private closeRetiredProxies(): void {
    if (this.retired.length === 0) return;
    const oldest = Math.min(...this.table.all().map((c) => c.since));
    this.retired = this.retired.filter((r) => {
      if (oldest <= r.until) return true;
      r.proxy.close();
      return false;
    });
  }

  private publish(now: number): void {
    const changed = this.table.changeVersion !== this.publishedVersion;
    const heartbeat = this.table.size > 0 && now - this.lastPublish >= HEARTBEAT_MS;
    if (!changed && !heartbeat) return;
    this.publishedVersion = this.table.changeVersion;
    this.lastPublish = now;
    this.sink.connections(this.table.snapshot());
  }
}

import type { TLSSocket } from 'node:tls';
import type { AuditActor, ConnectionInfo, GatewayConfig } from '../../shared/model';
import { parseHostPort } from '../../shared/validation';
import { ConnectionTable, type LiveConnection } from './connections';
import { checkedUpstream, HEARTBEAT_MS, resolveLimits, TICK_MS, type GatewayLimits } from './limits';
import { TlsListener } from './listener';
import {
  GATEWAY_AUDIT_TYPES as T,
  type GatewayAuditEntry,
  type GatewayOptions,
  type GatewayTlsMaterial,
  type LogLevel,
  type RefusalReason,
  type TlsMessage,
} from './protocol';
import { ReverseProxy, type RequestRecord } from './proxy';
import { RefusalThrottle } from './refusal-throttle';

/** Refusals recorded in full per reason and remote address in each window; the rest are counted. */
const REFUSALS_PER_WINDOW = 20;
import { reasonForHandshakeError, RevocationSet, TrustStore, verifySocket, type Verdict } from './verify';

/** Where the gateway's observations go; gateway-main forwards them to the parent process. */
export interface GatewaySink {
  audit(entry: GatewayAuditEntry): void;
  connections(list: ConnectionInfo[]): void;
  log(level: LogLevel, line: string): void;
}

export interface GatewayInit {
  readonly tls: GatewayTlsMaterial;
  readonly revokedSerials: readonly string[];
  readonly config: GatewayConfig;
  readonly options?: GatewayOptions;
}

const SYSTEM: AuditActor = { kind: 'system' };

function clientActor(conn: { identity: { cn: string; serial: string } }): AuditActor {
  return { kind: 'client', cn: conn.identity.cn, serial: conn.identity.serial };
}

/**
 * The embedded mTLS gateway: a TLS 1.3 listener whose verified sockets feed a reverse proxy.
 * Purely message-driven: it reads no files, so the parent alone decides what it trusts.
 */
export class Gateway {
  private readonly limits: GatewayLimits;
  private readonly listener: TlsListener;
  private readonly proxy: ReverseProxy<LiveConnection>;
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
    this.limits = resolveLimits(init.config, init.options);
    this.refusals = new RefusalThrottle(REFUSALS_PER_WINDOW, this.limits.refusalWindowMs);
    const upstream = checkedUpstream(init.config);
    this.trust = new TrustStore(init.tls.caPem);
    this.revoked.replace(init.revokedSerials);
    this.listener = new TlsListener(init.tls, this.limits, {
      secure: (s) => this.onSecure(s),
      handshakeFailed: (err, s) => this.onHandshakeFailed(err, s),
      dropped: (remote) => this.refused('limit_reached', remote, undefined),
    });
    this.proxy = new ReverseProxy(
      { url: upstream, timeoutMs: this.limits.upstreamTimeoutMs, maxSockets: this.limits.maxConnections * 2 },
      {
        connectionOf: (socket) => this.table.of(socket),
        requestDone: (conn, rec) => this.onRequestDone(conn, rec),
        upstreamError: (conn, info) => this.onUpstreamError(conn, info),
        idle: (conn) => this.onConnIdle(conn),
        draining: () => this.stopping,
        held: () => this.held,
        requestHeld: (conn, rec) => this.audit(T.requestHeld, clientActor(conn), { id: conn.id, ...rec }),
      },
    );
    this.proxy.server.on('clientError', (err: Error, socket) => {
      this.sink.log('debug', `http parse error: ${err.message}`);
      socket.destroy();
    });
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
      if (this.revoked.has(conn.identity.serial)) {
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
    if (this.ticker) clearInterval(this.ticker);
    this.reportSuppressed(Date.now(), true);
    this.publish(Date.now());
  }

  // ── events ──────────────────────────────────────────────────────────────────

  private onSecure(socket: TLSSocket): void {
    const remote = socket.remoteAddress ?? 'unknown';
    // Close on error without an unhandled 'error' event; the close handler does the bookkeeping.
    socket.on('error', () => socket.destroy());
    if (this.stopping) {
      this.refused('shutting_down', remote, undefined);
      socket.destroy();
      return;
    }
    if (this.held !== null) {
      this.refused('audit_unavailable', remote, undefined);
      socket.destroy();
      return;
    }
    const verdict = verifySocket(socket, { revoked: this.revoked, trust: this.trust, now: Date.now() });
    if (!verdict.ok) {
      this.refused(verdict.reason, remote, verdict, undefined, { resumed: socket.isSessionReused() });
      socket.destroy();
      return;
    }
    const now = Date.now();
    const conn = this.table.add(socket, verdict.identity, remote, now);
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
    this.proxy.server.emit('connection', socket);
  }

  private onHandshakeFailed(err: Error & { code?: string }, socket: TLSSocket): void {
    this.refused(
      reasonForHandshakeError(err),
      socket.remoteAddress ?? 'unknown',
      undefined,
      err.code ?? err.message,
    );
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
    this.audit(T.request, clientActor(conn), {
      id: conn.id,
      method: rec.method,
      path: rec.path,
      status: rec.status,
      bytesIn: rec.bytesIn,
      bytesOut: rec.bytesOut,
      ms: rec.ms,
      ...(rec.upgrade ? { upgrade: true } : {}),
    });
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
    const p = bad?.presented;
    const actor: AuditActor = p && bad.attributable ? { kind: 'client', cn: p.cn, serial: p.serial } : SYSTEM;
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
      });
    }
  }

  private audit(type: string, actor: AuditActor, details: Record<string, unknown>): void {
    this.sink.audit({ type, actor, details, time: new Date().toISOString() });
  }

  /** Idle sweep and throttled publication of the connection table. */
  private tick(): void {
    const now = Date.now();
    const { idle, slow, moved } = this.table.sweep(
      now,
      this.limits.idleTimeoutMs,
      this.limits.headersTimeoutMs,
    );
    for (const c of idle) this.table.close(c, 'idle');
    for (const c of slow) this.table.close(c, 'headers_timeout');
    this.reportSuppressed(now, false);
    if (moved) this.table.touch();
    this.publish(now);
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

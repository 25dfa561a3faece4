import path from 'node:path';
import type { ConnectionInfo, GatewayConfig, GatewayState } from '../../shared/model';
import { normalizeSerial } from '../../shared/validation';
import type { GatewayChild, GatewayLauncher } from './launcher';
import { checkedUpstream } from './limits';
import {
  checkAuditMessage,
  GATEWAY_AUDIT_TYPES,
  gatewayConfigWireSchema,
  gatewayToParentSchema,
  toAuditEntry,
  type AuditWireRow,
  type GatewayAuditEntry,
  type GatewayAuditRow,
  type GatewayOptions,
  type GatewayTlsMaterial,
  type LogLevel,
  type WireCredentials,
  type RenewOutcome,
  type RenewRequest,
} from './protocol';

/** The built gateway bundle sits next to the supervisor's own bundle in out/main. */
export function gatewayEntryPath(): string {
  return path.join(__dirname, 'gateway.js');
}

export interface SupervisorOptions {
  /** How long the child may take to report `ready` before it is killed (default 10 s). */
  readonly readyTimeoutMs?: number;
  /** Default grace for in-flight requests on stop() (default 5 s). */
  readonly stopGraceMs?: number;
  /** After the grace, how long to wait for a polite exit before SIGKILL (default 3 s). */
  readonly killAfterMs?: number;
  /** Restart backoff: first delay, cap, and the uptime after which it resets (0.5 s, 30 s, 60 s). */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number; readonly stableMs: number };
  /** Log lines kept for crash reports (default 50). */
  readonly maxLogLines?: number;
  /** How long kill() waits for the child's answer (default 5 s). */
  readonly requestTimeoutMs?: number;
}

export type LogSource = 'stdout' | 'stderr' | 'fatal' | 'supervisor' | LogLevel;

export interface SupervisorLogLine {
  readonly source: LogSource;
  readonly line: string;
  readonly time: string;
}

export interface StartOptions extends GatewayOptions {
  /** The revocation set to start with; defaults to the last one given to updateRevocations(). */
  readonly revokedSerials?: readonly string[];
  /** Upstream credentials (values in clear) to start with; later changes via updateCredentials(). */
  readonly credentials?: WireCredentials;
}

/** start() failed before the gateway ever became ready; carries the child's last log lines. */
export class GatewayStartError extends Error {
  constructor(
    message: string,
    readonly lastLines: readonly string[],
  ) {
    super(lastLines.length > 0 ? `${message}\n${lastLines.slice(-10).join('\n')}` : message);
    this.name = 'GatewayStartError';
  }
}

type Listener<T> = (value: T) => void;

class Signal<T> {
  private readonly listeners = new Set<Listener<T>>();
  on(cb: Listener<T>): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
  emit(value: T): void {
    for (const cb of [...this.listeners]) cb(value);
  }
  get listened(): boolean {
    return this.listeners.size > 0;
  }
}

interface Spec {
  material: GatewayTlsMaterial;
  config: GatewayConfig;
  options: GatewayOptions;
}

interface PendingKill {
  resolve(count: number): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Runs the gateway process and keeps it running: waits for readiness with a timeout, restarts a
 * crashed gateway with exponential backoff (recorded as `gateway.crashed` with its last log
 * lines), and stops it politely before killing it. All inputs to the gateway are messages, so
 * the gateway can be restarted at any time from the state held here.
 */
export class GatewaySupervisor {
  private current: GatewayState = { kind: 'stopped' };
  private child: GatewayChild | undefined;
  /** Identifies the current child; events of a previous child are ignored. */
  private generation = 0;
  private spec: Spec | undefined;
  private revoked: string[] = [];
  /** Fail-closed audit: why the gateway must take no requests, kept across restarts. */
  private renewHandler: ((req: { serial: string; csrDer?: Buffer }) => Promise<RenewOutcome>) | null = null;
  private credentials: WireCredentials = [];
  private holdReason: string | null = null;
  private conns: ConnectionInfo[] = [];
  private lines: string[] = [];
  private failure: string | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private restartDelay: number;
  private pendingStart:
    { resolve(addr: { host: string; port: number }): void; reject(err: Error): void } | undefined;
  private stopping: Promise<void> | undefined;
  private exitWaiters: Array<() => void> = [];
  private killRef = 0;
  private readonly kills = new Map<number, PendingKill>();
  private readonly opts: Required<SupervisorOptions>;

  private readonly stateSignal = new Signal<GatewayState>();
  private readonly connSignal = new Signal<ConnectionInfo[]>();
  private readonly auditSignal = new Signal<GatewayAuditEntry[]>();
  private readonly auditRowSignal = new Signal<GatewayAuditRow[]>();
  private readonly logSignal = new Signal<SupervisorLogLine>();

  constructor(
    private readonly launcher: GatewayLauncher,
    options: SupervisorOptions = {},
  ) {
    this.opts = {
      readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
      stopGraceMs: options.stopGraceMs ?? 5_000,
      killAfterMs: options.killAfterMs ?? 3_000,
      backoff: options.backoff ?? { initialMs: 500, maxMs: 30_000, stableMs: 60_000 },
      maxLogLines: options.maxLogLines ?? 50,
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    };
    this.restartDelay = this.opts.backoff.initialMs;
  }

  // ── events ──────────────────────────────────────────────────────────────────
  /** Each returns an unsubscribe function. */
  onState(cb: Listener<GatewayState>): () => void {
    return this.stateSignal.on(cb);
  }
  onConnections(cb: Listener<ConnectionInfo[]>): () => void {
    return this.connSignal.on(cb);
  }
  /** Records to append to the audit log, checked, in the order the gateway produced them. */
  onAuditRows(cb: Listener<GatewayAuditRow[]>): () => void {
    return this.auditRowSignal.on(cb);
  }
  /** The same records as entries (built only while someone listens: tests, tools). */
  onAudit(cb: Listener<GatewayAuditEntry[]>): () => void {
    return this.auditSignal.on(cb);
  }
  onLog(cb: Listener<SupervisorLogLine>): () => void {
    return this.logSignal.on(cb);
  }

  // ── queries ─────────────────────────────────────────────────────────────────
  state(): GatewayState {
    return this.current;
  }
  connections(): ConnectionInfo[] {
    return this.conns;
  }
  lastLines(): string[] {
    return [...this.lines];
  }

  // ── commands ────────────────────────────────────────────────────────────────

  /**
   * Starts the gateway and resolves with its bound address once it is ready.
   * Rejects with GatewayStartError when the child fails or is not ready in time (no automatic
   * restart then: a first start that fails is a configuration problem), and with a plain Error
   * when the config is invalid or the gateway is already running.
   */
  start(
    material: GatewayTlsMaterial,
    config: GatewayConfig,
    options: StartOptions = {},
  ): Promise<{ host: string; port: number }> {
    if (this.current.kind !== 'stopped' && this.current.kind !== 'crashed') {
      return Promise.reject(new Error(`gateway is ${this.current.kind}`));
    }
    try {
      gatewayConfigWireSchema.parse(config);
      checkedUpstream(config);
      if (options.revokedSerials) this.revoked = normalizeSerials(options.revokedSerials);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const { revokedSerials: _ignored, credentials, ...gatewayOptions } = options;
    if (credentials) this.credentials = credentials;
    this.spec = { material, config, options: gatewayOptions };
    this.clearTimer('restartTimer');
    this.restartDelay = this.opts.backoff.initialMs;
    return new Promise((resolve, reject) => {
      this.pendingStart = { resolve, reject };
      this.spawn();
    });
  }

  /** Stops politely (in-flight requests get graceMs), then SIGKILL after killAfterMs more. */
  stop(graceMs: number = this.opts.stopGraceMs): Promise<void> {
    this.clearTimer('restartTimer');
    if (this.stopping) return this.stopping;
    const child = this.child;
    if (!child) {
      this.failStart('gateway stopped before it was ready');
      if (this.current.kind !== 'stopped') this.setState({ kind: 'stopped' });
      return Promise.resolve();
    }
    this.stopping = (async () => {
      this.setState({ kind: 'stopping' });
      this.failStart('gateway stopped before it was ready');
      const exited = this.waitExit();
      child.send({ type: 'stop', graceMs });
      if (!(await withTimeout(exited, graceMs + this.opts.killAfterMs))) {
        this.note('supervisor', `gateway did not exit within ${graceMs + this.opts.killAfterMs} ms; SIGKILL`);
        child.kill('SIGKILL');
        await withTimeout(exited, 5_000);
      }
    })().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  /** Hot rotation: new server key/cert and CA bundle; new handshakes only, open connections stay. */
  updateTls(material: GatewayTlsMaterial): void {
    if (this.spec) this.spec.material = material;
    this.child?.send({
      type: 'tls',
      server: { keyPem: material.keyPem, certPem: material.certPem },
      caPem: material.caPem,
    });
  }

  /**
   * Replaces the whole revocation set (serials in any case, colons allowed). New handshakes of
   * these serials are refused and their live connections closed. Throws on a malformed serial.
   */
  updateRevocations(serials: readonly string[]): void {
    this.revoked = normalizeSerials(serials);
    this.child?.send({ type: 'revocations', serials: this.revoked });
  }

  /**
   * Settings saved while running (issue 8): limits, timeouts and the upstream apply at once.
   * Returns what only a restart applies (the listen address: a crash restart keeps the running one;
   * the next start() reads it from the caller). Throws, sending nothing, on an invalid config.
   */
  reconfigure(config: GatewayConfig): { restartNeeded: 'listen'[] } {
    gatewayConfigWireSchema.parse(config);
    checkedUpstream(config);
    const spec = this.spec;
    if (!spec) return { restartNeeded: [] };
    const restartNeeded: 'listen'[] = config.listen === spec.config.listen ? [] : ['listen'];
    // The running gateway keeps its listen address; everything else is applied live.
    const live: GatewayConfig = { ...config, listen: spec.config.listen };
    spec.config = live;
    this.child?.send({ type: 'config', config: live });
    return { restartNeeded };
  }

  /** Who signs renewals the gateway receives; without one they are answered 503. */
  onRenew(handler: (req: { serial: string; csrDer?: Buffer }) => Promise<RenewOutcome>): void {
    this.renewHandler = handler;
  }

  private onRenewRequest(msg: RenewRequest, child: GatewayChild): void {
    const reply = (outcome: RenewOutcome): void => child.send({ type: 'renewed', ref: msg.ref, ...outcome });
    const handler = this.renewHandler;
    if (!handler) {
      reply({ ok: false, status: 503, error: 'renewal is not available from this process' });
      return;
    }
    handler({
      serial: msg.serial,
      ...(msg.csr !== undefined ? { csrDer: Buffer.from(msg.csr, 'base64') } : {}),
    }).then(reply, (err: unknown) =>
      reply({ ok: false, status: 500, error: (err as Error).message.slice(0, 500) }),
    );
  }

  /** New upstream credentials for the running gateway (and any restart of it). */
  updateCredentials(list: WireCredentials): void {
    this.credentials = list;
    this.child?.send({ type: 'credentials', list });
  }

  /** Fail-closed audit: with a reason the gateway refuses new connections and answers 503; null lifts it. */
  hold(reason: string | null): void {
    this.holdReason = reason;
    this.child?.send(reason === null ? { type: 'hold', on: false } : { type: 'hold', on: true, reason });
  }

  /** Closes live connections by id or by serial; resolves with how many were closed (0 when not running). */
  kill(target: { id: string } | { serial: string }): Promise<number> {
    const child = this.child;
    if (!child || this.current.kind !== 'running') return Promise.resolve(0);
    const ref = ++this.killRef;
    let msgTarget: { id: string } | { serial: string };
    if ('id' in target) msgTarget = { id: target.id };
    else {
      const s = normalizeSerial(target.serial);
      if (s === null) return Promise.reject(new Error(`malformed serial "${target.serial}"`));
      msgTarget = { serial: s };
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kills.delete(ref);
        reject(new Error('gateway did not answer the kill request'));
      }, this.opts.requestTimeoutMs);
      this.kills.set(ref, { resolve, reject, timer });
      child.send({ type: 'kill', ref, ...msgTarget });
    });
  }

  // ── child lifecycle ─────────────────────────────────────────────────────────

  private spawn(): void {
    const spec = this.spec;
    if (!spec) return;
    const gen = ++this.generation;
    this.failure = undefined;
    this.setState({ kind: 'starting' });
    let child: GatewayChild;
    try {
      child = this.launcher.launch();
    } catch (err) {
      this.failure = `cannot launch the gateway: ${(err as Error).message}`;
      this.onExit(gen, null, null);
      return;
    }
    this.child = child;
    child.onMessage((m) => gen === this.generation && this.onMessage(m, child));
    child.onStdoutLine((l) => gen === this.generation && this.note('stdout', l));
    child.onStderrLine((l) => gen === this.generation && this.note('stderr', l));
    child.onExit((code, signal) => this.onExit(gen, code, signal));
    child.send({
      type: 'start',
      tls: spec.material,
      revokedSerials: this.revoked,
      config: spec.config,
      options: spec.options,
      ...(this.credentials.length > 0 ? { credentials: this.credentials } : {}),
    });
    if (this.holdReason !== null) child.send({ type: 'hold', on: true, reason: this.holdReason });
    this.readyTimer = setTimeout(() => {
      if (gen !== this.generation) return;
      this.failure = `gateway did not become ready within ${this.opts.readyTimeoutMs} ms`;
      this.note('supervisor', this.failure);
      child.kill('SIGKILL');
    }, this.opts.readyTimeoutMs);
  }

  private onMessage(raw: unknown, child: GatewayChild): void {
    // Audit batches, one record per request, get a hand-written check; the rest stays on zod.
    if (typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'audit') {
      const rows = checkAuditMessage(raw);
      if (typeof rows === 'string')
        this.note('supervisor', `malformed audit batch from gateway, refused: ${rows}`);
      else this.emitAudit(rows);
      return;
    }
    const parsed = gatewayToParentSchema.safeParse(raw);
    if (!parsed.success) {
      this.note('supervisor', `malformed message from gateway: ${parsed.error.issues[0]?.message ?? ''}`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'ready': {
        this.clearTimer('readyTimer');
        this.setState({
          kind: 'running',
          listen: `${msg.host.includes(':') ? `[${msg.host}]` : msg.host}:${msg.port}`,
          since: new Date().toISOString(),
          pid: child.pid ?? 0,
        });
        // A gateway that stays up for a while has earned a fresh backoff.
        this.stableTimer = setTimeout(() => {
          this.restartDelay = this.opts.backoff.initialMs;
        }, this.opts.backoff.stableMs);
        const pending = this.pendingStart;
        this.pendingStart = undefined;
        pending?.resolve({ host: msg.host, port: msg.port });
        return;
      }
      case 'connections':
        this.conns = msg.list;
        this.connSignal.emit(msg.list);
        return;
      case 'killed': {
        const k = this.kills.get(msg.ref);
        if (!k) return;
        this.kills.delete(msg.ref);
        clearTimeout(k.timer);
        k.resolve(msg.count);
        return;
      }
      case 'log':
        this.note(msg.level, msg.line);
        return;
      case 'renew':
        this.onRenewRequest(msg, child);
        return;
      case 'fatal':
        this.failure = msg.message.split('\n')[0] ?? msg.message;
        this.note('fatal', msg.message);
        return;
      default: {
        const never: never = msg;
        this.note('supervisor', `unknown message ${JSON.stringify(never)}`);
      }
    }
  }

  private onExit(gen: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (gen !== this.generation) return;
    this.clearTimer('readyTimer');
    this.clearTimer('stableTimer');
    this.child = undefined;
    for (const [ref, k] of this.kills) {
      clearTimeout(k.timer);
      k.reject(new Error('gateway exited'));
      this.kills.delete(ref);
    }
    if (this.conns.length > 0) {
      this.conns = [];
      this.connSignal.emit([]);
    }
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const w of waiters) w();

    if (this.current.kind === 'stopping') {
      this.setState({ kind: 'stopped' });
      return;
    }
    const how = signal ? `signal ${signal}` : `code ${String(code)}`;
    const message = this.failure ? `${this.failure} (exit ${how})` : `gateway exited unexpectedly (${how})`;
    const lastLines = this.lastLines();
    if (this.pendingStart) {
      this.setState({ kind: 'crashed', message, lastLines });
      this.failStart(message, lastLines);
      return;
    }
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.restartDelay * 2, this.opts.backoff.maxMs);
    const restartAt = new Date(Date.now() + delay).toISOString();
    this.setState({ kind: 'crashed', message, lastLines, restartAt });
    const crashed: AuditWireRow = [
      new Date().toISOString(),
      GATEWAY_AUDIT_TYPES.crashed,
      null,
      null,
      { code, signal, message, lastLines, restartInMs: delay },
    ];
    const rows = checkAuditMessage({ rows: [crashed] });
    if (typeof rows !== 'string') this.emitAudit(rows);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.spawn();
    }, delay);
  }

  // ── helpers ─────────────────────────────────────────────────────────────────

  private emitAudit(rows: GatewayAuditRow[]): void {
    this.auditRowSignal.emit(rows);
    if (this.auditSignal.listened) this.auditSignal.emit(rows.map(toAuditEntry));
  }

  private failStart(message: string, lastLines: readonly string[] = this.lastLines()): void {
    const pending = this.pendingStart;
    this.pendingStart = undefined;
    pending?.reject(new GatewayStartError(message, lastLines));
  }

  private waitExit(): Promise<void> {
    if (!this.child) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  private note(source: LogSource, line: string): void {
    for (const l of line.split('\n')) {
      this.lines.push(`[${source}] ${l}`);
    }
    if (this.lines.length > this.opts.maxLogLines)
      this.lines.splice(0, this.lines.length - this.opts.maxLogLines);
    this.logSignal.emit({ source, line, time: new Date().toISOString() });
  }

  private setState(next: GatewayState): void {
    this.current = next;
    this.stateSignal.emit(next);
  }

  private clearTimer(name: 'readyTimer' | 'restartTimer' | 'stableTimer'): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = undefined;
  }
}

function normalizeSerials(serials: readonly string[]): string[] {
  return serials.map((s) => {
    const n = normalizeSerial(s);
    if (n === null) throw new Error(`malformed serial "${s}"`);
    return n;
  });
}

async function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

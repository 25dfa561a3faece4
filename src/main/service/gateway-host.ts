import { credentialsStamp, unsealCredentials } from './credentials';
import { ConsoleError, isConsoleError } from '../errors';
import {
  ForkLauncher,
  GatewaySupervisor,
  gatewayEntryPath,
  type GatewayAuditRow,
  type GatewayLauncher,
  type GatewayTlsMaterial,
  type RenewOutcome,
  type SupervisorOptions,
} from '../gateway';
import { privateKeyPem } from '../pki';
import type { PreparedEntry } from '../audit';
import type { StateDb } from '../db';
import { AuditSink, type SinkHealth } from './audit-sink';
import type { UnsealedCa } from './ca-ops';
import type { VaultResolver } from './vaults';
import { gatewayTrustStamp, readGatewayTrust } from './rollover';
import {
  readAuditSettings,
  readCurrentServer,
  readGatewayConfig,
  readMeta,
  revocationStamp,
  revokedSerials,
} from './state';
import type {
  AuditRecord,
  ConnectionInfo,
  GatewayConfig,
  GatewayState,
  StatusInfo,
} from '../../shared/model';

export type GatewayHostEvent =
  | { kind: 'connections'; list: ConnectionInfo[] }
  | { kind: 'audit'; records: AuditRecord[] }
  | { kind: 'state'; state: GatewayState };

/** Saved gateway settings, and those that wait for a restart of the running gateway. */
export type { GatewayConfigured } from '../../shared/model';

export interface GatewayHostOptions {
  readonly state: () => StateDb;
  readonly unsealCa: () => Promise<UnsealedCa>;
  readonly vaults: VaultResolver;
  readonly now: () => Date;
  readonly onEvent: (event: GatewayHostEvent) => void;
  /** How the gateway process is started: fork of out/main/gateway.js by default, utilityProcess in the app. */
  readonly launcher?: GatewayLauncher;
  readonly supervisor?: SupervisorOptions;
  /** Extra knobs passed to the gateway (e.g. the upstream timeout). */
  readonly upstreamTimeoutMs?: number;
  /** How often the database is checked for commits of other processes (revocations, rotations). */
  readonly pollMs?: number;
  /** Sees each batch of the gateway's checked records before they are queued (metrics.ts); must be cheap. */
  readonly onAuditRows?: (rows: readonly GatewayAuditRow[]) => void;
  /** Signs a renewal a client asked the gateway for (issue 9); absent: the gateway answers 503. */
  readonly renewClient?: (req: {
    serial: string;
    csrDer?: Buffer;
  }) => Promise<{ certPem: string; caPem: string }>;
}

/**
 * A revocation committed by another process is enforced within one poll (plus the set's transfer):
 * `PRAGMA data_version` costs microseconds, so polling often is cheap; the reads behind it run only
 * when another connection committed.
 */
const POLL_MS = 25;

/**
 * Runs the gateway for a state dir: feeds the supervisor the server key, the trust bundle and the
 * revocation set from the database, and keeps them current. A revocation committed by ANY process on
 * the state dir (the CLI in another shell) reaches the gateway through the data_version poll, well
 * within 1 s.
 */
export class GatewayHost {
  private supervisor: GatewaySupervisor | null = null;
  private unwatch: (() => void) | null = null;
  private unsubscribe: (() => void)[] = [];
  private readonly sink: AuditSink;
  private stoppedWaiters: ((s: GatewayState) => void)[] = [];
  private lastRevocationStamp = '';
  private lastCredentials = '';
  private lastServerSerial = '';
  private tlsRefresh: Promise<void> = Promise.resolve();
  private queuedTlsStamp = '';
  /** What start() was told to use over the saved settings (tests, ephemeral ports); kept on reconfigure. */
  private override: Partial<GatewayConfig> = {};
  private lastConfig = '';
  private ca: UnsealedCa | null = null;
  private failOpen = false;

  constructor(private readonly opts: GatewayHostOptions) {
    this.sink = new AuditSink(
      opts.state,
      () => this.ca?.signer ?? null,
      (records) => opts.onEvent({ kind: 'audit', records }),
      (health) => this.onSinkHealth(health),
    );
  }

  state(): GatewayState {
    return this.supervisor?.state() ?? { kind: 'stopped' };
  }

  auditWrites(): StatusInfo['auditWrites'] {
    const h = this.sink.health();
    return { ...h, failOpen: this.failOpen };
  }

  /** After a lock: gateway batches go unsigned until the next start (the chain still links them). */
  forgetCaKey(): void {
    this.ca = null;
  }

  setFailOpen(failOpen: boolean): void {
    this.failOpen = failOpen;
    const h = this.sink.health();
    this.supervisor?.hold(h.ok || failOpen ? null : (h.message ?? 'audit records cannot be written'));
  }

  connections(): ConnectionInfo[] {
    return this.supervisor?.connections() ?? [];
  }

  lastLines(): string[] {
    return this.supervisor?.lastLines() ?? [];
  }

  async start(override?: Partial<GatewayConfig>): Promise<GatewayState> {
    const current = this.state().kind;
    if (current === 'running' || current === 'starting') {
      throw new ConsoleError('GATEWAY', `the gateway is already ${current}`);
    }
    const db = this.opts.state();
    this.override = { ...override };
    const { config, settings } = db.read(() => ({
      config: { ...readGatewayConfig(db.db), ...override },
      settings: readAuditSettings(db.db),
    }));
    this.failOpen = settings.failOpen;
    this.ca = await this.opts.unsealCa();
    const material = await this.loadTls();
    this.lastCredentials = credentialsStamp(db);
    const credentials = await unsealCredentials(db, this.opts.vaults);
    const revoked = db.read(() => revokedSerials(db.db));
    this.lastRevocationStamp = db.read(() => revocationStamp(db.db));
    const supervisor = new GatewaySupervisor(
      this.opts.launcher ?? new ForkLauncher(gatewayEntryPath()),
      this.opts.supervisor ?? {},
    );
    this.supervisor = supervisor;
    this.unsubscribe = [
      supervisor.onState((state) => {
        this.opts.onEvent({ kind: 'state', state });
        if (state.kind === 'stopped') this.resolveStopped(state);
      }),
      supervisor.onConnections((list) => this.opts.onEvent({ kind: 'connections', list })),
      supervisor.onAuditRows((rows) => {
        this.opts.onAuditRows?.(rows);
        this.sink.pushPrepared(rows.map(preparedFromGateway));
      }),
    ];
    const renewClient = this.opts.renewClient;
    if (renewClient) supervisor.onRenew((req) => renewOutcome(renewClient(req)));
    this.lastConfig = JSON.stringify(config);
    this.unwatch = this.watchDb();
    try {
      const addr = await supervisor.start(material, config, {
        revokedSerials: revoked,
        ...(credentials.length > 0
          ? {
              credentials: credentials,
            }
          : {}),
        ...(this.opts.upstreamTimeoutMs ? { upstreamTimeoutMs: this.opts.upstreamTimeoutMs } : {}),
      });
      this.sink.push([
        {
          type: 'gateway.started',
          actor: { kind: 'system' },
          details: {
            listen: `${addr.host}:${addr.port}`,
            upstream: config.upstream,
            maxConnections: config.maxConnections,
          },
        },
      ]);
      return supervisor.state();
    } catch (e) {
      const lines = supervisor.lastLines().slice(-5);
      this.teardown();
      await this.sink.flush();
      throw new ConsoleError('GATEWAY', `the gateway did not start: ${startFailure(e, lines)}`);
    }
  }

  async stop(): Promise<GatewayState> {
    const supervisor = this.supervisor;
    if (!supervisor) return { kind: 'stopped' };
    const wasRunning = supervisor.state().kind === 'running';
    await supervisor.stop();
    if (wasRunning) this.sink.push([{ type: 'gateway.stopped', actor: { kind: 'system' }, details: {} }]);
    this.teardown();
    await this.sink.flush();
    this.resolveStopped({ kind: 'stopped' });
    return { kind: 'stopped' };
  }

  /** Resolves once the gateway has stopped (after `stop()`, e.g. from a signal handler). */
  stopped(): Promise<GatewayState> {
    if (!this.supervisor) return Promise.resolve({ kind: 'stopped' });
    return new Promise((resolve) => this.stoppedWaiters.push(resolve));
  }

  async kill(selector: { id: string } | { serial: string }): Promise<{ killed: number }> {
    if (!this.supervisor) return { killed: 0 };
    return { killed: await this.supervisor.kill(selector) };
  }

  /**
   * Applies saved settings to the running gateway at once (limits, timeouts, upstream); returns
   * the settings only a restart applies (`listen`). Nothing to do, and nothing needed, when stopped.
   */
  reconfigure(saved: GatewayConfig): { restartNeeded: 'listen'[] } {
    const supervisor = this.supervisor;
    if (!supervisor || supervisor.state().kind === 'stopped') return { restartNeeded: [] };
    const config = { ...saved, ...this.override };
    this.lastConfig = JSON.stringify(config);
    return supervisor.reconfigure(config);
  }

  /** Sends the revocation set when it changed (our own revoke, or a commit of another process). */
  refreshRevocations(): void {
    if (!this.supervisor) return;
    const db = this.opts.state();
    const stamp = db.read(() => revocationStamp(db.db));
    if (stamp === this.lastRevocationStamp) return;
    this.lastRevocationStamp = stamp;
    this.supervisor.updateRevocations(db.read(() => revokedSerials(db.db)));
  }

  /**
   * One refresh at a time, each reading the database afresh: a slow unseal of an older refresh must
   * never land after a newer one and put back the chain a rotation or CA rollover replaced.
   */
  refreshTls(): Promise<void> {
    const next = this.tlsRefresh.then(async () => {
      if (!this.supervisor) return;
      const material = await this.loadTls();
      this.supervisor?.updateTls(material);
    });
    this.tlsRefresh = next.catch(() => undefined);
    return next;
  }

  private watchDb(): () => void {
    const db = this.opts.state();
    let version = db.dataVersion();
    const timer = setInterval(() => {
      try {
        const v = db.dataVersion();
        if (v === version) return;
        version = v;
        this.refreshRevocations();
        const { serial, config } = db.read(() => ({
          // The server serial, the trusted roots and the chain: a CA rollover changes the latter two.
          serial: gatewayTrustStamp(db.db),
          config: readGatewayConfig(db.db),
        }));
        // Once per new stamp: a refresh queued for it already reads what this commit wrote.
        if (serial !== this.lastServerSerial && serial !== this.queuedTlsStamp) {
          this.queuedTlsStamp = serial;
          void this.refreshTls().catch((e: unknown) => {
            this.queuedTlsStamp = ''; // the next commit tries again
            reportStale(e);
          });
        }
        if (credentialsStamp(db) !== this.lastCredentials) void this.refreshCredentials().catch(reportStale);
        // Settings saved by another process (the CLI while `serve` runs) apply here too.
        if (JSON.stringify({ ...config, ...this.override }) !== this.lastConfig) this.reconfigure(config);
      } catch (e) {
        reportStale(e);
      }
    }, this.opts.pollMs ?? POLL_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Upstream credentials set or removed by any process reach the running gateway (values only over IPC). */
  private async refreshCredentials(): Promise<void> {
    const db = this.opts.state();
    const stamp = credentialsStamp(db);
    const list = await unsealCredentials(db, this.opts.vaults);
    this.lastCredentials = stamp;
    this.supervisor?.updateCredentials(list);
  }

  private async loadTls(): Promise<GatewayTlsMaterial> {
    const db = this.opts.state();
    const { meta, server, trust } = db.read(() => ({
      meta: readMeta(db.db),
      server: readCurrentServer(db.db),
      trust: readGatewayTrust(db.db),
    }));
    const vault = await this.opts.vaults.open(meta.vaultBackend);
    const keyDer = await vault.unseal(server.sealedKey, `the server key in ${db.file}`);
    this.lastServerSerial = trust.stamp;
    return { keyPem: privateKeyPem(keyDer), certPem: trust.certPem, caPem: trust.caPem };
  }

  private onSinkHealth(health: SinkHealth): void {
    // Fail-closed unless the operator chose otherwise: no request goes unrecorded.
    this.supervisor?.hold(
      health.ok || this.failOpen ? null : (health.message ?? 'audit records cannot be written'),
    );
    // Shown in status and the UI; the line says where records stand, never what they contain.
    process.stderr.write(
      health.ok
        ? 'mtls-console: gateway audit records are being written again\n'
        : `mtls-console: ${health.message ?? 'gateway audit records cannot be written'}\n`,
    );
    this.opts.onEvent({ kind: 'state', state: this.state() });
  }

  private teardown(): void {
    this.unwatch?.();
    this.unwatch = null;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.supervisor = null;
    this.lastRevocationStamp = '';
  }

  private resolveStopped(state: GatewayState): void {
    const waiters = this.stoppedWaiters;
    this.stoppedWaiters = [];
    for (const w of waiters) w(state);
  }
}

/** A renewal's answer for the client: the certificate, or an HTTP status and one line saying why. */
async function renewOutcome(p: Promise<{ certPem: string; caPem: string }>): Promise<RenewOutcome> {
  try {
    const r = await p;
    return { ok: true, certPem: r.certPem, caPem: r.caPem };
  } catch (e) {
    const code = isConsoleError(e) ? e.code : 'INTERNAL';
    const status: Record<string, number> = {
      INVALID_INPUT: 400,
      FORBIDDEN: 403,
      NOT_FOUND: 403,
      RATE_LIMITED: 429,
      CA_EXPIRED: 503,
      VAULT_LOCKED: 503,
      IO: 503,
    };
    const message = isConsoleError(e) ? e.message : 'renewal failed';
    return { ok: false, status: status[code] ?? 500, error: message.split('\n')[0]!.slice(0, 500) };
  }
}

/**
 * The failure once (issue 10: EADDRINUSE was said three times): the start error's first line, then
 * the child's last log lines, each once, leaving out those that only repeat the failure.
 */
export function startFailure(e: unknown, lastLines: readonly string[]): string {
  const [first = '', ...rest] = (e instanceof Error ? e.message : String(e)).split('\n');
  const repeats = (line: string) => first.includes(line.replace(/^\[[a-z]+\] /, ''));
  const extra = [...new Set([...rest, ...lastLines])].filter((l) => l.trim() !== '' && !repeats(l));
  return extra.length > 0 ? `${first} (last log: ${extra.slice(-5).join(' | ')})` : first;
}

function reportStale(e: unknown): void {
  // A store we cannot read must not stop a running gateway; the message says why it is stale.
  process.stderr.write(
    `mtls-console: gateway not updated from the state database: ${(e as Error).message}\n`,
  );
}

/**
 * A gateway record as audit columns, without a Date or a JSON round trip: the supervisor checked
 * the row (time canonical ISO, type gateway.…, actor, details and their JSON text). The client is
 * both the actor and the certificate the record is about.
 */
export function preparedFromGateway(r: GatewayAuditRow): PreparedEntry {
  return {
    time: r.time,
    type: r.type,
    actor_kind: r.cn === null ? 'system' : 'client',
    actor: r.cn ?? '',
    actor_serial: r.serial,
    cn: r.cn,
    serial: r.serial === null ? null : r.serial.toLowerCase(),
    details: r.detailsJson,
    parsed: r.details,
  };
}

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConsoleError, isConsoleError } from '../errors';
import {
  appendAudit,
  archiveAudit,
  auditRecordsAfter,
  exportAudit,
  lastAuditSeq,
  queryAudit,
  type AuditEntryInput,
} from '../audit';
import { StateDb } from '../db';
import { crlDerToPem, summarizeCert } from '../pki';
import { atomicWriteFile } from '../store';
import { derivedPaths, type DerivedPaths } from './paths';
import type { VaultResolver } from './vaults';
import {
  audit,
  CRL_VALIDITY_MS,
  defaultOperator,
  initCa,
  issueClient,
  issueClientFromCsr,
  refreshCrl,
  revokeClient,
  rotateServer,
  unsealActiveCas,
  unsealCa,
  type CsrIssueResult,
  type InitInput,
  type IssueInput,
  type OpContext,
} from './ca-ops';
import { exportMaterial, type ExportInput, type ExportResult } from './exports';
import { renewClient, type RenewInput } from './renewal';
import { backupCa, restoreCa, type RestoreInput } from './backup';
import { CsrError, parseCsr, type CheckedCsr } from '../pki';
import { clientDetail, renewToFolder } from './client-detail';

type CsrIssueInput = Omit<IssueInput, 'p12Password'> & { readonly csr: CheckedCsr };
import { listClients, readStatus, uninitializedStatus, type StatusExtras } from './queries';
import {
  DEFAULT_DISTRIBUTION_LISTEN,
  distributionSettingsSchema,
  readDistributionSettings,
  type DistributionSettings,
  auditSettingsSchema,
  readAuditSettings,
  readCa,
  hasCrl,
  readCrl,
  readCurrentServer,
  readGatewayConfig,
  readMeta,
  writeSetting,
  type AuditSettings,
} from './state';
import { syncDerivedFiles } from './derived';
import { ServerRenewal, type RenewalOutcome, type RenewalTiming } from './server-renewal';
import { retireRollover, rolloverStatus, startRollover } from './rollover';
import { addMcpServer, removeMcpServer, type McpServerStart } from './mcp-servers';
import { outsideStateDir } from './export-path';
import { listCredentials, removeCredential, setCredential } from './credentials';
import type { UpstreamCredentialInfo, UpstreamCredentialInput } from '../../shared/credentials';
import { verifyState } from './verify';
import { Emitter } from './emitter';
import type { CallName, CallParsedInput, CallResult, EventName, EventPayloads } from '../../shared/contract';
import type {
  AuditFilter,
  AuditPage,
  AuditRecord,
  AuditVerifyResult,
  CaRolloverStatus,
  ClientDetail,
  ClientRecord,
  ClientRenewResult,
  ConnectionInfo,
  GatewayConfig,
  GatewayState,
  IssueResult,
  RevokeResult,
  StatusInfo,
} from '../../shared/model';
import { DEFAULT_GATEWAY_CONFIG } from '../../shared/model';
import { DAY_MS, isLoopbackHost, parseHostPort, type RevocationReason } from '../../shared/validation';
import { GatewayHost, type GatewayConfigured, type GatewayHostOptions } from './gateway-host';
import { DistributionHost, type DistributionHostOptions, type DistributionState } from './distribution';
import { MetricsCollector, METRICS_SETTING_KEY, readMetricsSetting } from './metrics';
import type { GatewayLauncher } from '../gateway';
import { UpstreamHealthTracker } from './upstream-health';
import { APP_SETTING_KEY, readAppSettings, type AppSettings } from './auto-start';

/** Where the automatic retention puts audit archives, inside the state dir. */
const ARCHIVE_DIR = 'archive';

/** Native pickers; the app passes Electron's dialogs, tests pass a fixed folder. */
export interface ConsoleDialogs {
  chooseExportDir(): Promise<string | null>;
  chooseAuditExportFile(format: 'jsonl' | 'csv'): Promise<string | null>;
}

export interface ConsoleServiceOptions {
  readonly stateDir: string;
  readonly vaults: VaultResolver;
  readonly dialogs?: ConsoleDialogs;
  readonly operator?: string;
  readonly now?: () => Date;
  readonly gateway?: Omit<GatewayHostOptions, 'state' | 'vaults' | 'onEvent' | 'launcher' | 'now'>;
  /** How the gateway process is started (utilityProcess in the app; fork of out/main/gateway.js otherwise). */
  readonly gatewayLauncher?: GatewayLauncher;
  /** Retry timing of the automatic server renewal (tests shorten it). */
  readonly renewal?: Partial<RenewalTiming>;
  /** Timing of the CRL and OCSP listener (tests shorten the responder certificate's life). */
  readonly distribution?: Omit<DistributionHostOptions, 'state' | 'unsealCa' | 'now' | 'metrics'>;
  /** Client names that get their own label in the request metrics; the rest are folded (default 50). */
  readonly metricsClientLabels?: number;
}

/**
 * The one implementation of every operation (DESIGN.md §2). The IPC binding, the CLI and the e2e
 * bridge are front doors onto it.
 */
export class ConsoleService {
  readonly paths: DerivedPaths;
  private readonly ctx: OpContext;
  private readonly events = new Emitter<EventPayloads>();
  /** Folders the operator picked in the native dialog; the renderer may only export into these. */
  private readonly pickedDirs = new Set<string>();
  private readonly gateway: GatewayHost;
  private readonly distribution: DistributionHost;
  private readonly renewal: ServerRenewal;
  /** Created once metrics are on (loads prom-client); counts from then on, for the life of the process. */
  private metrics: MetricsCollector | null = null;
  private metricsLoading: Promise<MetricsCollector> | null = null;
  /** Log lines of background work (the server renewal): stderr, or startUpkeep's sink while it runs. */
  private log: (line: string) => void = (line) => process.stderr.write(`mtls-console: ${line}\n`);
  private stateDb: StateDb | null = null;
  /** The upstream as this process's gateway records show it (issue 10): last error, 5xx rate. */
  private readonly upstreamHealth = new UpstreamHealthTracker(() => this.ctx.now().getTime());
  private statusSoon: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ConsoleServiceOptions) {
    this.paths = derivedPaths(opts.stateDir);
    this.ctx = {
      stateDir: this.paths.dir,
      vaults: opts.vaults,
      operator: opts.operator ?? defaultOperator(),
      now: opts.now ?? (() => new Date()),
      state: () => this.state(),
    };
    this.gateway = new GatewayHost({
      ...opts.gateway,
      ...(opts.gatewayLauncher ? { launcher: opts.gatewayLauncher } : {}),
      state: () => this.state(),
      unsealCa: () => unsealCa(this.ctx),
      vaults: opts.vaults,
      now: this.ctx.now,
      onAuditRows: (rows) => {
        this.metrics?.onRows(rows);
        if (this.upstreamHealth.onRows(rows)) this.emitStatusSoon();
      },
      // The gateway holds no CA key: renewals its clients ask for are signed here (issue 9).
      renewClient: (req) => this.renewClient({ ...req, via: 'gateway' }),
      onEvent: (event) => {
        if (event.kind === 'connections') this.events.emit('connections.changed', event.list);
        else if (event.kind === 'audit') this.emitAudit(event.records);
        else void this.emitStatus();
      },
    });
    this.distribution = new DistributionHost({
      ...opts.distribution,
      state: () => this.state(),
      unsealCa: () => unsealCa(this.ctx),
      unsealCas: () => unsealActiveCas(this.ctx),
      now: this.ctx.now,
      metrics: () => this.scrapeMetrics(),
    });
    this.renewal = new ServerRenewal({
      ctx: this.ctx,
      ...(opts.renewal ? { timing: opts.renewal } : {}),
      onRenewed: async () => {
        this.metrics?.onRenewal('renewed');
        await this.gateway.refreshTls();
        await this.afterChange();
      },
      onFailed: async () => {
        this.metrics?.onRenewal('failed');
        await this.pushNewAudit();
        await this.emitStatus();
      },
      log: (line) => this.log(line),
    });
  }

  /** The state database, opened on first use (never created here: only `init` creates one). */
  private state(): StateDb {
    this.stateDb ??= StateDb.openExisting(this.paths.dir);
    return this.stateDb;
  }

  /** Subscribing also watches the database, so changes made by other processes (the CLI) show up too. */
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
    if (event !== 'connections.changed') this.watchState();
    return this.events.on(event, listener);
  }

  async init(input: InitInput): Promise<StatusInfo> {
    this.stateDb?.close();
    this.stateDb = await initCa(this.ctx, input);
    await this.afterChange();
    return this.status();
  }

  async issueClient(input: IssueInput): Promise<IssueResult> {
    const result = await issueClient(this.ctx, input);
    if (result.replaced?.some((r) => r.revoked)) this.gateway.refreshRevocations();
    await this.afterChange();
    return result;
  }

  /** Signs a checked CSR's key for `name`; the bundle has no key (issue 9). */
  async issueClientFromCsr(input: CsrIssueInput): Promise<CsrIssueResult> {
    const result = await issueClientFromCsr(this.ctx, input);
    if (result.replaced?.some((r) => r.revoked)) this.gateway.refreshRevocations();
    await this.afterChange();
    return result;
  }

  /**
   * Renews a client certificate (issue 9; renewal.ts): the successor has the same name, groups and
   * lifetime, never past the CA or the end of the renewal chain, with the same key or the CSR's
   * (`csrDer`, rekey). The predecessor stays valid and is shown as superseded. Rejects NOT_FOUND (not
   * ours), FORBIDDEN (revoked, expired, already renewed, not renewable, chain ended), RATE_LIMITED
   * (renewed within the last minute), INVALID_INPUT (a bad CSR; or none for a certificate from
   * before the console kept certificates), CA_EXPIRED, VAULT_LOCKED.
   */
  async renewClient(input: RenewInput): Promise<{
    serial: string;
    name: string;
    certPem: string;
    caPem: string;
    notAfter: string;
  }> {
    const result = await renewClient(this.ctx, input);
    await this.afterChange();
    return {
      serial: result.serial,
      name: result.name,
      // During a CA rollover the chain goes on with the cross certificate, for old-root-only clients.
      certPem: result.crossPem ? `${result.certPem.trimEnd()}\n${result.crossPem.trim()}\n` : result.certPem,
      caPem: result.caPem,
      notAfter: result.notAfter,
    };
  }

  /** One certificate's details from its stored certificate (clients.get; never a key). */
  async clientDetail(serial: string): Promise<ClientDetail> {
    await this.healDerivedOnce();
    return clientDetail(this.ctx, serial);
  }

  /** The operator renews a certificate with its same key and gets NAME.crt and ca.crt in `outDir`. */
  async renewClientToFolder(input: { serial: string; outDir: string }): Promise<ClientRenewResult> {
    const result = await renewToFolder(this.ctx, input);
    await this.afterChange();
    return result;
  }

  /** CA certificate, chain, CRL and (confirmed) the server's certificate and key, for other verifiers. */
  async exportMaterial(input: ExportInput): Promise<ExportResult> {
    const result = await exportMaterial(this.ctx, input);
    await this.pushNewAudit();
    return result;
  }

  /** Writes an encrypted PKCS#8 backup of the CA key with its certificate (DESIGN.md §6). */
  async backupCa(input: { outFile: string; passphrase: string }) {
    const result = await backupCa(this.ctx, input);
    await this.pushNewAudit();
    return result;
  }

  /** Creates this (empty) state dir around a CA restored from a backup. */
  async restoreCa(input: RestoreInput): Promise<StatusInfo> {
    this.stateDb?.close();
    this.stateDb = await restoreCa(this.ctx, input);
    await this.afterChange();
    return this.status();
  }

  /**
   * Appends one record of a front door's own as this service's operator: an MCP tool call, refused
   * ones too (issue 11). Needs no passphrase; the next signed checkpoint covers it.
   */
  async recordEvent(
    type: `mcp.${string}`,
    details: Record<string, unknown>,
    about: { cn?: string; serial?: string } = {},
  ): Promise<void> {
    const state = this.state();
    state.tx(() => appendAudit(state.db, [audit(this.ctx, type, details, about)]));
    await this.pushNewAudit();
  }

  /** Shows a running MCP server to every process's status, with its `mcp.started` record; returns its id. */
  async mcpServerStarted(start: McpServerStart, details: Record<string, unknown>): Promise<string> {
    const state = this.state();
    const id = state.tx(() => {
      appendAudit(state.db, [
        audit(this.ctx, 'mcp.started', { ...details, allow: start.allow, bundleDir: start.bundleDir }),
      ]);
      return addMcpServer(state.db, start);
    });
    await this.pushNewAudit();
    await this.emitStatus();
    return id;
  }

  /** Removes it again, with its `mcp.stopped` record. */
  async mcpServerStopped(id: string, details: Record<string, unknown>): Promise<void> {
    const state = this.state();
    state.tx(() => {
      removeMcpServer(state.db, id);
      appendAudit(state.db, [audit(this.ctx, 'mcp.stopped', details)]);
    });
    await this.pushNewAudit();
    await this.emitStatus();
  }

  async listClients(): Promise<ClientRecord[]> {
    if (!this.initialized()) return [];
    await this.healDerivedOnce();
    return listClients(this.state(), this.ctx.now());
  }

  private healed = false;

  /** Any command heals a missing or stale crl.pem/ca.crt: a crash after a commit never leaves it so. */
  private async healDerivedOnce(): Promise<void> {
    if (this.healed) return;
    this.healed = true;
    await syncDerivedFiles(this.state(), this.paths).catch((e: unknown) =>
      process.stderr.write(`mtls-console: warning: ${(e as Error).message}\n`),
    );
  }

  /** Whether the state dir holds a CA; anything wrong with it other than absence still throws. */
  private initialized(): boolean {
    try {
      this.state();
      return true;
    } catch (e) {
      if (isConsoleError(e) && e.code === 'NOT_INITIALIZED') return false;
      throw e;
    }
  }

  async revoke(input: { serial: string; reason: RevocationReason }): Promise<RevokeResult> {
    const result = await revokeClient(this.ctx, input);
    // Enforce at once in our own gateway; gateways of other processes see the commit within 1 s.
    if (!result.alreadyRevoked) this.gateway.refreshRevocations();
    await this.afterChange();
    return result;
  }

  async rotateServer(input: { days?: number }): Promise<{ serial: string; notAfter: string }> {
    const result = await rotateServer(this.ctx, input);
    await this.gateway.refreshTls();
    await this.afterChange();
    return result;
  }

  /** The CA rollover plan: phases with dates, clients moved (issue 9; rollover.ts). */
  async rolloverStatus(): Promise<CaRolloverStatus> {
    return rolloverStatus(this.ctx);
  }

  /** Starts a staged CA rollover; the running gateway trusts both roots and serves the new chain at once. */
  async startRollover(): Promise<CaRolloverStatus> {
    const result = await startRollover(this.ctx);
    await this.gateway.refreshTls();
    void this.distribution.upkeep();
    await this.afterChange();
    return result;
  }

  /** Retires the old CA (refused while its clients remain, unless they are revoked in the same step). */
  async retireRollover(input: {
    revokeRemaining?: boolean;
  }): Promise<CaRolloverStatus & { revoked: readonly string[] }> {
    const result = await retireRollover(this.ctx, input);
    this.gateway.refreshRevocations();
    await this.gateway.refreshTls();
    void this.distribution.upkeep();
    await this.afterChange();
    return result;
  }

  async status(): Promise<StatusInfo> {
    const extras: StatusExtras = {
      gatewayState: this.gateway.state(),
      vault: { backend: null, ...this.vaultNote() },
      needsPassphrase: this.opts.vaults.needsPassphrase(),
      auditWrites: this.gateway.auditWrites(),
      renewalFailure: (db) => this.renewal.currentFailure(db),
    };
    if (!this.initialized()) return uninitializedStatus(this.paths.dir, DEFAULT_GATEWAY_CONFIG, extras);
    await this.healDerivedOnce();
    const state = this.state();
    return {
      ...readStatus(state, this.paths.dir, this.ctx.now(), extras),
      upstreamHealth: this.upstreamHealth.snapshot(),
      autoStart: state.read(() => readAppSettings(state.db)).autoStart,
    };
  }

  /** Whether the app starts the gateway when it launches (issue 10); the change is audited. */
  async setAutoStart(autoStart: boolean): Promise<AppSettings> {
    const state = this.state();
    const signer = await this.signerIfOpen();
    const settings = state.tx(() => {
      const before = readAppSettings(state.db);
      const next = { ...before, autoStart };
      const changed = diff(before, next);
      if (Object.keys(changed).length === 0) return next;
      writeSetting(state.db, APP_SETTING_KEY, next);
      appendAudit(state.db, [audit(this.ctx, 'settings.app.changed', { changed })], signer ? { signer } : {});
      return next;
    });
    await this.afterChange();
    return settings;
  }

  /** Upstream health moved: one status push within a second, however many requests failed meanwhile. */
  private emitStatusSoon(): void {
    if (this.statusSoon !== null) return;
    this.statusSoon = setTimeout(() => {
      this.statusSoon = null;
      void this.emitStatus();
    }, 1_000);
    this.statusSoon.unref();
  }

  async refreshCrl(): Promise<{ crlNumber: string; nextUpdate: string; entries: number }> {
    const result = await refreshCrl(this.ctx);
    await this.afterChange();
    return result;
  }

  /**
   * While this process runs (serve, the app), republishes the CRL once half its validity is gone, so
   * verifiers that use it never hold an expired one, and archives old audit records per the retention
   * setting. Failures (a locked vault) are retried next time. It also renews the server certificate
   * once 2/3 of its lifetime has passed (server-renewal.ts), retrying failures with backoff; its log
   * lines go to `onError` too. `everyMs` also bounds how long that timer sleeps.
   */
  startUpkeep(onError: (message: string) => void, everyMs = 60 * 60_000): () => void {
    const check = async (): Promise<void> => {
      if (!this.initialized()) return; // nothing to keep up yet
      const state = this.state();
      const { crl, settings } = state.read(() => ({
        crl: readCrl(state.db),
        settings: readAuditSettings(state.db),
      }));
      if (this.ctx.now().getTime() - Date.parse(crl.thisUpdate) >= CRL_VALIDITY_MS / 2) {
        await this.refreshCrl();
      }
      if (settings.retentionDays > 0) await this.archiveAuto(settings.retentionDays);
    };
    const run = () => void check().catch((e: unknown) => onError(`upkeep: ${(e as Error).message}`));
    run();
    const timer = setInterval(run, everyMs);
    timer.unref();
    const log = this.log;
    this.log = onError;
    const stopRenewal = this.renewal.start(everyMs);
    return () => {
      clearInterval(timer);
      stopRenewal();
      this.log = log;
    };
  }

  /**
   * Renews the server certificate now if it is due (2/3 of its lifetime) and no retry backoff holds;
   * never throws: a failure is recorded, logged and shown in the status.
   */
  checkServerRenewal(): Promise<RenewalOutcome> {
    return this.renewal.check();
  }

  /** Writes an export (the CRL for another verifier) anywhere but inside the state dir. */
  async writeExport(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
    await atomicWriteFile(await outsideStateDir(this.paths.dir, file), data, mode);
  }

  /** The issuing CA's signed CRL, or CA `caId`'s (a rollover's CAs have one each); heals crl.pem. */
  async crlPem(caId?: number): Promise<string> {
    const state = this.state();
    await syncDerivedFiles(state, this.paths).catch(() => undefined);
    if (caId !== undefined && !state.read(() => hasCrl(state.db, caId))) {
      throw new ConsoleError(
        'NOT_FOUND',
        `there is no CA ${caId} here (see \`mtls-console ca rollover status\`)`,
      );
    }
    return crlDerToPem(state.read(() => readCrl(state.db, caId)).der);
  }

  async auditQuery(input: { filter?: AuditFilter; before?: number; limit?: number }): Promise<AuditPage> {
    const state = this.state();
    return queryAudit(state.db, input.filter ?? {}, {
      ...(input.before !== undefined ? { before: input.before } : {}),
      ...(input.limit !== undefined ? { limit: input.limit } : {}),
    });
  }

  auditVerify(opts: { archives?: string[] } = {}): Promise<AuditVerifyResult> {
    return verifyState(this.state(), { ...opts, now: this.ctx.now() });
  }

  /** Streams the filtered records to a file (constant memory, whatever the size of the log). */
  async auditExportTo(
    file: string,
    format: 'jsonl' | 'csv',
    filter: AuditFilter = {},
  ): Promise<{ path: string; records: number }> {
    const state = this.state();
    await outsideStateDir(this.paths.dir, file);
    const { records } = await exportAudit(state.db, filter, format, file);
    state.tx(() =>
      appendAudit(state.db, [audit(this.ctx, 'audit.exported', { file, format, filter, records })]),
    );
    await this.pushNewAudit();
    return { path: file, records };
  }

  /** Moves records older than `before` to a signed, compressed archive file. */
  async auditArchive(before: Date, outFile: string): Promise<{ records: number; file: string } | null> {
    await outsideStateDir(this.paths.dir, outFile, ARCHIVE_DIR);
    const ca = await unsealCa(this.ctx);
    const result = await archiveAudit(this.state().db, {
      before,
      outFile,
      signer: ca.signer,
      now: this.ctx.now(),
    });
    await this.afterChange();
    return result ? { records: result.records, file: result.file } : null;
  }

  private async archiveAuto(retentionDays: number): Promise<void> {
    const now = this.ctx.now();
    const before = new Date(now.getTime() - retentionDays * DAY_MS);
    const state = this.state();
    if (queryAudit(state.db, { to: before.toISOString() }, { limit: 1 }).records.length === 0) return;
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const file = path.join(this.paths.dir, ARCHIVE_DIR, `audit-${stamp}.jsonl.gz`);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await this.auditArchive(before, file);
  }

  async gatewayConfig(): Promise<GatewayConfig> {
    const state = this.state();
    return state.read(() => readGatewayConfig(state.db));
  }

  /** Saves gateway settings and records what changed; one transaction. */
  /**
   * Saves gateway settings and applies them to a running gateway at once; `restartNeeded` names
   * what only a restart applies (the listen address). Rejects on invalid settings, saving nothing.
   */
  async configureGateway(change: Partial<GatewayConfig>): Promise<GatewayConfigured> {
    const state = this.state();
    const signer = await this.signerIfOpen();
    const config = state.tx(() => {
      const before = readGatewayConfig(state.db);
      const next = { ...before, ...change };
      const changed = diff(before, next);
      if (Object.keys(changed).length === 0) return next;
      writeSetting(state.db, 'gateway', next);
      appendAudit(
        state.db,
        [audit(this.ctx, 'settings.gateway.changed', { changed })],
        signer ? { signer } : {},
      );
      return next;
    });
    const { restartNeeded } = this.gateway.reconfigure(config);
    await this.afterChange();
    return { ...config, restartNeeded };
  }

  /** Upstream headers the gateway adds (names and methods; never the values). */
  async upstreamCredentials(): Promise<UpstreamCredentialInfo[]> {
    return listCredentials(this.state());
  }

  /** Seals the value in the vault and stores it; a running gateway uses it for its next requests. */
  async setUpstreamCredential(input: UpstreamCredentialInput): Promise<UpstreamCredentialInfo> {
    const state = this.state();
    const info = await setCredential(this.ctx, state, await this.signerIfOpen(), input);
    await this.afterChange();
    return info;
  }

  async removeUpstreamCredential(name: string): Promise<void> {
    const state = this.state();
    removeCredential(this.ctx, state, await this.signerIfOpen(), name);
    await this.afterChange();
  }

  async auditSettings(): Promise<AuditSettings> {
    const state = this.state();
    return state.read(() => readAuditSettings(state.db));
  }

  /** Retention and fail-open/closed for gateway records; switching is itself audited. */
  async configureAudit(change: Partial<AuditSettings>): Promise<AuditSettings> {
    const parsed = auditSettingsSchema.partial().safeParse(change);
    if (!parsed.success) {
      throw new ConsoleError(
        'INVALID_INPUT',
        `audit settings: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      );
    }
    const state = this.state();
    const signer = await this.signerIfOpen();
    const settings = state.tx(() => {
      const before = readAuditSettings(state.db);
      const next = { ...before, ...parsed.data };
      const changed = diff(before, next);
      if (Object.keys(changed).length === 0) return next;
      writeSetting(state.db, 'audit', next);
      appendAudit(
        state.db,
        [audit(this.ctx, 'settings.audit.changed', { changed })],
        signer ? { signer } : {},
      );
      return next;
    });
    this.gateway.setFailOpen(settings.failOpen);
    await this.afterChange();
    return settings;
  }

  async startGateway(override?: Partial<GatewayConfig>): Promise<GatewayState> {
    // Counting starts before anything that is counted (the renewal below, the first handshake).
    const metricsOn = this.initialized() && this.metricsEnabled();
    if (metricsOn) await this.ensureMetrics();
    // A certificate that expired (or fell due) while nothing ran is renewed before the first handshake.
    if (this.initialized()) await this.renewal.check();
    // The CRL and OCSP listener runs beside the gateway when configured, or for metrics alone on its
    // loopback default; bound first, so a taken address fails the start before the gateway takes connections.
    const { listen: saved, url } = await this.distributionSettings();
    const listen = saved ?? (metricsOn ? DEFAULT_DISTRIBUTION_LISTEN : null);
    const startsDistribution = listen !== null && this.distribution.state().kind === 'stopped';
    if (startsDistribution) await this.distribution.start(listen, url);
    let state: GatewayState;
    // The upstream may be another one now: its health starts afresh.
    this.upstreamHealth.reset();
    try {
      state = await this.gateway.start(override);
    } catch (e) {
      if (startsDistribution) await this.distribution.stop();
      throw e;
    }
    await this.emitStatus();
    return state;
  }

  async stopGateway(): Promise<GatewayState> {
    const state = await this.gateway.stop();
    await this.distribution.stop();
    await this.emitStatus();
    return state;
  }

  /** Whether the CRL and OCSP listener runs, where, and its responder certificate. */
  distributionState(): DistributionState {
    return this.distribution.state();
  }

  async distributionSettings(): Promise<DistributionSettings> {
    const state = this.state();
    return state.read(() => readDistributionSettings(state.db));
  }

  /** Whether `/metrics` is served (saved setting; off by default). Read per scrape, so any process's change applies at once. */
  metricsEnabled(): boolean {
    const state = this.state();
    return state.read(() => readMetricsSetting(state.db)).enabled;
  }

  private ensureMetrics(): Promise<MetricsCollector> {
    this.metricsLoading ??= MetricsCollector.create(
      {
        now: () => this.ctx.now().getTime(),
        gatewayRunning: () => this.gateway.state().kind === 'running',
        liveConnections: () => this.gateway.connections().length,
        auditWrites: () => this.gateway.auditWrites(),
        expiries: () => {
          const state = this.state();
          return state.read(() => ({
            ca: summarizeCert(readCa(state.db).certPem).notAfter.getTime(),
            server: Date.parse(readCurrentServer(state.db).notAfter),
            crl: Date.parse(readCrl(state.db).nextUpdate),
          }));
        },
        renewalFailing: () => {
          const state = this.state();
          return state.read(() => this.renewal.currentFailure(state.db)) !== null;
        },
      },
      this.opts.metricsClientLabels === undefined ? {} : { maxClientLabels: this.opts.metricsClientLabels },
    ).then(
      (collector) => (this.metrics = collector),
      (e: unknown) => {
        this.metricsLoading = null;
        throw e;
      },
    );
    return this.metricsLoading;
  }

  /** `/metrics` on the distribution listener: null (404) unless the saved setting says on. */
  private async scrapeMetrics(): Promise<{ contentType: string; body: string } | null> {
    if (!this.metricsEnabled()) return null;
    return (await this.ensureMetrics()).scrape();
  }

  /**
   * Saves where revocation status is published (issue 9): `url` goes into certificates issued from now
   * on (`<url>/crl`, `<url>/ocsp`); `listen` is where this console serves them beside the gateway
   * (a URL without an address listens on the loopback default). `metrics` switches `/metrics` on that
   * listener (issue 11; with no address, on the loopback default). Rejects INVALID_INPUT, saving
   * nothing, for a bad value or a non-loopback address without `allowRemoteListen` — which switching
   * metrics on needs too while the saved address is not on loopback. A running listener keeps its
   * address until the gateway restarts (`restartNeeded`); metrics follow the setting at once.
   */
  async configureDistribution(
    change: { url?: string | null; listen?: string | null; metrics?: boolean },
    opts: { allowRemoteListen?: boolean } = {},
  ): Promise<DistributionSettings & { metrics: boolean; restartNeeded: boolean }> {
    const { metrics, ...addresses } = change;
    const parsed = distributionSettingsSchema.partial().safeParse(addresses);
    if (!parsed.success) {
      throw new ConsoleError(
        'INVALID_INPUT',
        parsed.error.issues[0]?.message ?? 'invalid distribution settings',
      );
    }
    const listen = parsed.data.listen;
    if (listen !== undefined && listen !== null && !isLoopbackHost(parseHostPort(listen)?.host ?? '')) {
      if (opts.allowRemoteListen !== true) {
        throw new ConsoleError(
          'INVALID_INPUT',
          `the CRL and OCSP listener on ${listen} would be reachable from other hosts; allow it explicitly if that is intended`,
        );
      }
    }
    const state = this.state();
    const signer = await this.signerIfOpen();
    const settings = state.tx(() => {
      const before = { ...readDistributionSettings(state.db), metrics: readMetricsSetting(state.db).enabled };
      const next = { ...before, ...parsed.data, ...(metrics !== undefined ? { metrics } : {}) };
      if (next.url !== null && next.listen === null && parsed.data.listen === undefined) {
        next.listen = DEFAULT_DISTRIBUTION_LISTEN;
      }
      // Figures about clients and traffic leave loopback only by the same explicit choice as the CRL.
      const served = next.listen ?? DEFAULT_DISTRIBUTION_LISTEN;
      if (
        metrics === true &&
        !isLoopbackHost(parseHostPort(served)?.host ?? '') &&
        opts.allowRemoteListen !== true
      ) {
        throw new ConsoleError(
          'INVALID_INPUT',
          `metrics on ${served} would be reachable from other hosts; allow it explicitly if that is intended`,
        );
      }
      const changed = diff(before, next);
      if (Object.keys(changed).length === 0) return next;
      const { metrics: enabled, ...saved } = next;
      writeSetting(state.db, 'distribution', saved);
      writeSetting(state.db, METRICS_SETTING_KEY, { enabled });
      appendAudit(
        state.db,
        [
          audit(this.ctx, 'settings.distribution.changed', {
            changed,
            ...(opts.allowRemoteListen === true ? { allowRemoteListen: true } : {}),
          }),
        ],
        signer ? { signer } : {},
      );
      return next;
    });
    const running = this.distribution.state();
    const serves = settings.listen ?? (settings.metrics ? DEFAULT_DISTRIBUTION_LISTEN : null);
    const restartNeeded = running.kind === 'running' && serves !== running.requested;
    await this.afterChange();
    return { ...settings, restartNeeded };
  }

  connections(): ConnectionInfo[] {
    return this.gateway.connections();
  }

  killConnections(selector: { id: string } | { serial: string }): Promise<{ killed: number }> {
    return this.gateway.kill(selector);
  }

  /** Resolves when the gateway process ends by itself (for `serve`). */
  gatewayStopped(): Promise<GatewayState> {
    return this.gateway.stopped();
  }

  async close(): Promise<void> {
    this.unwatchState?.();
    this.unwatchState = null;
    await this.gateway.stop();
    await this.distribution.stop();
    this.stateDb?.close();
    this.stateDb = null;
  }

  /** Runs one contract call with its already-validated input. */
  async handle<C extends CallName>(call: C, input: CallParsedInput<C>): Promise<CallResult<C>> {
    return (await this.dispatch(call, input as never)) as CallResult<C>;
  }

  private async dispatch(call: CallName, input: never): Promise<unknown> {
    switch (call) {
      case 'status.get':
        return this.status();
      case 'ca.init': {
        const i = input as CallParsedInput<'ca.init'>;
        return this.init({
          algorithm: i.algorithm,
          caName: i.caName,
          hosts: i.hosts,
          serverDays: i.serverDays,
          ...(i.gateway ? { gateway: i.gateway } : {}),
          vault: { backend: i.vault, ...(i.passphrase !== undefined ? { passphrase: i.passphrase } : {}) },
        });
      }
      case 'vault.unlock': {
        const i = input as CallParsedInput<'vault.unlock'>;
        await this.unlock(i.passphrase);
        return this.status();
      }
      case 'vault.lock':
        await this.lock();
        return this.status();
      case 'clients.list':
        return this.listClients();
      case 'clients.chooseExportDir': {
        const dir = (await this.opts.dialogs?.chooseExportDir()) ?? null;
        if (dir !== null) this.pickedDirs.add(path.resolve(dir));
        return dir;
      }
      case 'clients.issue': {
        const i = input as CallParsedInput<'clients.issue'>;
        if (!this.pickedDirs.has(path.resolve(i.outDir))) {
          throw new ConsoleError('FORBIDDEN', 'choose the export folder in the dialog first');
        }
        const issue = {
          name: i.name,
          durationMs: i.duration,
          outDir: i.outDir,
          ...(i.force !== undefined ? { force: i.force } : {}),
          ...(i.groups !== undefined ? { groups: i.groups } : {}),
          ...(i.renewable !== undefined ? { renewable: i.renewable } : {}),
          ...(i.renewMax !== undefined ? { renewMaxMs: i.renewMax } : {}),
          ...(i.reissue !== undefined ? { reissue: i.reissue } : {}),
          ...(i.revokePrevious !== undefined ? { revokePrevious: i.revokePrevious } : {}),
        };
        if (i.csrPem !== undefined) {
          if (i.p12Password !== undefined) {
            throw new ConsoleError(
              'INVALID_INPUT',
              'a .p12 needs the private key, which stays with the CSR; leave the .p12 password empty',
            );
          }
          const csr = checkCsrPem(i.csrPem);
          const result = await this.issueClientFromCsr({ ...issue, csr });
          return { ...result, csrKeyType: csr.keyType };
        }
        return this.issueClient({
          ...issue,
          ...(i.p12Password !== undefined ? { p12Password: i.p12Password } : {}),
        });
      }
      case 'clients.get':
        return this.clientDetail((input as CallParsedInput<'clients.get'>).serial);
      case 'clients.renew': {
        const i = input as CallParsedInput<'clients.renew'>;
        if (!this.pickedDirs.has(path.resolve(i.outDir))) {
          throw new ConsoleError('FORBIDDEN', 'choose the export folder in the dialog first');
        }
        return this.renewClientToFolder(i);
      }
      case 'clients.revoke':
        return this.revoke(input as CallParsedInput<'clients.revoke'>);
      case 'server.rotate':
        await this.rotateServer(input as CallParsedInput<'server.rotate'>);
        return this.status();
      case 'ca.rollover.status':
        return this.rolloverStatus();
      case 'ca.rollover.start':
        return this.startRollover();
      case 'ca.rollover.retire': {
        const i = input as CallParsedInput<'ca.rollover.retire'>;
        return this.retireRollover(
          i.revokeRemaining !== undefined ? { revokeRemaining: i.revokeRemaining } : {},
        );
      }
      case 'audit.query':
        return this.auditQuery(input as CallParsedInput<'audit.query'>);
      case 'audit.verify':
        return this.auditVerify();
      case 'audit.export': {
        const i = input as CallParsedInput<'audit.export'>;
        const file = (await this.opts.dialogs?.chooseAuditExportFile(i.format)) ?? null;
        if (file === null) return { path: null, records: 0 };
        return this.auditExportTo(file, i.format, i.filter ?? {});
      }
      case 'gateway.start':
        await this.startGateway();
        return this.status();
      case 'gateway.stop':
        await this.stopGateway();
        return this.status();
      case 'gateway.configure':
        return this.configureGateway(input as CallParsedInput<'gateway.configure'>);
      case 'settings.autoStart':
        await this.setAutoStart((input as CallParsedInput<'settings.autoStart'>).enabled);
        return this.status();
      case 'connections.list':
        return this.connections();
      case 'connections.kill':
        return this.killConnections(input as CallParsedInput<'connections.kill'>);
      default: {
        const never: never = call;
        throw new ConsoleError('FORBIDDEN', `unknown call ${String(never)}`);
      }
    }
  }

  private async unlock(passphrase: string): Promise<void> {
    const state = this.state();
    this.opts.vaults.setPassphrase(passphrase);
    // Prove the passphrase on the CA key now, so a typo is reported here and not at the next issuance.
    try {
      const ca = await unsealCa(this.ctx);
      state.tx(() => appendAudit(state.db, [audit(this.ctx, 'vault.unlocked', {})], { signer: ca.signer }));
      // A renewal that failed for want of the key need not wait out its backoff.
      void this.renewal.check({ ignoreBackoff: true });
    } catch (e) {
      if (isConsoleError(e) && e.code === 'VAULT_LOCKED') {
        this.opts.vaults.clearPassphrase();
        state.tx(() => appendAudit(state.db, [audit(this.ctx, 'vault.unlock.failed', {})]));
      }
      throw e;
    } finally {
      await this.pushNewAudit();
      // `vault.locked` changed: the app, and a start waiting for the unlock (auto-start.ts), hear it.
      await this.emitStatus();
    }
  }

  /** Forgets the passphrase (a running gateway keeps serving; it holds its own key, not the CA's). */
  async lock(): Promise<void> {
    const state = this.state();
    const backend = state.read(() => readMeta(state.db).vaultBackend);
    if (backend !== 'passphrase') {
      throw new ConsoleError(
        'INVALID_INPUT',
        'only a passphrase vault can be locked; the OS keychain guards this one',
      );
    }
    this.opts.vaults.clearPassphrase();
    this.gateway.forgetCaKey();
    state.tx(() => appendAudit(state.db, [audit(this.ctx, 'vault.locked', {})]));
    await this.afterChange();
  }

  /** The CA signer when the vault opens without asking anyone (settings changes in a locked app go unsigned). */
  private async signerIfOpen() {
    const state = this.state();
    const backend = state.read(() => readMeta(state.db).vaultBackend);
    if (backend === 'passphrase' && this.opts.vaults.needsPassphrase()) return null;
    return (await unsealCa(this.ctx)).signer;
  }

  private vaultNote(): { note?: string } {
    const d = this.opts.vaults.describe();
    return d.note === undefined ? {} : { note: d.note };
  }

  /** The highest audit seq already pushed to subscribers. */
  private lastSeq = 0;
  private unwatchState: (() => void) | null = null;

  private watchState(): void {
    if (this.unwatchState) return;
    let version = -1;
    const poll = () => {
      let state: StateDb;
      try {
        state = this.state();
      } catch {
        return; // no CA yet: nothing to watch
      }
      if (version === -1) this.lastSeq = Math.max(this.lastSeq, lastAuditSeq(state.db));
      const v = state.dataVersion();
      if (v === version) return;
      const first = version === -1;
      version = v;
      if (first) return;
      void this.pushNewAudit();
      void this.emitStatus();
    };
    poll();
    const timer = setInterval(poll, 200);
    timer.unref();
    this.unwatchState = () => clearInterval(timer);
  }

  /** `fromLog`: read from the database in seq order, so a gap is not one of ours to fill. */
  private emitAudit(records: readonly AuditRecord[], fromLog = false): void {
    const fresh = records.filter((r) => r.seq > this.lastSeq);
    if (fresh.length === 0) return;
    // The gateway's batch may follow records another operation committed but has not pushed yet
    // (an automatic renewal under load): read the gap from the log rather than skip past it.
    const gap = this.lastSeq > 0 && (fresh[0]?.seq ?? 0) > this.lastSeq + 1;
    if (gap && !fromLog && this.events.has('audit.appended')) {
      void this.pushNewAudit();
      return;
    }
    this.lastSeq = fresh[fresh.length - 1]?.seq ?? this.lastSeq;
    this.events.emit('audit.appended', fresh);
  }

  private async pushNewAudit(): Promise<void> {
    if (!this.events.has('audit.appended')) return;
    try {
      this.emitAudit(auditRecordsAfter(this.state().db, this.lastSeq, 1000), true);
    } catch {
      // A failed push is retried with the next change.
    }
  }

  private async afterChange(): Promise<void> {
    try {
      await syncDerivedFiles(this.state(), this.paths);
    } catch (e) {
      // The commit stands; the export heals with the next command. Say so rather than fail.
      process.stderr.write(`mtls-console: warning: ${(e as Error).message}\n`);
    }
    await this.pushNewAudit();
    await this.emitStatus();
  }

  private async emitStatus(): Promise<void> {
    if (!this.events.has('status.changed')) return;
    const status = await this.status().catch(() => null);
    if (status) this.events.emit('status.changed', status);
  }
}

/** A CSR the renderer read as text: checked here (signature, key type), one line when refused. */
function checkCsrPem(pem: string): CheckedCsr {
  try {
    return parseCsr(Buffer.from(pem, 'utf8'));
  } catch (e) {
    if (e instanceof CsrError) throw new ConsoleError('INVALID_INPUT', `the CSR: ${e.message}`);
    throw e;
  }
}

function diff<T extends object>(before: T, after: T): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of Object.keys(after) as (keyof T)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      out[String(key)] = { from: before[key], to: after[key] };
    }
  }
  return out;
}

export type { AuditEntryInput };

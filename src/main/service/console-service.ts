import fs from 'node:fs/promises';
import path from 'node:path';
import { ConsoleError } from '../errors';
import { auditPath, readAudit, verifyAudit } from '../audit';
import { watchFiles } from './file-watch';
import { atomicWriteFile, ensureStateDir, withStateLock } from '../store';
import { statePaths, type StatePaths } from './paths';
import type { VaultResolver } from './vaults';
import {
  CRL_VALIDITY_MS,
  defaultOperator,
  initCa,
  refreshCrl,
  issueClient,
  revokeClient,
  rotateServer,
  type InitInput,
  type IssueInput,
  type OpContext,
} from './ca-ops';
import { listClients, readStatus } from './queries';
import { readGatewayConfig, readMeta } from './state';
import { Emitter } from './emitter';
import { auditToCsv, auditToJsonl } from './audit-export';
import type { CallName, CallParsedInput, CallResult, EventName, EventPayloads } from '../../shared/contract';
import type {
  AuditRecord,
  AuditVerifyResult,
  ClientRecord,
  ConnectionInfo,
  GatewayConfig,
  GatewayState,
  IssueResult,
  RevokeResult,
  StatusInfo,
} from '../../shared/model';
import type { RevocationReason } from '../../shared/validation';
import { GatewayHost, type GatewayHostOptions } from './gateway-host';
import type { GatewayLauncher } from '../gateway';

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
  readonly gateway?: Omit<GatewayHostOptions, 'paths' | 'vaults' | 'onEvent' | 'launcher'>;
  /** How the gateway process is started (utilityProcess in the app; fork of out/main/gateway.js otherwise). */
  readonly gatewayLauncher?: GatewayLauncher;
}

/**
 * The one implementation of every operation (DESIGN.md §2). The IPC binding, the CLI and the e2e
 * bridge are front doors onto it.
 */
export class ConsoleService {
  readonly paths: StatePaths;
  private readonly ctx: OpContext;
  private readonly events = new Emitter<EventPayloads>();
  /** Folders the operator picked in the native dialog; the renderer may only export into these. */
  private readonly pickedDirs = new Set<string>();
  private readonly gateway: GatewayHost;

  constructor(private readonly opts: ConsoleServiceOptions) {
    this.paths = statePaths(opts.stateDir);
    this.ctx = {
      paths: this.paths,
      vaults: opts.vaults,
      operator: opts.operator ?? defaultOperator(),
      now: opts.now ?? (() => new Date()),
    };
    this.gateway = new GatewayHost({
      ...opts.gateway,
      ...(opts.gatewayLauncher ? { launcher: opts.gatewayLauncher } : {}),
      paths: this.paths,
      vaults: opts.vaults,
      onEvent: (event) => {
        if (event.kind === 'connections') this.events.emit('connections.changed', event.list);
        else if (event.kind === 'audit') this.emitAudit(event.records);
        else void this.emitStatus();
      },
    });
  }

  /** Subscribing also watches the state dir, so changes made by other processes (the CLI) show up too. */
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
    if (event !== 'connections.changed') this.watchState();
    return this.events.on(event, listener);
  }

  async init(input: InitInput): Promise<StatusInfo> {
    await initCa(this.ctx, input);
    await this.afterChange();
    return this.status();
  }

  async issueClient(input: IssueInput): Promise<IssueResult> {
    const result = await issueClient(this.ctx, input);
    await this.afterChange();
    return result;
  }

  listClients(): Promise<ClientRecord[]> {
    return listClients(this.paths, this.ctx.now());
  }

  async revoke(input: { serial: string; reason: RevocationReason }): Promise<RevokeResult> {
    const result = await revokeClient(this.ctx, input);
    if (!result.alreadyRevoked) {
      // Enforce at once in our own gateway; gateways of other processes pick it up from the store.
      await this.gateway.refreshRevocations();
      await this.afterChange();
    }
    return result;
  }

  async rotateServer(input: { days?: number }): Promise<{ serial: string; notAfter: string }> {
    const result = await rotateServer(this.ctx, input);
    await this.gateway.refreshTls();
    await this.afterChange();
    return result;
  }

  status(): Promise<StatusInfo> {
    return readStatus(this.paths, this.ctx.now(), {
      gatewayState: this.gateway.state(),
      vault: { backend: null, ...this.vaultNote() },
      needsPassphrase: this.opts.vaults.needsPassphrase(),
    });
  }

  async refreshCrl(): Promise<{ crlNumber: string; nextUpdate: string; entries: number }> {
    const result = await refreshCrl(this.ctx);
    await this.afterChange();
    return result;
  }

  /**
   * While this process runs (serve, the app), republishes the CRL once half its validity is gone, so
   * verifiers that use it never hold an expired one. Failures (a locked vault) are retried next time.
   */
  startCrlUpkeep(onError: (message: string) => void, everyMs = 60 * 60_000): () => void {
    const check = async (): Promise<void> => {
      const st = await fs.stat(this.paths.crl).catch(() => null);
      if (!st || this.ctx.now().getTime() - st.mtimeMs < CRL_VALIDITY_MS / 2) return;
      await this.refreshCrl();
    };
    const run = () =>
      void check().catch((e: unknown) => onError(`CRL not republished: ${(e as Error).message}`));
    run();
    const timer = setInterval(run, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  async crlPem(): Promise<string> {
    if (!(await readMeta(this.paths))) {
      throw new ConsoleError(
        'NOT_INITIALIZED',
        `no CA in ${this.paths.dir}; run \`mtls-console init --hosts …\` first`,
      );
    }
    return fs.readFile(this.paths.crl, 'utf8').catch(() => {
      throw new ConsoleError('CORRUPT_STATE', `state file ${this.paths.crl} is missing`);
    });
  }

  auditQuery(input: { limit?: number }): Promise<AuditRecord[]> {
    return readAudit(this.paths.dir, input.limit === undefined ? {} : { limit: input.limit });
  }

  auditVerify(): Promise<AuditVerifyResult> {
    return verifyAudit(this.paths.dir);
  }

  gatewayConfig(): Promise<GatewayConfig> {
    return readGatewayConfig(this.paths);
  }

  async configureGateway(change: Partial<GatewayConfig>): Promise<GatewayConfig> {
    await ensureStateDir(this.paths.dir);
    const config = await withStateLock(this.paths.dir, async () => {
      const next = { ...(await readGatewayConfig(this.paths)), ...change };
      await atomicWriteFile(this.paths.gateway, JSON.stringify(next, null, 2));
      return next;
    });
    await this.emitStatus();
    return config;
  }

  async startGateway(override?: Partial<GatewayConfig>): Promise<GatewayState> {
    const state = await this.gateway.start(override);
    await this.emitStatus();
    return state;
  }

  async stopGateway(): Promise<GatewayState> {
    const state = await this.gateway.stop();
    await this.emitStatus();
    return state;
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
        return this.issueClient({
          name: i.name,
          durationMs: i.duration,
          outDir: i.outDir,
          ...(i.p12Password !== undefined ? { p12Password: i.p12Password } : {}),
          ...(i.force !== undefined ? { force: i.force } : {}),
        });
      }
      case 'clients.revoke':
        return this.revoke(input as CallParsedInput<'clients.revoke'>);
      case 'server.rotate':
        await this.rotateServer(input as CallParsedInput<'server.rotate'>);
        return this.status();
      case 'audit.query':
        return this.auditQuery(input as CallParsedInput<'audit.query'>);
      case 'audit.verify':
        return this.auditVerify();
      case 'audit.export':
        return this.exportAudit((input as CallParsedInput<'audit.export'>).format);
      case 'gateway.start':
        await this.startGateway();
        return this.status();
      case 'gateway.stop':
        await this.stopGateway();
        return this.status();
      case 'gateway.configure':
        return this.configureGateway(input as CallParsedInput<'gateway.configure'>);
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
    const meta = await readMeta(this.paths);
    if (!meta) throw new ConsoleError('NOT_INITIALIZED', 'there is no CA to unlock yet');
    const previous = this.opts.vaults;
    previous.setPassphrase(passphrase);
    // Prove the passphrase on the CA key now, so a typo is reported here and not at the next issuance.
    const vault = await previous.open(meta.vaultBackend);
    await vault.unseal(await fs.readFile(this.paths.caKey));
  }

  private async exportAudit(format: 'jsonl' | 'csv'): Promise<{ path: string | null; records: number }> {
    const file = (await this.opts.dialogs?.chooseAuditExportFile(format)) ?? null;
    if (file === null) return { path: null, records: 0 };
    const records = await this.auditQuery({});
    await atomicWriteFile(file, format === 'csv' ? auditToCsv(records) : auditToJsonl(records), 0o600);
    return { path: file, records: records.length };
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
    const auditFile = auditPath(this.paths.dir);
    this.unwatchState = watchFiles(
      [
        auditFile,
        this.paths.meta,
        this.paths.registry,
        this.paths.revocations,
        this.paths.server,
        this.paths.gateway,
      ],
      (file) => void (file === auditFile ? this.pushNewAudit() : this.emitStatus()),
    );
    // Start from the current end of the log: subscribers load the history with audit.query.
    void this.auditQuery({ limit: 1 })
      .then((last) => (this.lastSeq = Math.max(this.lastSeq, last.at(-1)?.seq ?? 0)))
      .catch(() => undefined);
  }

  private emitAudit(records: readonly AuditRecord[]): void {
    const fresh = records.filter((r) => r.seq > this.lastSeq);
    if (fresh.length === 0) return;
    this.lastSeq = fresh[fresh.length - 1]?.seq ?? this.lastSeq;
    this.events.emit('audit.appended', fresh);
  }

  private async pushNewAudit(): Promise<void> {
    if (!this.events.has('audit.appended')) return;
    this.emitAudit(await this.auditQuery({ limit: 1000 }).catch(() => []));
  }

  private async afterChange(): Promise<void> {
    await this.pushNewAudit();
    await this.emitStatus();
  }

  private async emitStatus(): Promise<void> {
    if (!this.events.has('status.changed')) return;
    const status = await this.status().catch(() => null);
    if (status) this.events.emit('status.changed', status);
  }
}

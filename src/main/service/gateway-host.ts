import { ConsoleError } from '../errors';
import {
  ForkLauncher,
  GatewaySupervisor,
  gatewayEntryPath,
  type GatewayAuditEntry,
  type GatewayLauncher,
  type GatewayTlsMaterial,
  type SupervisorOptions,
} from '../gateway';
import { privateKeyPem } from '../pki';
import type { AuditEntryInput } from '../audit';
import { AuditSink } from './audit-sink';
import { watchFiles } from './file-watch';
import type { StatePaths } from './paths';
import type { VaultResolver } from './vaults';
import { readCaCertPem, readGatewayConfig, readRevocations, readServerFile, requireMeta } from './state';
import type { AuditRecord, ConnectionInfo, GatewayConfig, GatewayState } from '../../shared/model';

export type GatewayHostEvent =
  | { kind: 'connections'; list: ConnectionInfo[] }
  | { kind: 'audit'; records: AuditRecord[] }
  | { kind: 'state'; state: GatewayState };

export interface GatewayHostOptions {
  readonly paths: StatePaths;
  readonly vaults: VaultResolver;
  readonly onEvent: (event: GatewayHostEvent) => void;
  /** How the gateway process is started: fork of out/main/gateway.js by default, utilityProcess in the app. */
  readonly launcher?: GatewayLauncher;
  readonly supervisor?: SupervisorOptions;
  /** Extra knobs passed to the gateway (e.g. the upstream timeout). */
  readonly upstreamTimeoutMs?: number;
}

/**
 * Runs the gateway for a state dir: feeds the supervisor the server key, the trust bundle and the
 * revocation set from the store, and keeps them current. A revocation written by ANY process on the
 * state dir (the CLI in another shell) reaches the gateway through the file watch, well within 1 s.
 */
export class GatewayHost {
  private supervisor: GatewaySupervisor | null = null;
  private unwatch: (() => void) | null = null;
  private unsubscribe: (() => void)[] = [];
  private readonly sink: AuditSink;
  private stoppedWaiters: ((s: GatewayState) => void)[] = [];
  private lastRevocationKey = '';

  constructor(private readonly opts: GatewayHostOptions) {
    this.sink = new AuditSink(
      opts.paths.dir,
      (records) => opts.onEvent({ kind: 'audit', records }),
      (message) => process.stderr.write(`mtls-console: ${message}\n`),
    );
  }

  state(): GatewayState {
    return this.supervisor?.state() ?? { kind: 'stopped' };
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
    const config = { ...(await readGatewayConfig(this.opts.paths)), ...override };
    const material = await this.loadTls();
    const revoked = await this.loadRevoked();
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
      supervisor.onAudit((entries) => this.sink.push(entries.map(toAuditInput))),
    ];
    this.unwatch = watchFiles(
      [this.opts.paths.revocations, this.opts.paths.server, this.opts.paths.caCert],
      (file) => void this.onStateFileChanged(file),
    );
    try {
      const addr = await supervisor.start(material, config, {
        revokedSerials: revoked,
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
      const message = e instanceof Error ? e.message : String(e);
      throw new ConsoleError(
        'GATEWAY',
        `the gateway did not start: ${message}${lines.length ? ` (last log: ${lines.join(' | ')})` : ''}`,
      );
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

  async refreshRevocations(): Promise<void> {
    if (!this.supervisor) return;
    const serials = await this.loadRevoked();
    const key = `${serials.length}:${serials.at(-1) ?? ''}`;
    // Both our own call and the file watch land here; one message per actual change is enough.
    if (key === this.lastRevocationKey) return;
    this.lastRevocationKey = key;
    this.supervisor.updateRevocations(serials);
  }

  async refreshTls(): Promise<void> {
    if (!this.supervisor) return;
    this.supervisor.updateTls(await this.loadTls());
  }

  private async onStateFileChanged(file: string): Promise<void> {
    try {
      if (file === this.opts.paths.revocations) await this.refreshRevocations();
      else await this.refreshTls();
    } catch (e) {
      // A store we cannot read must not stop a running gateway; the message says why it is stale.
      process.stderr.write(`mtls-console: gateway not updated from ${file}: ${(e as Error).message}\n`);
    }
  }

  private async loadRevoked(): Promise<string[]> {
    return (await readRevocations(this.opts.paths)).entries.map((e) => e.serial);
  }

  private async loadTls(): Promise<GatewayTlsMaterial> {
    const meta = await requireMeta(this.opts.paths);
    const server = await readServerFile(this.opts.paths);
    const vault = await this.opts.vaults.open(meta.vaultBackend);
    const keyDer = await vault.unseal(Buffer.from(server.sealedKey, 'base64'));
    return {
      keyPem: privateKeyPem(keyDer),
      certPem: server.certPem,
      caPem: await readCaCertPem(this.opts.paths),
    };
  }

  private teardown(): void {
    this.unwatch?.();
    this.unwatch = null;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.supervisor = null;
    this.lastRevocationKey = '';
  }

  private resolveStopped(state: GatewayState): void {
    const waiters = this.stoppedWaiters;
    this.stoppedWaiters = [];
    for (const w of waiters) w(state);
  }
}

function toAuditInput(e: GatewayAuditEntry): AuditEntryInput {
  const time = e.time ? new Date(e.time) : undefined;
  return {
    type: e.type,
    actor: e.actor,
    details: e.details,
    ...(time && !Number.isNaN(time.getTime()) ? { time } : {}),
  };
}

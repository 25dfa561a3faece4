import { ConsoleError } from '../errors';
import type { StatePaths } from './paths';
import type { VaultResolver } from './vaults';
import type { AuditRecord, ConnectionInfo, GatewayConfig, GatewayState } from '../../shared/model';

export type GatewayHostEvent =
  | { kind: 'connections'; list: ConnectionInfo[] }
  | { kind: 'audit'; records: AuditRecord[] }
  | { kind: 'state'; state: GatewayState };

export interface GatewayHostOptions {
  readonly paths: StatePaths;
  readonly vaults: VaultResolver;
  readonly onEvent: (event: GatewayHostEvent) => void;
}

/** Placeholder until the supervisor lands. */
export class GatewayHost {
  constructor(private readonly opts: GatewayHostOptions) {}
  state(): GatewayState {
    return { kind: 'stopped' };
  }
  async start(_override?: Partial<GatewayConfig>): Promise<GatewayState> {
    void this.opts;
    throw new ConsoleError('GATEWAY', 'the gateway is not available yet');
  }
  async stop(): Promise<GatewayState> {
    return { kind: 'stopped' };
  }
  async stopped(): Promise<GatewayState> {
    return { kind: 'stopped' };
  }
  connections(): ConnectionInfo[] {
    return [];
  }
  async kill(_selector: { id: string } | { serial: string }): Promise<{ killed: number }> {
    return { killed: 0 };
  }
  async refreshRevocations(): Promise<void> {}
  async refreshTls(): Promise<void> {}
}

import type { Algorithm, RevocationReason } from './validation';

/** Data shapes that cross from main to the renderer and the CLI's --json output. Dates are ISO strings. */

export interface CaInfo {
  readonly subject: string;
  readonly algorithm: Algorithm;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly fingerprintSha256: string;
}

export interface ServerCertInfo {
  readonly subject: string;
  readonly sans: readonly string[];
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly fingerprintSha256: string;
}

export type ClientStatus = 'active' | 'expired' | 'revoked';

export interface ClientRecord {
  readonly serial: string;
  readonly name: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprintSha256: string;
  readonly status: ClientStatus;
  readonly revokedAt?: string;
  readonly reason?: RevocationReason;
}

export interface ClientCounts {
  readonly active: number;
  readonly expired: number;
  readonly revoked: number;
  readonly total: number;
}

export interface GatewayConfig {
  readonly listen: string;
  readonly upstream: string;
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** The operator's explicit choice to proxy to a non-loopback upstream (DESIGN.md §8). */
  readonly allowRemoteUpstream: boolean;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  listen: '127.0.0.1:19821',
  upstream: 'http://127.0.0.1:18970',
  maxConnections: 50,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  allowRemoteUpstream: false,
};

export type GatewayState =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'starting' }
  | { readonly kind: 'running'; readonly listen: string; readonly since: string; readonly pid: number }
  | { readonly kind: 'stopping' }
  | {
      readonly kind: 'crashed';
      readonly message: string;
      readonly lastLines: readonly string[];
      readonly restartAt?: string;
    };

export type VaultBackend = 'passphrase' | 'safeStorage';

export interface StatusInfo {
  readonly initialized: boolean;
  readonly stateDir: string;
  readonly ca: CaInfo | null;
  readonly server: ServerCertInfo | null;
  readonly clients: ClientCounts;
  /** The published CRL: verifiers such as nginx refuse every client once it is past nextUpdate. */
  readonly crl: { readonly crlNumber: string; readonly nextUpdate: string; readonly daysLeft: number } | null;
  readonly gateway: { readonly config: GatewayConfig; readonly state: GatewayState };
  readonly vault: {
    readonly backend: VaultBackend | null;
    readonly note?: string;
    /** A passphrase vault whose passphrase this process does not hold yet: the app shows its unlock screen. */
    readonly locked?: boolean;
  };
}

export interface IssueResult {
  readonly serial: string;
  readonly name: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprintSha256: string;
  /** Absolute paths of the files written, by role. */
  readonly files: {
    readonly cert: string;
    readonly key: string;
    readonly ca: string;
    readonly p12?: string;
  };
  readonly curl: string;
}

export interface RevokeResult {
  readonly serial: string;
  readonly name: string;
  readonly revokedAt: string;
  readonly reason: RevocationReason;
  readonly alreadyRevoked: boolean;
}

export interface ConnectionInfo {
  readonly id: string;
  readonly cn: string;
  readonly serial: string;
  readonly remoteAddress: string;
  readonly since: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly requests: number;
}

export type AuditActor =
  | { readonly kind: 'operator'; readonly name: string }
  | { readonly kind: 'client'; readonly cn: string; readonly serial: string }
  | { readonly kind: 'system' };

export interface AuditRecord {
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly actor: AuditActor;
  readonly details: Readonly<Record<string, unknown>>;
  /** SHA-256 (hex) of the previous record's line; 64 zeros for the first. */
  readonly prev: string;
}

export interface AuditVerifyResult {
  readonly ok: boolean;
  readonly records: number;
  readonly firstBad?: { readonly seq: number | null; readonly line: number; readonly problem: string };
}

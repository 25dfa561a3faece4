import type { AccessRule } from './policy';
import type { Algorithm, RevocationReason } from './validation';
import type { RenewalState } from './renewal';

/** Data shapes that cross from main to the renderer and the CLI's --json output. Dates are ISO strings. */

export interface CaInfo {
  readonly subject: string;
  readonly algorithm: Algorithm;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly fingerprintSha256: string;
  /** The lifetime rule (src/shared/renewal.ts) at the time of the status. */
  readonly renewal: RenewalState;
}

export interface ServerCertInfo {
  readonly subject: string;
  readonly sans: readonly string[];
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly fingerprintSha256: string;
  /** The lifetime rule (src/shared/renewal.ts) at the time of the status. */
  readonly renewal: RenewalState;
  /** When 2/3 of its lifetime has passed: a running `serve` or app renews it then. */
  readonly renewalDueAt: string;
}

/** Why the last automatic renewal of the server certificate failed; it is retried with backoff. */
export interface ServerRenewalFailure {
  /** A ConsoleError code (VAULT_LOCKED, CA_EXPIRED, IO, …). */
  readonly code: string;
  readonly message: string;
  /** The server certificate it tried to replace. */
  readonly serial: string;
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
  /** Attempts that failed in a row, by any process on the state dir. */
  readonly attempts: number;
  /** When the process that failed tries again (a process that starts tries at once). */
  readonly nextAttemptAt: string;
}

/** `superseded`: renewed or re-issued; still valid until it expires, but no longer renewed (issue 9). */
export type ClientStatus = 'active' | 'superseded' | 'expired' | 'revoked';

export interface ClientRecord {
  readonly serial: string;
  readonly name: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprintSha256: string;
  readonly status: ClientStatus;
  /** The lifetime rule (src/shared/renewal.ts) at the time of the listing; null once revoked or superseded. */
  readonly renewal: RenewalState | null;
  readonly revokedAt?: string;
  readonly reason?: RevocationReason;
  /** The certificate that renewed or re-issued this one. */
  readonly supersededBy?: string;
  /** The certificate this one renewed or re-issued. */
  readonly supersedes?: string;
  /** Its groups (OUs), when known (certificates issued before the renewal schema keep them in the audit log). */
  readonly groups?: readonly string[];
  /** Whether its holder may renew it over the gateway, and until when the renewal chain may run. */
  readonly renewable?: boolean;
  readonly renewUntil?: string;
}

export interface ClientCounts {
  readonly active: number;
  /** Renewed or re-issued, still valid until they expire. */
  readonly superseded: number;
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
  /** Live connections one client certificate (serial) may hold, so one client cannot take every slot. */
  readonly maxConnectionsPerIdentity: number;
  /** The operator's explicit choice to proxy to a non-loopback upstream (DESIGN.md §8). */
  readonly allowRemoteUpstream: boolean;
  /**
   * Request headers to strip besides the built-in identity list (DESIGN.md §8); compared
   * case-insensitively with `_` and `-` alike; a trailing `*` strips every name with that prefix.
   */
  readonly stripHeaders: string[];
  /** Also send the client's certificate as RFC 9440 `Client-Cert` (base64 DER). */
  readonly clientCertHeader: boolean;
  /** Also put the client's certificate into `X-Forwarded-Client-Cert` as `Cert=` (URL-encoded PEM, as Envoy). */
  readonly xfccCert: boolean;
  /** Who may call which methods and paths (src/shared/policy.ts); none: every verified client, anything. */
  readonly accessRules: AccessRule[];
  /**
   * Rewrite a browser's `Origin` to the upstream's own origin when it is the gateway's public origin,
   * for upstreams whose CSRF guard wants a localhost Origin (issue 11 §3). Off: Origin as sent.
   */
  readonly rewriteOrigin: boolean;
}

/** Saved gateway settings, and those that wait for a restart of the running gateway. */
export type GatewayConfigured = GatewayConfig & { readonly restartNeeded: readonly 'listen'[] };

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  listen: '127.0.0.1:19821',
  upstream: 'http://127.0.0.1:18970',
  maxConnections: 50,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxConnectionsPerIdentity: 10,
  allowRemoteUpstream: false,
  stripHeaders: [],
  clientCertHeader: false,
  xfccCert: false,
  accessRules: [],
  rewriteOrigin: false,
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
  /**
   * The automatic renewal of the server certificate has failed and is being retried (issue 9):
   * the app shows a banner, `status` says so. Null while renewals succeed or are not due.
   */
  readonly serverRenewalFailure: ServerRenewalFailure | null;
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
  /**
   * Whether the gateway's audit records are reaching the database. While they cannot be written
   * (a full disk), the gateway takes no new requests unless the operator chose fail-open.
   */
  readonly auditWrites: {
    readonly ok: boolean;
    /** Records held in memory, waiting to be written. */
    readonly queued: number;
    readonly failOpen: boolean;
    readonly message?: string;
  };
  /** The MCP servers running on this state dir now (any process), with what each may do. */
  readonly mcpServers?: readonly McpServerInfo[];
  /** How the upstream behind the gateway this process runs is doing (issue 10); absent: not known here. */
  readonly upstreamHealth?: UpstreamHealth;
  /** Whether the app starts the gateway when it launches (settings key `app`, issue 10). */
  readonly autoStart?: boolean;
}

/**
 * The upstream as the gateway's own records show it (src/main/service/upstream-health.ts): the last
 * upstream error and the share of requests answered 5xx over the last minute.
 */
export interface UpstreamHealth {
  readonly lastError: { readonly message: string; readonly status: number; readonly at: string } | null;
  /** Requests that finished in the last minute, and how many of them the client got a 5xx (502, 504…) for. */
  readonly requests: number;
  readonly errors5xx: number;
  /** The upstream failed more recently than it last answered a request well: shown as a warning. */
  readonly down: boolean;
}

/** What `mtls-console mcp --allow …` may grant beyond its read-only tools (issue 11). */
export const MCP_PERMISSIONS = ['issue', 'revoke', 'renew'] as const;
export type McpPermission = (typeof MCP_PERMISSIONS)[number];

/** A running `mtls-console mcp` server, as it records itself in the state database while it runs. */
export interface McpServerInfo {
  readonly pid: number;
  readonly hostname: string;
  /** The MCP client's own name (its `initialize` clientInfo); its calls are audited as `mcp:<client>`. */
  readonly client: string;
  /** Empty: read-only (status, list_clients, audit). */
  readonly allow: readonly McpPermission[];
  /** Where issued bundles are written; null when nothing may be issued. */
  readonly bundleDir: string | null;
  readonly since: string;
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
  /** A re-issue: the name's earlier valid certificates it superseded, and whether they were revoked. */
  readonly replaced?: readonly { readonly serial: string; readonly revoked: boolean }[];
}

/** `clients.issue`'s answer: a signed CSR's bundle has no key (and no .p12); `csrKeyType` says whose key it holds. */
export type ClientIssueResult = Omit<IssueResult, 'files'> & {
  readonly files: {
    readonly cert: string;
    readonly key?: string;
    readonly ca: string;
    readonly p12?: string;
  };
  /** e.g. "EC P-256": set when a CSR was signed (the key stayed with its owner). */
  readonly csrKeyType?: string;
};

/** One client certificate as `clients.get` reads it from the stored certificate (never a key). */
export interface ClientDetail {
  readonly record: ClientRecord;
  /** RFC 4514, e.g. "OU=agents,CN=alice@ops". */
  readonly subject: string;
  readonly issuer: string;
  readonly sans: readonly string[];
  /** e.g. "EC P-256", "RSA 4096". */
  readonly keyType: string;
  /** Lowercase hex, and as colon-separated pairs. */
  readonly serialColons: string;
  readonly fingerprintSha256: string;
  readonly fingerprintSha1: string;
  /** Null for a certificate issued before the console kept certificates. */
  readonly certPem: string | null;
}

/** `clients.renew`: the same key certified again; the new certificate was written to the picked folder. */
export interface ClientRenewResult {
  readonly serial: string;
  readonly name: string;
  readonly renewedFrom: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Absolute paths written: NAME.crt and ca.crt. */
  readonly files: { readonly cert: string; readonly ca: string };
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
  /** The client's source port: several connections from one address are told apart by it. */
  readonly remotePort?: number;
  /** The negotiated TLS version (`TLSv1.3`) and cipher suite (`TLS_AES_128_GCM_SHA256`). */
  readonly tlsVersion?: string;
  readonly cipher?: string;
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
  /** The certificate the record is about: the client of a gateway record, or the one an operator acted on. */
  readonly cn: string | null;
  readonly serial: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  /** SHA-256 (hex) of the previous record's line; 64 zeros for the first. */
  readonly prev: string;
  /** SHA-256 (hex) of this record's line (its JSON Lines export, byte for byte). */
  readonly hash: string;
}

/** Server-side audit filters (DESIGN.md §9); every field narrows, none set means everything. */
export interface AuditFilter {
  /** A type or a prefix of it: `gateway.connection` finds accepted, refused and closed. */
  readonly type?: string;
  readonly cn?: string;
  /** Lowercase hex, no colons. */
  readonly serial?: string;
  /** The operator's name, or `system` (gateway records are found by their client's `cn`). */
  readonly actor?: string;
  /** ISO 8601, inclusive. */
  readonly from?: string;
  readonly to?: string;
  /** A substring of the type, actor, CN, serial or details. */
  readonly text?: string;
}

/** One page of an audit query, newest record first. */
export interface AuditPage {
  readonly records: readonly AuditRecord[];
  /** How many records match the filter in all. */
  readonly total: number;
  /** Pass as `before` to get the next (older) page; null when this page is the last. */
  readonly nextCursor: number | null;
}

export interface AuditVerifyResult {
  readonly ok: boolean;
  /** Records checked (in the database, and in the archives given). */
  readonly records: number;
  readonly firstBad?: { readonly seq: number | null; readonly problem: string };
  /** The newest signed checkpoint found, verified against the CA certificate. */
  readonly checkpoint?: { readonly seq: number; readonly time: string } | null;
  /** Records after the newest checkpoint (covered by the chain alone). */
  readonly unsignedTail?: number;
  /** Records before this seq were moved to archives; checked only when the archives are given. */
  readonly archivedBefore?: number | null;
  /** One line for people: "chain intact, 1,204,311 records, last signed checkpoint at seq … (2 s ago)". */
  readonly summary: string;
}

/** One step of a staged CA rollover (issue 9), with the date it was reached. */
export interface CaRolloverPhase {
  readonly key: 'created' | 'servers' | 'clients' | 'retired';
  readonly label: string;
  readonly done: boolean;
  /** ISO 8601; null until reached. */
  readonly at: string | null;
}

export interface CaRolloverCa {
  readonly id: number;
  readonly name: string;
  readonly subject: string;
  readonly serial: string;
  readonly notAfter: string;
  readonly fingerprintSha256: string;
  readonly createdAt: string;
  readonly retiredAt: string | null;
  /** The root certificate (public), to hand to verifiers. */
  readonly certPem: string;
}

/**
 * The CA rollover plan: `idle` (no rollover ever ran), `rolling` (both roots trusted, new issuance
 * from the new CA), `done` (the last rollover retired its old CA).
 */
export interface CaRolloverStatus {
  readonly state: 'idle' | 'rolling' | 'done';
  /** The issuing CA. */
  readonly current: CaRolloverCa;
  /** The CA being (or last) rolled away from; null when idle. */
  readonly old: CaRolloverCa | null;
  readonly startedAt: string | null;
  readonly startedBy: string | null;
  /** new CA created → servers rolled → clients rolled (n of m) → old CA retired; empty when idle. */
  readonly phases: readonly CaRolloverPhase[];
  /** Both directions: the new CA signed by the old (served in the chain) and the old by the new. */
  readonly crossCertificates: readonly {
    readonly subject: string;
    readonly issuer: string;
    readonly serial: string;
    readonly certPem: string;
  }[];
  readonly clients: {
    /** Valid, unrevoked client certificates still from the old CA. */
    readonly onOldCa: number;
    /** Valid, unrevoked client certificates of either CA. */
    readonly total: number;
    readonly rolled: number;
    /** The first of those still on the old CA. */
    readonly remaining: readonly {
      readonly serial: string;
      readonly name: string;
      readonly notAfter: string;
    }[];
  };
}

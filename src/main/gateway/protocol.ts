import { z } from 'zod';
import type { AuditActor, ConnectionInfo, GatewayConfig } from '../../shared/model';
import { listenAddressSchema, upstreamUrlSchema } from '../../shared/validation';

/**
 * The wire contract between the supervisor (parent) and the gateway process (child).
 * Both sides parse what they receive with these schemas: the other end is another process
 * (possibly a different build), so nothing is trusted by type alone.
 */

const pemSchema = z.string().min(1).max(4_000_000);

/** Serials on the wire are lowercase hex without colons, as stored in the registry. */
export const wireSerialSchema = z.string().regex(/^[0-9a-f]{1,40}$/, 'serial must be lowercase hex');

export const gatewayConfigWireSchema = z.object({
  listen: listenAddressSchema,
  upstream: upstreamUrlSchema,
  maxConnections: z.number().int().min(1).max(100_000),
  handshakeTimeoutMs: z.number().int().min(1).max(600_000),
  idleTimeoutMs: z.number().int().min(1).max(86_400_000),
  maxConnectionsPerIdentity: z.number().int().min(1).max(100_000),
  allowRemoteUpstream: z.boolean(),
}) satisfies z.ZodType<GatewayConfig>;

/** Knobs that are not (yet) part of the operator's GatewayConfig. */
export const gatewayOptionsSchema = z.object({
  /** Time allowed for the upstream to send response headers before the client gets a 504. */
  upstreamTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  /** Time a connection may take to send a request's headers once it has started sending it. */
  headersTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  /** Window of the refusal flood guard (see RefusalThrottle). */
  refusalWindowMs: z.number().int().min(1).max(3_600_000).optional(),
  /** Full refusal records per window across ALL sources; the rest are summarised per reason. */
  refusalBudget: z.number().int().min(1).max(1_000_000).optional(),
  /** Sockets still in their TLS handshake, all sources together (never an authenticated slot). */
  maxHandshakes: z.number().int().min(1).max(100_000).optional(),
  /** Sockets still in their handshake from one source prefix (/32 IPv4, /64 IPv6). */
  maxHandshakesPerSource: z.number().int().min(1).max(100_000).optional(),
  /** Bytes a client may send before its handshake completes (its certificate chain lives there). */
  maxHandshakeBytes: z.number().int().min(1_024).max(1_000_000).optional(),
  /** Certificates a client may present, leaf included. */
  maxChainLength: z.number().int().min(1).max(100).optional(),
  /** After an oversized chain, that source prefix gets one handshake per second for this long. */
  oversizePenaltyMs: z.number().int().min(0).max(3_600_000).optional(),
});
export type GatewayOptions = z.infer<typeof gatewayOptionsSchema>;
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;

/** The server's key and cert and the CA bundle clients are verified against. Never the CA key. */
export const tlsMaterialSchema = z.object({ keyPem: pemSchema, certPem: pemSchema, caPem: pemSchema });
export type GatewayTlsMaterial = z.infer<typeof tlsMaterialSchema>;

export const startMessageSchema = z.object({
  type: z.literal('start'),
  tls: tlsMaterialSchema,
  revokedSerials: z.array(wireSerialSchema).max(10_000_000),
  config: gatewayConfigWireSchema,
  options: gatewayOptionsSchema.optional(),
});

/**
 * Hot rotation: a new server key+cert pair, a new CA bundle, or both. Applies to new handshakes;
 * open connections keep their session.
 */
export const tlsMessageSchema = z
  .object({
    type: z.literal('tls'),
    server: z.object({ keyPem: pemSchema, certPem: pemSchema }).optional(),
    caPem: pemSchema.optional(),
  })
  .refine((m) => m.server !== undefined || m.caPem !== undefined, 'tls update carries nothing');

/**
 * The FULL revocation set, replacing the previous one (not add-only): the sender reads the whole
 * store, so a lost or reordered message is healed by the next one, and an un-revocation (a store
 * rollback) is expressible. Live connections whose serial is newly in the set are closed at once.
 */
export const revocationsMessageSchema = z.object({
  type: z.literal('revocations'),
  serials: z.array(wireSerialSchema).max(10_000_000),
});

/** Closes live connections by connection id or by certificate serial; answered by `killed` with the same ref. */
export const killMessageSchema = z
  .object({
    type: z.literal('kill'),
    ref: z.number().int().nonnegative(),
    id: z.string().min(1).max(64).optional(),
    serial: wireSerialSchema.optional(),
  })
  .refine((m) => (m.id === undefined) !== (m.serial === undefined), 'kill needs exactly one of id or serial');

/** Stop accepting, let in-flight requests finish for up to graceMs, close the rest, exit 0. */
export const stopMessageSchema = z.object({
  type: z.literal('stop'),
  graceMs: z.number().int().min(0).max(600_000),
});

/**
 * Fail-closed audit: while the parent cannot write the gateway's records (a full disk), the gateway
 * takes no new connections and answers requests 503 without dispatching them.
 */
export const holdMessageSchema = z.object({
  type: z.literal('hold'),
  on: z.boolean(),
  reason: z.string().max(500).optional(),
});

/**
 * Settings saved while the gateway runs: limits, timeouts and the upstream apply at once (new
 * handshakes and new requests); `listen` cannot change without a restart and must equal the running one.
 */
export const configMessageSchema = z.object({
  type: z.literal('config'),
  config: gatewayConfigWireSchema,
});

export const parentToGatewaySchema = z.union([
  holdMessageSchema,
  configMessageSchema,
  startMessageSchema,
  tlsMessageSchema,
  revocationsMessageSchema,
  killMessageSchema,
  stopMessageSchema,
]);
export type StartMessage = z.infer<typeof startMessageSchema>;
export type TlsMessage = z.infer<typeof tlsMessageSchema>;
export type RevocationsMessage = z.infer<typeof revocationsMessageSchema>;
export type KillMessage = z.infer<typeof killMessageSchema>;
export type StopMessage = z.infer<typeof stopMessageSchema>;
export type HoldMessage = z.infer<typeof holdMessageSchema>;
export type ConfigMessage = z.infer<typeof configMessageSchema>;
export type ParentToGateway = z.infer<typeof parentToGatewaySchema>;

// ── gateway → parent ─────────────────────────────────────────────────────────────

export const auditActorSchema = z.union([
  z.object({ kind: z.literal('operator'), name: z.string() }),
  z.object({ kind: z.literal('client'), cn: z.string(), serial: z.string() }),
  z.object({ kind: z.literal('system') }),
]) satisfies z.ZodType<AuditActor>;

/** Same shape as the audit module's AuditEntryInput; `time` is when the gateway saw the event (ISO). */
export const gatewayAuditEntrySchema = z.object({
  type: z.string().min(1).max(100),
  actor: auditActorSchema,
  details: z.record(z.string(), z.unknown()),
  time: z.string().optional(),
});
export type GatewayAuditEntry = z.infer<typeof gatewayAuditEntrySchema>;

export const connectionInfoSchema = z.object({
  id: z.string(),
  cn: z.string(),
  serial: z.string(),
  remoteAddress: z.string(),
  since: z.string(),
  bytesIn: z.number().nonnegative(),
  bytesOut: z.number().nonnegative(),
  requests: z.number().int().nonnegative(),
}) satisfies z.ZodType<ConnectionInfo>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const gatewayToParentSchema = z.union([
  z.object({ type: z.literal('ready'), host: z.string(), port: z.number().int().min(1).max(65535) }),
  z.object({ type: z.literal('audit'), entries: z.array(gatewayAuditEntrySchema) }),
  z.object({ type: z.literal('connections'), list: z.array(connectionInfoSchema) }),
  z.object({
    type: z.literal('killed'),
    ref: z.number().int().nonnegative(),
    count: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal('log'), level: z.enum(LOG_LEVELS), line: z.string() }),
  z.object({ type: z.literal('fatal'), message: z.string() }),
]);
export type GatewayToParent = z.infer<typeof gatewayToParentSchema>;
export type ReadyMessage = Extract<GatewayToParent, { type: 'ready' }>;

/** Gateway audit record types (DESIGN.md §9). */
export const GATEWAY_AUDIT_TYPES = {
  accepted: 'gateway.connection.accepted',
  refused: 'gateway.connection.refused',
  /** How many refusals of one reason and source a window left out of the log (a flood). */
  refusedSuppressed: 'gateway.connection.refused.suppressed',
  closed: 'gateway.connection.closed',
  request: 'gateway.request',
  /** A request answered 503 without reaching the upstream, because audit records could not be written. */
  requestHeld: 'gateway.request.held',
  /** A request refused before dispatch (revoked, expired, non-WebSocket upgrade, bad path). */
  requestRefused: 'gateway.request.refused',
  /** Pipelined requests that were queued and never sent because their connection ended. */
  requestsDropped: 'gateway.request.dropped',
  upstreamError: 'gateway.upstream.error',
  crashed: 'gateway.crashed',
} as const;

/** Why a connection was refused. Recorded as `details.reason`. */
export const REFUSAL_REASONS = [
  'no_certificate',
  'unknown_ca',
  'expired',
  'not_yet_valid',
  'revoked',
  'wrong_eku',
  'invalid_certificate',
  'protocol_version',
  'bad_handshake',
  'limit_reached',
  /** The per-certificate cap (maxConnectionsPerIdentity). */
  'identity_limit',
  /** The pre-authentication budget (all handshakes, or those of one source prefix). */
  'handshake_limit',
  'chain_too_long',
  'certificate_too_large',
  'handshake_timeout',
  'shutting_down',
  'audit_unavailable',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Why the gateway closed a live connection. Absent from `closed` records when the client closed it. */
export type CloseReason =
  'killed' | 'revoked' | 'expired' | 'idle' | 'headers_timeout' | 'shutdown' | 'error';

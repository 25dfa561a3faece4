import { z } from 'zod';
import { accessRulesSchema } from '../../shared/policy';
import { upstreamCredentialNameSchema, upstreamCredentialValueSchema } from '../../shared/credentials';
import type { AuditActor, ConnectionInfo, GatewayConfig } from '../../shared/model';
import { listenAddressSchema, upstreamUrlSchema } from '../../shared/validation';
import type {
  ConfigMessage,
  GatewayAuditEntry,
  GatewayOptions,
  GatewayTlsMaterial,
  GatewayToParentChecked,
  HoldMessage,
  KillMessage,
  ParentToGateway,
  RenewAnswer,
  RenewRequest,
  RevocationsMessage,
  StartMessage,
  StopMessage,
  TlsMessage,
  WireCredentials,
} from './wire';
import { LOG_LEVELS } from './wire';

// Types, constants and the child's own check live in wire.ts, which loads no zod (issue 12).
export * from './wire';

/** True when A and B are the same type: each zod schema below outputs exactly its wire.ts type. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <A, B>(ok: Same<A, B>): Same<A, B> => ok;

/**
 * The wire contract between the supervisor (parent) and the gateway process (child), parent side:
 * the parent parses what it receives with these schemas (audit batches, one record per request,
 * with checkAuditMessage instead); the child checks what it receives with wire.ts's
 * checkParentMessage, the same rules by hand. The other end is another process (possibly a
 * different build), so nothing is trusted by type alone.
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
  stripHeaders: z.array(z.string().min(1).max(101)).max(64),
  clientCertHeader: z.boolean(),
  xfccCert: z.boolean(),
  accessRules: accessRulesSchema,
  rewriteOrigin: z.boolean(),
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

/** The server's key and cert and the CA bundle clients are verified against. Never the CA key. */
export const tlsMaterialSchema = z.object({ keyPem: pemSchema, certPem: pemSchema, caPem: pemSchema });

/** Upstream credentials in clear: only on this private channel, never logged (issue 11 §3). */
export const credentialsWireSchema = z
  .array(
    z.object({
      name: upstreamCredentialNameSchema,
      value: upstreamCredentialValueSchema,
      methods: z
        .array(z.string().regex(/^[A-Z]{1,20}$/))
        .max(16)
        .optional(),
    }),
  )
  .max(32);

export const startMessageSchema = z.object({
  type: z.literal('start'),
  tls: tlsMaterialSchema,
  revokedSerials: z.array(wireSerialSchema).max(10_000_000),
  config: gatewayConfigWireSchema,
  options: gatewayOptionsSchema.optional(),
  credentials: credentialsWireSchema.optional(),
});

/** The credentials changed (set or removed by any process): every request from now on uses these. */
export const credentialsMessageSchema = z.object({
  type: z.literal('credentials'),
  list: credentialsWireSchema,
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

/**
 * A client asks for its certificate's renewal on the gateway's listener (issue 9): the gateway
 * holds no CA key, so it hands the request to its parent, which signs (or refuses) and answers.
 */
export const renewRequestSchema = z.object({
  type: z.literal('renew'),
  ref: z.number().int().nonnegative(),
  serial: wireSerialSchema,
  /** A PKCS#10 CSR (DER, base64) for a new key; absent: the same key. */
  csr: z.base64().max(32_768).optional(),
});

export const renewAnswerSchema = z.union([
  z.object({
    type: z.literal('renewed'),
    ref: z.number().int().nonnegative(),
    ok: z.literal(true),
    certPem: pemSchema,
    caPem: pemSchema,
  }),
  z.object({
    type: z.literal('renewed'),
    ref: z.number().int().nonnegative(),
    ok: z.literal(false),
    status: z.number().int().min(400).max(599),
    error: z.string().max(500),
  }),
]);
export const parentToGatewaySchema = z.union([
  renewAnswerSchema,
  credentialsMessageSchema,
  holdMessageSchema,
  configMessageSchema,
  startMessageSchema,
  tlsMessageSchema,
  revocationsMessageSchema,
  killMessageSchema,
  stopMessageSchema,
]);
// ── gateway → parent ─────────────────────────────────────────────────────────────

export const auditActorSchema = z.union([
  z.object({ kind: z.literal('operator'), name: z.string() }),
  z.object({ kind: z.literal('client'), cn: z.string(), serial: z.string() }),
  z.object({ kind: z.literal('system') }),
]) satisfies z.ZodType<AuditActor>;

export const gatewayAuditEntrySchema = z.object({
  type: z.string().min(1).max(100),
  actor: auditActorSchema,
  details: z.record(z.string(), z.unknown()),
  time: z.string().optional(),
});

/** A record from the gateway that passed checkAuditMessage: the values the audit log stores. */
export interface GatewayAuditRow {
  /** Canonical ISO time (what Date#toISOString prints). */
  readonly time: string;
  /** `gateway.…` */
  readonly type: string;
  readonly cn: string | null;
  /** Hex, as the gateway sent it; non-null exactly when `cn` is. */
  readonly serial: string | null;
  /** JSON.stringify(details): an object's text, which is what gets hashed. */
  readonly detailsJson: string;
  /** Equal to JSON.parse(detailsJson), so nobody has to parse it back. */
  readonly details: Record<string, unknown>;
}

/** Back to the entry shape, for listeners that want it (tests); the host stores rows as they are. */
export function toAuditEntry(r: GatewayAuditRow): GatewayAuditEntry {
  return {
    type: r.type,
    actor: r.cn === null ? { kind: 'system' } : { kind: 'client', cn: r.cn, serial: r.serial ?? '' },
    details: r.details,
    time: r.time,
  };
}

const MAX_AUDIT_ROWS = 100_000;
const ISO_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const AUDIT_TYPE = /^gateway(\.[a-z0-9_-]+)+$/;
const HEX_SERIAL = /^[0-9a-fA-F]{1,128}$/;

/** True when every value is a string, a boolean, null or a finite number other than -0: JSON round-trips it as is. */
function flatJson(d: Record<string, unknown>): boolean {
  for (const k in d) {
    const v = d[k];
    if (typeof v === 'string' || typeof v === 'boolean' || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || (v === 0 && 1 / v < 0)) return false;
  }
  return true;
}

/**
 * What the rows of one batch already proved: a batch repeats its types, its clients and the second
 * of its times, so each is matched against its pattern once rather than on every row.
 */
interface Checked {
  /** The 20 characters `YYYY-MM-DDTHH:MM:SS.` of a time that matched ISO_TIME; null: none yet. */
  timePrefix: string | null;
  type: string | null;
  cn: string | null;
  serial: string | null;
}

/** `\d{3}Z` at position 20: the rest of an ISO time whose first 20 characters already matched. */
function isoTail(t: string): boolean {
  if (t.length !== 24 || t.charCodeAt(23) !== 0x5a) return false;
  for (let i = 20; i < 23; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function checkRow(r: unknown, seen: Checked): GatewayAuditRow | string {
  if (!Array.isArray(r) || r.length !== 5) return 'a row is not [time, type, cn, serial, details]';
  const [time, type, cn, serial, details] = r as unknown[];
  if (typeof time !== 'string') return 'time is not an ISO time';
  if (!(seen.timePrefix !== null && time.startsWith(seen.timePrefix) && isoTail(time))) {
    if (!ISO_TIME.test(time)) return 'time is not an ISO time';
    seen.timePrefix = time.slice(0, 20);
  }
  if (typeof type !== 'string') return 'type is not gateway.…';
  if (type !== seen.type) {
    if (type.length > 100 || !AUDIT_TYPE.test(type)) return 'type is not gateway.…';
    seen.type = type;
  }
  if (cn === null) {
    if (serial !== null) return 'a serial without a cn';
  } else if (typeof cn !== 'string' || typeof serial !== 'string') {
    return 'actor is neither a client (cn, hex serial) nor the gateway (null, null)';
  } else if (cn !== seen.cn || serial !== seen.serial) {
    if (!HEX_SERIAL.test(serial)) {
      return 'actor is neither a client (cn, hex serial) nor the gateway (null, null)';
    }
    seen.cn = cn;
    seen.serial = serial;
  }
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    return 'details are not an object';
  }
  let detailsJson: string | undefined;
  try {
    detailsJson = JSON.stringify(details);
  } catch {
    return 'details are not JSON';
  }
  // A Date or a class instance (structured clone, under Electron) does not serialize to an object.
  if (typeof detailsJson !== 'string' || detailsJson.charCodeAt(0) !== 0x7b)
    return 'details are not an object';
  const obj = details as Record<string, unknown>;
  return {
    time,
    type,
    cn,
    serial: serial as string | null,
    detailsJson,
    details: flatJson(obj) ? obj : (JSON.parse(detailsJson) as Record<string, unknown>),
  };
}

/**
 * The shape check of an `audit` message, by hand rather than zod: it runs once per proxied request.
 * All or nothing: one bad row refuses the batch (returned as the reason), nothing of it is stored.
 */
export function checkAuditMessage(msg: { readonly rows?: unknown }): GatewayAuditRow[] | string {
  const rows = msg.rows;
  if (!Array.isArray(rows)) return 'audit message without rows';
  if (rows.length > MAX_AUDIT_ROWS) return `more than ${MAX_AUDIT_ROWS} rows in one audit message`;
  const out: GatewayAuditRow[] = new Array<GatewayAuditRow>(rows.length);
  const seen: Checked = { timePrefix: null, type: null, cn: null, serial: null };
  for (let i = 0; i < rows.length; i++) {
    const r = checkRow(rows[i], seen);
    if (typeof r === 'string') return `row ${i}: ${r}`;
    out[i] = r;
  }
  return out;
}

export const connectionInfoSchema = z.object({
  id: z.string(),
  cn: z.string(),
  serial: z.string(),
  remoteAddress: z.string(),
  remotePort: z.number().int().min(0).max(65535).optional(),
  tlsVersion: z.string().max(32).optional(),
  cipher: z.string().max(128).optional(),
  since: z.string(),
  bytesIn: z.number().nonnegative(),
  bytesOut: z.number().nonnegative(),
  requests: z.number().int().nonnegative(),
}) satisfies z.ZodType<ConnectionInfo>;

/** Every message but `audit`, which is checked by hand (checkAuditMessage). */
export const gatewayToParentSchema = z.union([
  z.object({ type: z.literal('ready'), host: z.string(), port: z.number().int().min(1).max(65535) }),
  z.object({ type: z.literal('connections'), list: z.array(connectionInfoSchema) }),
  z.object({
    type: z.literal('killed'),
    ref: z.number().int().nonnegative(),
    count: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal('log'), level: z.enum(LOG_LEVELS), line: z.string() }),
  z.object({ type: z.literal('fatal'), message: z.string() }),
  renewRequestSchema,
]);

// Each schema outputs exactly the type the child checks by hand (wire.ts): a field added on one
// side only is a compile error here.
export const schemasMatchWire = [
  same<z.infer<typeof gatewayOptionsSchema>, GatewayOptions>(true),
  same<z.infer<typeof tlsMaterialSchema>, GatewayTlsMaterial>(true),
  same<z.infer<typeof credentialsWireSchema>, WireCredentials>(true),
  same<z.infer<typeof startMessageSchema>, StartMessage>(true),
  same<z.infer<typeof tlsMessageSchema>, TlsMessage>(true),
  same<z.infer<typeof revocationsMessageSchema>, RevocationsMessage>(true),
  same<z.infer<typeof killMessageSchema>, KillMessage>(true),
  same<z.infer<typeof stopMessageSchema>, StopMessage>(true),
  same<z.infer<typeof holdMessageSchema>, HoldMessage>(true),
  same<z.infer<typeof configMessageSchema>, ConfigMessage>(true),
  same<z.infer<typeof renewAnswerSchema>, RenewAnswer>(true),
  same<z.infer<typeof renewRequestSchema>, RenewRequest>(true),
  same<z.infer<typeof parentToGatewaySchema>, ParentToGateway>(true),
  same<z.infer<typeof gatewayAuditEntrySchema>, GatewayAuditEntry>(true),
  same<z.infer<typeof gatewayToParentSchema>, GatewayToParentChecked>(true),
  same<z.infer<typeof gatewayConfigWireSchema>, GatewayConfig>(true),
] as const;

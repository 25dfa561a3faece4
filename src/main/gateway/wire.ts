import type { AccessRule } from '../../shared/policy-decide';
import type { AuditActor, ConnectionInfo, GatewayConfig } from '../../shared/model';
import { parseHostPort } from '../../shared/host-port';
import { RESERVED_HEADER_NAMES } from '../../shared/reserved-headers';

/**
 * The wire contract between the supervisor (parent) and the gateway process (child), as types and
 * hand-written shape checks. The child loads this and never zod (issue 12: zod alone is ~16 MiB of
 * the child's RSS); the parent keeps its zod schemas in protocol.ts, which checks at compile time
 * that they output exactly these types, and a test checks that both accept and refuse the same
 * messages.
 */

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;

/** Knobs that are not (yet) part of the operator's GatewayConfig. */
export interface GatewayOptions {
  /** Time allowed for the upstream to send response headers before the client gets a 504. */
  upstreamTimeoutMs?: number | undefined;
  /** Time a connection may take to send a request's headers once it has started sending it. */
  headersTimeoutMs?: number | undefined;
  /** Window of the refusal flood guard (see RefusalThrottle). */
  refusalWindowMs?: number | undefined;
  /** Full refusal records per window across ALL sources; the rest are summarised per reason. */
  refusalBudget?: number | undefined;
  /** Sockets still in their TLS handshake, all sources together (never an authenticated slot). */
  maxHandshakes?: number | undefined;
  /** Sockets still in their handshake from one source prefix (/32 IPv4, /64 IPv6). */
  maxHandshakesPerSource?: number | undefined;
  /** Bytes a client may send before its handshake completes (its certificate chain lives there). */
  maxHandshakeBytes?: number | undefined;
  /** Certificates a client may present, leaf included. */
  maxChainLength?: number | undefined;
  /** After an oversized chain, that source prefix gets one handshake per second for this long. */
  oversizePenaltyMs?: number | undefined;
}

/** [name, min, max] of each option: the same ranges as gatewayOptionsSchema. */
const OPTION_RANGES: readonly (readonly [keyof GatewayOptions, number, number])[] = [
  ['upstreamTimeoutMs', 1, 3_600_000],
  ['headersTimeoutMs', 1, 3_600_000],
  ['refusalWindowMs', 1, 3_600_000],
  ['refusalBudget', 1, 1_000_000],
  ['maxHandshakes', 1, 100_000],
  ['maxHandshakesPerSource', 1, 100_000],
  ['maxHandshakeBytes', 1_024, 1_000_000],
  ['maxChainLength', 1, 100],
  ['oversizePenaltyMs', 0, 3_600_000],
];

/** The server's key and cert and the CA bundle clients are verified against. Never the CA key. */
export interface GatewayTlsMaterial {
  keyPem: string;
  certPem: string;
  caPem: string;
}

/** Upstream credentials in clear: only on this private channel, never logged (issue 11 §3). */
export type WireCredentials = {
  name: string;
  value: string;
  methods?: string[] | undefined;
}[];

export interface StartMessage {
  type: 'start';
  tls: GatewayTlsMaterial;
  revokedSerials: string[];
  config: GatewayConfig;
  options?: GatewayOptions | undefined;
  credentials?: WireCredentials | undefined;
}
export interface CredentialsMessage {
  type: 'credentials';
  list: WireCredentials;
}
/** Hot rotation: a new server key+cert pair, a new CA bundle, or both (new handshakes only). */
export interface TlsMessage {
  type: 'tls';
  server?: { keyPem: string; certPem: string } | undefined;
  caPem?: string | undefined;
}
/** The FULL revocation set, replacing the previous one. */
export interface RevocationsMessage {
  type: 'revocations';
  serials: string[];
}
/** Closes live connections by id or by serial; answered by `killed` with the same ref. */
export interface KillMessage {
  type: 'kill';
  ref: number;
  id?: string | undefined;
  serial?: string | undefined;
}
export interface StopMessage {
  type: 'stop';
  graceMs: number;
}
export interface HoldMessage {
  type: 'hold';
  on: boolean;
  reason?: string | undefined;
}
export interface ConfigMessage {
  type: 'config';
  config: GatewayConfig;
}
export type RenewAnswer =
  | { type: 'renewed'; ref: number; ok: true; certPem: string; caPem: string }
  | { type: 'renewed'; ref: number; ok: false; status: number; error: string };
export type ParentToGateway =
  | RenewAnswer
  | CredentialsMessage
  | HoldMessage
  | ConfigMessage
  | StartMessage
  | TlsMessage
  | RevocationsMessage
  | KillMessage
  | StopMessage;

export type RenewOutcome =
  | { readonly ok: true; readonly certPem: string; readonly caPem: string }
  | { readonly ok: false; readonly status: number; readonly error: string };

// ── gateway → parent ─────────────────────────────────────────────────────────────

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A client asks for its certificate's renewal; the parent signs (the gateway holds no CA key). */
export interface RenewRequest {
  type: 'renew';
  ref: number;
  serial: string;
  /** A PKCS#10 CSR (DER, base64) for a new key; absent: the same key. */
  csr?: string | undefined;
}

/** What the gateway records (GatewaySink.audit); `time` is when the gateway saw the event (ISO). */
export interface GatewayAuditEntry {
  type: string;
  actor: AuditActor;
  details: Record<string, unknown>;
  time?: string | undefined;
}

/**
 * One audit record on the wire, compact (one per proxied request, so it is the hot path):
 * `[time, type, cn, serial, details]`. `cn` and `serial` are the client's, or both null for the
 * gateway itself (actor `system`); an operator never acts through the gateway.
 */
export type AuditWireRow = [
  time: string,
  type: string,
  cn: string | null,
  serial: string | null,
  details: Record<string, unknown>,
];
export interface AuditMessage {
  readonly type: 'audit';
  readonly rows: AuditWireRow[];
}

/** Every message but `audit` is checked by the parent with gatewayToParentSchema (protocol.ts). */
export type GatewayToParentChecked =
  | { type: 'ready'; host: string; port: number }
  | { type: 'connections'; list: ConnectionInfo[] }
  | { type: 'killed'; ref: number; count: number }
  | { type: 'log'; level: LogLevel; line: string }
  | { type: 'fatal'; message: string }
  | RenewRequest;
export type GatewayToParent = GatewayToParentChecked | AuditMessage;
export type ReadyMessage = Extract<GatewayToParent, { type: 'ready' }>;

/** The child's side: null for an entry the wire cannot carry (an operator actor). */
export function toWireRow(e: GatewayAuditEntry): AuditWireRow | null {
  const time = e.time ?? new Date().toISOString();
  switch (e.actor.kind) {
    case 'client':
      return [time, e.type, e.actor.cn, e.actor.serial, e.details];
    case 'system':
      return [time, e.type, null, null, e.details];
    default:
      return null;
  }
}

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

// ── the child's check of what its parent sends ──────────────────────────────────

/** A refusal, with where in the message it is. */
class Bad extends Error {}

type Obj = Record<string, unknown>;

function obj(v: unknown, at: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Bad(`${at}: expected an object`);
  return v as Obj;
}

function str(v: unknown, at: string, min: number, max: number, re?: RegExp): string {
  if (typeof v !== 'string') throw new Bad(`${at}: expected a string`);
  if (v.length < min || v.length > max) throw new Bad(`${at}: length out of range`);
  if (re && !re.test(v)) throw new Bad(`${at}: malformed`);
  return v;
}

function int(v: unknown, at: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new Bad(`${at}: expected a whole number from ${min} to ${max}`);
  }
  return v;
}

function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') throw new Bad(`${at}: expected true or false`);
  return v;
}

function list<T>(v: unknown, at: string, min: number, max: number, item: (x: unknown, at: string) => T): T[] {
  if (!Array.isArray(v)) throw new Bad(`${at}: expected an array`);
  if (v.length < min || v.length > max) throw new Bad(`${at}: ${v.length} items, expected ${min}-${max}`);
  const out = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = item(v[i], `${at}[${i}]`);
  return out;
}

/** Checks `o[key]` when present (undefined counts as absent, as zod's optional()). */
function opt<T>(o: Obj, key: string, at: string, check: (v: unknown, at: string) => T): T | undefined {
  const v = o[key];
  return v === undefined ? undefined : check(v, `${at}.${key}`);
}

const PEM_MAX = 4_000_000;
const pem = (v: unknown, at: string): string => str(v, at, 1, PEM_MAX);
const SERIAL_RE = /^[0-9a-f]{1,40}$/;
const serial = (v: unknown, at: string): string => str(v, at, 1, 40, SERIAL_RE);
const METHOD_RE = /^[A-Z]{1,20}$/;
const RULE_ID_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;
const NAME_PATTERN_RE = /^[A-Za-z0-9._@*-]{1,64}$/;
const GROUP_RE = /^[A-Za-z0-9._@-]{1,64}$/;
const RULE_METHOD_RE = /^(\*|[A-Z]{1,20})$/;
const PATH_PREFIX_RE = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const RULE_KEYS = new Set(['id', 'name', 'group', 'methods', 'paths']);
/** A header name token; values are visible ASCII, spaces and tabs (they go into a request head). */
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
const HEADER_VALUE_RE = /^[\t\x20-\x7e]+$/;

function upstreamUrl(v: unknown, at: string): string {
  const s = str(v, at, 1, 8192);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Bad(`${at}: not a URL`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    throw new Bad(`${at}: not an http(s) URL`);
  }
  return s;
}

/** Rules as the parent's schema outputs them (trimmed, methods upper case): nothing is normalised here. */
function accessRule(v: unknown, at: string): AccessRule {
  const o = obj(v, at);
  for (const k in o) if (!RULE_KEYS.has(k)) throw new Bad(`${at}: unknown key ${k}`);
  const name = opt(o, 'name', at, (x, a) => str(x, a, 1, 64, NAME_PATTERN_RE));
  const group = opt(o, 'group', at, (x, a) => {
    const g = str(x, a, 1, 64, GROUP_RE);
    if (g === '.' || g === '..') throw new Bad(`${a}: malformed`);
    return g;
  });
  if (name === undefined && group === undefined) throw new Bad(`${at}: names no client nor group`);
  return {
    id: str(o['id'], `${at}.id`, 1, 40, RULE_ID_RE),
    ...(name !== undefined ? { name } : {}),
    ...(group !== undefined ? { group } : {}),
    methods: list(o['methods'], `${at}.methods`, 1, 16, (x, a) => str(x, a, 1, 20, RULE_METHOD_RE)),
    paths: list(o['paths'], `${at}.paths`, 1, 32, (x, a) => {
      const p = str(x, a, 1, 512, PATH_PREFIX_RE);
      if (p.split('/').some((s) => s === '.' || s === '..')) throw new Bad(`${a}: dot-segment`);
      return p;
    }),
  };
}

function gatewayConfig(v: unknown, at: string): GatewayConfig {
  const o = obj(v, at);
  const listen = str(o['listen'], `${at}.listen`, 1, 300);
  if (parseHostPort(listen) === null) throw new Bad(`${at}.listen: not HOST:PORT`);
  const accessRules = list(o['accessRules'], `${at}.accessRules`, 0, 200, accessRule);
  if (new Set(accessRules.map((r) => r.id)).size !== accessRules.length) {
    throw new Bad(`${at}.accessRules: rule ids must be unique`);
  }
  return {
    listen,
    upstream: upstreamUrl(o['upstream'], `${at}.upstream`),
    maxConnections: int(o['maxConnections'], `${at}.maxConnections`, 1, 100_000),
    handshakeTimeoutMs: int(o['handshakeTimeoutMs'], `${at}.handshakeTimeoutMs`, 1, 600_000),
    idleTimeoutMs: int(o['idleTimeoutMs'], `${at}.idleTimeoutMs`, 1, 86_400_000),
    maxConnectionsPerIdentity: int(
      o['maxConnectionsPerIdentity'],
      `${at}.maxConnectionsPerIdentity`,
      1,
      100_000,
    ),
    allowRemoteUpstream: bool(o['allowRemoteUpstream'], `${at}.allowRemoteUpstream`),
    stripHeaders: list(o['stripHeaders'], `${at}.stripHeaders`, 0, 64, (x, a) => str(x, a, 1, 101)),
    clientCertHeader: bool(o['clientCertHeader'], `${at}.clientCertHeader`),
    xfccCert: bool(o['xfccCert'], `${at}.xfccCert`),
    accessRules,
    rewriteOrigin: bool(o['rewriteOrigin'], `${at}.rewriteOrigin`),
  };
}

function gatewayOptions(v: unknown, at: string): GatewayOptions {
  const o = obj(v, at);
  const out: GatewayOptions = {};
  for (const [key, min, max] of OPTION_RANGES) {
    const n = opt(o, key, at, (x, a) => int(x, a, min, max));
    if (n !== undefined) out[key] = n;
  }
  return out;
}

function credentials(v: unknown, at: string): WireCredentials {
  return list(v, at, 0, 32, (x, a) => {
    const o = obj(x, a);
    const value = str(o['value'], `${a}.value`, 1, 8192, HEADER_VALUE_RE);
    if (value.trim() !== value) throw new Bad(`${a}.value: surrounding white space`);
    const methods = opt(o, 'methods', a, (m, am) =>
      list(m, am, 0, 16, (y, ay) => str(y, ay, 1, 20, METHOD_RE)),
    );
    const name = str(o['name'], `${a}.name`, 1, 100, HEADER_NAME_RE);
    if (RESERVED_HEADER_NAMES.has(name.toLowerCase().replace(/_/g, '-')))
      throw new Bad(`${a}.name: reserved`);
    return {
      name,
      value,
      ...(methods !== undefined ? { methods } : {}),
    };
  });
}

function tlsMaterial(v: unknown, at: string): GatewayTlsMaterial {
  const o = obj(v, at);
  return {
    keyPem: pem(o['keyPem'], `${at}.keyPem`),
    certPem: pem(o['certPem'], `${at}.certPem`),
    caPem: pem(o['caPem'], `${at}.caPem`),
  };
}

const MAX_SERIALS = 10_000_000;

function parentMessage(m: Obj): ParentToGateway {
  switch (m['type']) {
    case 'start': {
      const options = opt(m, 'options', 'start', gatewayOptions);
      const creds = opt(m, 'credentials', 'start', credentials);
      return {
        type: 'start',
        tls: tlsMaterial(m['tls'], 'start.tls'),
        revokedSerials: list(m['revokedSerials'], 'start.revokedSerials', 0, MAX_SERIALS, serial),
        config: gatewayConfig(m['config'], 'start.config'),
        ...(options !== undefined ? { options } : {}),
        ...(creds !== undefined ? { credentials: creds } : {}),
      };
    }
    case 'credentials':
      return { type: 'credentials', list: credentials(m['list'], 'credentials.list') };
    case 'tls': {
      const server = opt(m, 'server', 'tls', (v, at) => {
        const o = obj(v, at);
        return { keyPem: pem(o['keyPem'], `${at}.keyPem`), certPem: pem(o['certPem'], `${at}.certPem`) };
      });
      const caPem = opt(m, 'caPem', 'tls', pem);
      if (server === undefined && caPem === undefined) throw new Bad('tls update carries nothing');
      return {
        type: 'tls',
        ...(server !== undefined ? { server } : {}),
        ...(caPem !== undefined ? { caPem } : {}),
      };
    }
    case 'revocations':
      return {
        type: 'revocations',
        serials: list(m['serials'], 'revocations.serials', 0, MAX_SERIALS, serial),
      };
    case 'kill': {
      const id = opt(m, 'id', 'kill', (v, at) => str(v, at, 1, 64));
      const s = opt(m, 'serial', 'kill', serial);
      if ((id === undefined) === (s === undefined)) throw new Bad('kill needs exactly one of id or serial');
      return {
        type: 'kill',
        ref: int(m['ref'], 'kill.ref', 0, Number.MAX_SAFE_INTEGER),
        ...(id !== undefined ? { id } : {}),
        ...(s !== undefined ? { serial: s } : {}),
      };
    }
    case 'stop':
      return { type: 'stop', graceMs: int(m['graceMs'], 'stop.graceMs', 0, 600_000) };
    case 'hold': {
      const reason = opt(m, 'reason', 'hold', (v, at) => str(v, at, 0, 500));
      return { type: 'hold', on: bool(m['on'], 'hold.on'), ...(reason !== undefined ? { reason } : {}) };
    }
    case 'config':
      return { type: 'config', config: gatewayConfig(m['config'], 'config.config') };
    case 'renewed': {
      const ref = int(m['ref'], 'renewed.ref', 0, Number.MAX_SAFE_INTEGER);
      if (m['ok'] === true) {
        return {
          type: 'renewed',
          ref,
          ok: true,
          certPem: pem(m['certPem'], 'renewed.certPem'),
          caPem: pem(m['caPem'], 'renewed.caPem'),
        };
      }
      if (m['ok'] === false) {
        return {
          type: 'renewed',
          ref,
          ok: false,
          status: int(m['status'], 'renewed.status', 400, 599),
          error: str(m['error'], 'renewed.error', 0, 500),
        };
      }
      throw new Bad('renewed.ok: expected true or false');
    }
    default:
      throw new Bad('unknown message type');
  }
}

/**
 * The child's check of a message from its parent: the message, rebuilt from its known fields only,
 * or one line saying what is wrong with it. Mirrors parentToGatewaySchema (protocol.ts).
 */
export function checkParentMessage(raw: unknown): ParentToGateway | string {
  try {
    return parentMessage(obj(raw, 'message'));
  } catch (e) {
    if (e instanceof Bad) return e.message;
    throw e;
  }
}

import { accessRulesSchema, groupNameSchema } from './policy';
import { z } from 'zod';
import type {
  AuditPage,
  AuditRecord,
  AuditVerifyResult,
  CaRolloverStatus,
  ClientDetail,
  ClientIssueResult,
  ClientRecord,
  ClientRenewResult,
  ConnectionInfo,
  GatewayConfigured,
  RevokeResult,
  StatusInfo,
} from './model';
import {
  algorithmSchema,
  clientNameSchema,
  durationSchema,
  hostsSchema,
  listenAddressSchema,
  parseDuration,
  DAY_MS,
  revocationReasonSchema,
  serialSchema,
  upstreamUrlSchema,
} from './validation';
import { CALL_NAME_LIST, EVENT_NAME_LIST, type CallNameLiteral, type EventNameLiteral } from './channels';

/**
 * The one contract between the renderer and main (DESIGN.md §4). Every call has a zod input schema
 * that main checks before anything runs, and a result type. Channels are `mtls:<call>`; events are
 * `mtls:event:<name>`. Main answers `{ok:true, value}` or `{ok:false, error:{code, message}}`.
 */
export { CHANNEL_PREFIX, EVENT_PREFIX } from './channels';

const empty = z.object({}).strict();

/** An HTTP field name (RFC 9110 token), optionally ending in `*` for a whole prefix. */
export const stripHeaderNameSchema = z
  .string()
  .trim()
  .regex(
    /^[A-Za-z0-9!#$%&'+.^_`|~-]{1,100}\*?$/,
    'a header name (letters, digits, - and _), optionally ending in *',
  );

export const gatewaySettingsSchema = z
  .object({
    listen: listenAddressSchema,
    upstream: upstreamUrlSchema,
    maxConnections: z.number().int().min(1).max(10_000),
    handshakeTimeoutMs: z.number().int().min(100).max(600_000),
    idleTimeoutMs: z.number().int().min(1_000).max(86_400_000),
    // Optional so a form that predates the field still saves; stored settings fall back to the default.
    maxConnectionsPerIdentity: z.number().int().min(1).max(10_000).optional(),
    allowRemoteUpstream: z.boolean(),
    stripHeaders: z.array(stripHeaderNameSchema).max(64).optional(),
    clientCertHeader: z.boolean().optional(),
    xfccCert: z.boolean().optional(),
    accessRules: accessRulesSchema.optional(),
    rewriteOrigin: z.boolean().optional(),
  })
  .strict();

export const caInitInputSchema = z
  .object({
    algorithm: algorithmSchema,
    caName: z.string().trim().min(1).max(64),
    hosts: hostsSchema,
    serverDays: z.number().int().min(1).max(3650),
    gateway: gatewaySettingsSchema.partial().optional(),
    /** `passphrase` needs `passphrase` (at least 12 characters); `safeStorage` is refused where only basic_text exists. */
    vault: z.enum(['safeStorage', 'passphrase']),
    passphrase: z.string().min(12, 'the passphrase must be at least 12 characters').max(1024).optional(),
  })
  .strict()
  .refine((v) => v.vault !== 'passphrase' || v.passphrase !== undefined, {
    message: 'a passphrase vault needs a passphrase of at least 12 characters',
    path: ['passphrase'],
  });

/** The default maximum total lifetime of a renewal chain: the seed's 90-day client rotation. */
export const DEFAULT_RENEW_MAX_MS = 90 * DAY_MS;
/** A renewal chain never needs to outlive the CA (10 years); the CA's expiry clamps it anyway. */
export const MAX_RENEW_MAX_MS = 3650 * DAY_MS;

/** `--renew-max`: how long a renewal chain may run from its first issuance, e.g. 90d or 1h. */
export const renewMaxSchema = z
  .string()
  .transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${s}" (use e.g. 90d, 30d, 12h)` });
      return z.NEVER;
    }
    return ms;
  })
  .refine((ms) => ms <= MAX_RENEW_MAX_MS, 'the maximum renewal lifetime is at most 3650 days');

/** A PEM CSR as the renderer read it from a file or a paste; main checks its signature (src/main/pki/csr.ts). */
export const MAX_CSR_PEM_CHARS = 96 * 1024;
export const csrPemSchema = z
  .string()
  .max(MAX_CSR_PEM_CHARS, 'the CSR is too large to be a certificate request')
  .refine(
    (s) => /-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(s),
    'not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)',
  );

export const issueInputSchema = z
  .object({
    name: clientNameSchema,
    duration: durationSchema,
    /** Omitted: no .p12 is written. */
    p12Password: z.string().min(4).max(1024).optional(),
    /** A folder the operator picked in the native dialog (main refuses any other). */
    outDir: z.string().min(1).max(4096),
    force: z.boolean().optional(),
    /** OUs: the groups access rules match. */
    groups: z.array(groupNameSchema).max(8).optional(),
    /** Whether its holder may renew it over the gateway (default true). */
    renewable: z.boolean().optional(),
    /** Maximum total lifetime of its renewal chain (default 90d); not with `renewable: false`. */
    renewMax: renewMaxSchema.optional(),
    /** A new certificate (new key) for a name that exists; its files replace that name's bundle. */
    reissue: z.boolean().optional(),
    /** With `reissue`: revoke the name's earlier valid certificates (reason superseded). */
    revokePrevious: z.boolean().optional(),
    /** Sign this CSR's key instead of making one: the bundle has no key and no .p12 (issue 9). */
    csrPem: csrPemSchema.optional(),
  })
  // No refinements here (other front doors pick fields from it); main refuses the combinations that
  // make no sense (renewMax without renewing, revokePrevious without reissue).
  .strict();

export const clientGetInputSchema = z.object({ serial: serialSchema }).strict();

/** Certify the same key again (renewal.ts rules) and write NAME.crt and ca.crt to a picked folder. */
export const clientRenewInputSchema = z
  .object({ serial: serialSchema, outDir: z.string().min(1).max(4096) })
  .strict();

export const revokeInputSchema = z.object({ serial: serialSchema, reason: revocationReasonSchema }).strict();

const isoTime = z.iso.datetime({ offset: true });

export const auditFilterSchema = z
  .object({
    type: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dots')
      .optional(),
    cn: z.string().trim().min(1).max(64).optional(),
    serial: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .transform((s) =>
        s
          .replace(/^(serial=|0x)/i, '')
          .replace(/:/g, '')
          .toLowerCase(),
      )
      .refine((s) => /^[0-9a-f]+$/.test(s), 'a serial is hex digits, colons allowed')
      .optional(),
    actor: z.string().trim().min(1).max(128).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    text: z.string().trim().min(1).max(128).optional(),
  })
  .strict();

export const auditQueryInputSchema = z
  .object({
    filter: auditFilterSchema.optional(),
    /** The `nextCursor` of the previous page: records older than this seq. */
    before: z.number().int().min(1).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

export const auditExportInputSchema = z
  .object({ format: z.enum(['jsonl', 'csv']), filter: auditFilterSchema.optional() })
  .strict();

export const killInputSchema = z.union([
  z.object({ id: z.string().min(1).max(64) }).strict(),
  z.object({ serial: serialSchema }).strict(),
]);

export const rotateInputSchema = z.object({ days: z.number().int().min(1).max(3650).optional() }).strict();

export const rolloverRetireInputSchema = z.object({ revokeRemaining: z.boolean().optional() }).strict();

export const unlockInputSchema = z.object({ passphrase: z.string().min(1).max(1024) }).strict();

/** Every call: its input schema and (as a phantom) its result type. */
export const calls = {
  'status.get': { input: empty, result: null as unknown as StatusInfo },
  'ca.init': { input: caInitInputSchema, result: null as unknown as StatusInfo },
  'vault.unlock': { input: unlockInputSchema, result: null as unknown as StatusInfo },
  /** Forgets the passphrase: the next operation that needs the CA key asks for it again. */
  'vault.lock': { input: empty, result: null as unknown as StatusInfo },
  'clients.list': { input: empty, result: null as unknown as ClientRecord[] },
  'clients.chooseExportDir': { input: empty, result: null as unknown as string | null },
  'clients.issue': { input: issueInputSchema, result: null as unknown as ClientIssueResult },
  'clients.get': { input: clientGetInputSchema, result: null as unknown as ClientDetail },
  'clients.renew': { input: clientRenewInputSchema, result: null as unknown as ClientRenewResult },
  'clients.revoke': { input: revokeInputSchema, result: null as unknown as RevokeResult },
  'server.rotate': { input: rotateInputSchema, result: null as unknown as StatusInfo },
  'ca.rollover.status': { input: empty, result: null as unknown as CaRolloverStatus },
  'ca.rollover.start': { input: empty, result: null as unknown as CaRolloverStatus },
  /** Refused while valid old-CA clients remain, unless `revokeRemaining` (revoked as superseded). */
  'ca.rollover.retire': { input: rolloverRetireInputSchema, result: null as unknown as CaRolloverStatus },
  'audit.query': { input: auditQueryInputSchema, result: null as unknown as AuditPage },
  'audit.verify': { input: empty, result: null as unknown as AuditVerifyResult },
  'audit.export': {
    input: auditExportInputSchema,
    result: null as unknown as { path: string | null; records: number },
  },
  'gateway.start': { input: empty, result: null as unknown as StatusInfo },
  'gateway.stop': { input: empty, result: null as unknown as StatusInfo },
  'gateway.configure': { input: gatewaySettingsSchema, result: null as unknown as GatewayConfigured },
  /** Whether the app starts the gateway when it launches (issue 10); audited as `settings.app.changed`. */
  'settings.autoStart': {
    input: z.object({ enabled: z.boolean() }).strict(),
    result: null as unknown as StatusInfo,
  },
  'connections.list': { input: empty, result: null as unknown as ConnectionInfo[] },
  'connections.kill': { input: killInputSchema, result: null as unknown as { killed: number } },
} as const;

export type CallName = keyof typeof calls;
export type CallInput<C extends CallName> = z.input<(typeof calls)[C]['input']>;
export type CallParsedInput<C extends CallName> = z.output<(typeof calls)[C]['input']>;
export type CallResult<C extends CallName> = (typeof calls)[C]['result'];
/** The zod-free list in channels.ts (what the preload uses); the checks below keep it equal to `calls`. */
export const CALL_NAMES: readonly CallName[] = CALL_NAME_LIST;

export interface EventPayloads {
  'connections.changed': ConnectionInfo[];
  'audit.appended': AuditRecord[];
  'status.changed': StatusInfo;
}
export type EventName = keyof EventPayloads;
export const EVENT_NAMES: readonly EventName[] = EVENT_NAME_LIST;

// Compile-time: channels.ts and this module name exactly the same calls and events, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _callsMatch: Same<CallName, CallNameLiteral> = true;
const _eventsMatch: Same<EventName, EventNameLiteral> = true;
void _callsMatch;
void _eventsMatch;

export function isCallName(s: string): s is CallName {
  return Object.prototype.hasOwnProperty.call(calls, s);
}

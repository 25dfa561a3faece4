import type { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { ConsoleError } from '../errors';
import { auditRecordAt } from '../audit';
import {
  ALGORITHMS,
  listenAddressSchema,
  REVOCATION_REASONS,
  type RevocationReason,
} from '../../shared/validation';
import type { DistributionUrls } from '../pki';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../shared/model';
import { gatewaySettingsSchema } from '../../shared/contract';

/**
 * Typed reads and writes of the state tables. Every row read is checked with zod: the database is a
 * file on disk like any other, and a row that does not fit is CORRUPT_STATE naming the table.
 */

const hex = z.string().regex(/^[0-9a-f]+$/);
const isoDate = z.string().datetime({ offset: true });

function parseRow<T extends z.ZodType>(table: string, schema: T, row: unknown): z.output<T> {
  const r = schema.safeParse(row);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ConsoleError(
    'CORRUPT_STATE',
    `state database table ${table} is corrupt (${issue?.path.join('.') || 'row'}: ${issue?.message ?? 'invalid'})`,
  );
}

const metaRow = z.object({
  algorithm: z.enum(ALGORITHMS),
  vault_backend: z.enum(['passphrase', 'safeStorage']),
  created_at: isoDate,
  ca_name: z.string(),
  server_hosts: z.string(),
  server_days: z.number().int().positive(),
});

export interface Meta {
  readonly algorithm: (typeof ALGORITHMS)[number];
  readonly vaultBackend: 'passphrase' | 'safeStorage';
  readonly createdAt: string;
  readonly caName: string;
  readonly serverHosts: string[];
  readonly serverDays: number;
}

export function readMeta(db: DatabaseSync): Meta {
  const row = parseRow('meta', metaRow, db.prepare('SELECT * FROM meta WHERE id = 1').get());
  const hosts = parseRow('meta', z.array(z.string()).min(1), JSON.parse(row.server_hosts));
  return {
    algorithm: row.algorithm,
    vaultBackend: row.vault_backend,
    createdAt: row.created_at,
    caName: row.ca_name,
    serverHosts: hosts,
    serverDays: row.server_days,
  };
}

export function insertMeta(db: DatabaseSync, meta: Meta): void {
  db.prepare(
    'INSERT INTO meta (id, algorithm, vault_backend, created_at, ca_name, server_hosts, server_days) VALUES (1, ?, ?, ?, ?, ?, ?)',
  ).run(
    meta.algorithm,
    meta.vaultBackend,
    meta.createdAt,
    meta.caName,
    JSON.stringify(meta.serverHosts),
    meta.serverDays,
  );
}

const caRow = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  cert_pem: z.string().includes('BEGIN CERTIFICATE'),
  sealed_key: z.instanceof(Uint8Array),
  created_at: isoDate,
  retired_at: isoDate.nullable(),
});

/** One of our CAs (schema v3): CA 1 is the one `init` made; a rollover adds the next. */
export interface CaRow {
  readonly id: number;
  readonly name: string;
  readonly certPem: string;
  readonly sealedKey: Buffer;
  readonly createdAt: string;
  /** Set when a rollover retired it: no longer trusted, signs nothing new. */
  readonly retiredAt: string | null;
}

function toCa(row: unknown): CaRow {
  const r = parseRow('cas', caRow, row);
  return {
    id: r.id,
    name: r.name,
    certPem: r.cert_pem,
    sealedKey: Buffer.from(r.sealed_key),
    createdAt: r.created_at,
    retiredAt: r.retired_at,
  };
}

/** Every CA, oldest first. */
export function readCas(db: DatabaseSync): CaRow[] {
  return db.prepare('SELECT * FROM cas ORDER BY id').all().map(toCa);
}

/** The CAs the gateway trusts and whose CRLs are kept fresh: all but the retired ones, oldest first. */
export function readActiveCas(db: DatabaseSync): CaRow[] {
  const list = db.prepare('SELECT * FROM cas WHERE retired_at IS NULL ORDER BY id').all().map(toCa);
  if (list.length === 0)
    throw new ConsoleError('CORRUPT_STATE', 'state database table cas holds no active CA');
  return list;
}

export function readCaById(db: DatabaseSync, id: number): CaRow {
  const row = db.prepare('SELECT * FROM cas WHERE id = ?').get(id);
  if (row === undefined) throw new ConsoleError('CORRUPT_STATE', `state database table cas has no CA ${id}`);
  return toCa(row);
}

/**
 * The issuing CA: the newest one not retired. Every new certificate, renewal and CRL of new
 * revocations comes from it; during a rollover that is the new CA.
 */
export function readCa(db: DatabaseSync): CaRow {
  const row = db.prepare('SELECT * FROM cas WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1').get();
  if (row === undefined)
    throw new ConsoleError('CORRUPT_STATE', 'state database table cas holds no active CA');
  return toCa(row);
}

/**
 * The CA whose key signs audit checkpoints: the first one, for the life of the log, so the chain
 * stays verifiable with one certificate across rollovers (audit/verify.ts takes one).
 */
export function readAuditCa(db: DatabaseSync): CaRow {
  const row = db.prepare('SELECT * FROM cas ORDER BY id LIMIT 1').get();
  if (row === undefined) throw new ConsoleError('CORRUPT_STATE', 'state database table cas holds no CA');
  return toCa(row);
}

/** Adds a CA; returns its id. */
export function insertCa(
  db: DatabaseSync,
  ca: {
    readonly name: string;
    readonly certPem: string;
    readonly sealedKey: Buffer;
    readonly createdAt: string;
  },
): number {
  const r = db
    .prepare('INSERT INTO cas (name, cert_pem, sealed_key, created_at) VALUES (?, ?, ?, ?)')
    .run(ca.name, ca.certPem, ca.sealedKey, ca.createdAt);
  return Number(r.lastInsertRowid);
}

const crossRow = z.object({
  subject_ca: z.number().int().positive(),
  issuer_ca: z.number().int().positive(),
  serial: hex,
  cert_pem: z.string().includes('BEGIN CERTIFICATE'),
  created_at: isoDate,
});

/** A CA certificate of `subjectCa` signed by `issuerCa`: what lets a verifier of one root accept the other. */
export interface CrossCertRow {
  readonly subjectCa: number;
  readonly issuerCa: number;
  readonly serial: string;
  readonly certPem: string;
  readonly createdAt: string;
}

export function readCrossCert(db: DatabaseSync, subjectCa: number, issuerCa: number): CrossCertRow | null {
  const row = db
    .prepare('SELECT * FROM ca_cross_certs WHERE subject_ca = ? AND issuer_ca = ?')
    .get(subjectCa, issuerCa);
  if (row === undefined) return null;
  const r = parseRow('ca_cross_certs', crossRow, row);
  return {
    subjectCa: r.subject_ca,
    issuerCa: r.issuer_ca,
    serial: r.serial,
    certPem: r.cert_pem,
    createdAt: r.created_at,
  };
}

export function insertCrossCert(db: DatabaseSync, c: CrossCertRow): void {
  db.prepare(
    'INSERT INTO ca_cross_certs (subject_ca, issuer_ca, serial, cert_pem, created_at) VALUES (?, ?, ?, ?, ?)',
  ).run(c.subjectCa, c.issuerCa, c.serial, c.certPem, c.createdAt);
}

const rolloverRow = z.object({
  id: z.number().int().positive(),
  old_ca: z.number().int().positive(),
  new_ca: z.number().int().positive(),
  started_at: isoDate,
  started_by: z.string(),
  servers_rolled_at: isoDate.nullable(),
  retired_at: isoDate.nullable(),
  retired_by: z.string().nullable(),
});

export interface RolloverRow {
  readonly id: number;
  readonly oldCa: number;
  readonly newCa: number;
  readonly startedAt: string;
  readonly startedBy: string;
  readonly serversRolledAt: string | null;
  /** Null while it runs: both roots are trusted until then. */
  readonly retiredAt: string | null;
  readonly retiredBy: string | null;
}

/** The latest rollover, running or done; null when the CA never rolled over. */
export function readLastRollover(db: DatabaseSync): RolloverRow | null {
  const row = db.prepare('SELECT * FROM ca_rollovers ORDER BY id DESC LIMIT 1').get();
  if (row === undefined) return null;
  const r = parseRow('ca_rollovers', rolloverRow, row);
  return {
    id: r.id,
    oldCa: r.old_ca,
    newCa: r.new_ca,
    startedAt: r.started_at,
    startedBy: r.started_by,
    serversRolledAt: r.servers_rolled_at,
    retiredAt: r.retired_at,
    retiredBy: r.retired_by,
  };
}

export function insertRollover(
  db: DatabaseSync,
  r: Pick<RolloverRow, 'oldCa' | 'newCa' | 'startedAt' | 'startedBy' | 'serversRolledAt'>,
): void {
  db.prepare(
    'INSERT INTO ca_rollovers (old_ca, new_ca, started_at, started_by, servers_rolled_at) VALUES (?, ?, ?, ?, ?)',
  ).run(r.oldCa, r.newCa, r.startedAt, r.startedBy, r.serversRolledAt);
}

/** Ends a rollover: its old CA is retired (no longer trusted, signs nothing). */
export function markRetired(
  db: DatabaseSync,
  rolloverId: number,
  oldCa: number,
  at: string,
  by: string,
): void {
  db.prepare('UPDATE ca_rollovers SET retired_at = ?, retired_by = ? WHERE id = ?').run(at, by, rolloverId);
  db.prepare('UPDATE cas SET retired_at = ? WHERE id = ?').run(at, oldCa);
}

/** Client certificates of one CA, newest state (revocations joined), for the rollover's count. */
export function readCertsOfCa(db: DatabaseSync, caId: number): CertRow[] {
  return db
    .prepare(`${CERT_SELECT} WHERE c.issuer_ca = ? ORDER BY c.issued_at, c.serial`)
    .all(caId)
    .map(toCert);
}

const serverRow = z.object({
  serial: hex,
  cert_pem: z.string().includes('BEGIN CERTIFICATE'),
  sealed_key: z.instanceof(Uint8Array),
  not_after: isoDate,
  issuer_ca: z.number().int().positive(),
});

export interface ServerRow {
  readonly serial: string;
  readonly certPem: string;
  readonly sealedKey: Buffer;
  readonly notAfter: string;
  /** The CA that signed it (schema v3). */
  readonly issuerCa: number;
}

export function readCurrentServer(db: DatabaseSync): ServerRow {
  const row = parseRow(
    'server_certs',
    serverRow,
    db
      .prepare(
        'SELECT serial, cert_pem, sealed_key, not_after, issuer_ca FROM server_certs WHERE current = 1',
      )
      .get(),
  );
  return {
    serial: row.serial,
    certPem: row.cert_pem,
    sealedKey: Buffer.from(row.sealed_key),
    notAfter: row.not_after,
    issuerCa: row.issuer_ca,
  };
}

/** The new server certificate becomes the current one; the old ones stay as history. */
export function insertServer(db: DatabaseSync, s: ServerRow, issuedAt: string): void {
  db.prepare('UPDATE server_certs SET current = 0 WHERE current = 1').run();
  db.prepare(
    'INSERT INTO server_certs (serial, cert_pem, sealed_key, not_after, issued_at, current, issuer_ca) VALUES (?, ?, ?, ?, ?, 1, ?)',
  ).run(s.serial, s.certPem, s.sealedKey, s.notAfter, issuedAt, s.issuerCa);
}

const certRow = z.object({
  serial: hex,
  name: z.string(),
  not_before: isoDate,
  not_after: isoDate,
  fingerprint_sha256: hex,
  issued_at: isoDate,
  audit_seq: z.number().int(),
  groups: z.string().nullable(),
  renewable: z.union([z.literal(0), z.literal(1)]),
  renew_until: isoDate.nullable(),
  supersedes: hex.nullable(),
  superseded_by: hex.nullable(),
  issuer_ca: z.number().int().positive(),
  revoked_at: isoDate.nullable(),
  reason: z.enum(REVOCATION_REASONS).nullable(),
});
const groupsJson = z.array(z.string());

export interface CertRow {
  readonly serial: string;
  readonly name: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprintSha256: string;
  readonly issuedAt: string;
  readonly auditSeq: number;
  /** Its OUs; null for a row from before schema v2 (its issuance record has them). */
  readonly groups: readonly string[] | null;
  /** The renewal policy set at issuance (issue 9). */
  readonly renewable: boolean;
  /** Where its renewal chain ends (first issuance + the maximum total lifetime); null before v2. */
  readonly renewUntil: string | null;
  /** The certificate this one renewed or re-issued. */
  readonly supersedes: string | null;
  /** The certificate that renewed or re-issued this one: it stays valid, but is not renewed again. */
  readonly supersededBy: string | null;
  /** The CA that signed it (schema v3; rows from before are CA 1's). */
  readonly issuerCa: number;
  readonly revocation: { readonly revokedAt: string; readonly reason: RevocationReason } | null;
}

const CERT_SELECT = `SELECT c.serial, c.name, c.not_before, c.not_after, c.fingerprint_sha256, c.issued_at,
  c.audit_seq, c.groups, c.renewable, c.renew_until, c.supersedes, c.superseded_by, c.issuer_ca, r.revoked_at,
  r.reason
  FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial`;

function toCert(row: unknown): CertRow {
  const r = parseRow('certificates', certRow, row);
  return {
    serial: r.serial,
    name: r.name,
    notBefore: r.not_before,
    notAfter: r.not_after,
    fingerprintSha256: r.fingerprint_sha256,
    issuedAt: r.issued_at,
    auditSeq: r.audit_seq,
    groups: r.groups === null ? null : parseRow('certificates', groupsJson, parseJson(r.groups)),
    renewable: r.renewable === 1,
    renewUntil: r.renew_until,
    supersedes: r.supersedes,
    supersededBy: r.superseded_by,
    issuerCa: r.issuer_ca,
    revocation: r.revoked_at && r.reason ? { revokedAt: r.revoked_at, reason: r.reason } : null,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // fails the schema, which names the table
  }
}

export function readCert(db: DatabaseSync, serial: string): CertRow | null {
  const row = db.prepare(`${CERT_SELECT} WHERE c.serial = ?`).get(serial);
  return row ? toCert(row) : null;
}

export function readCerts(db: DatabaseSync): CertRow[] {
  return db
    .prepare(`${CERT_SELECT} ORDER BY c.issued_at, c.serial`)
    .all()
    .map((row) => {
      const r = row as Record<string, unknown>;
      const revokedAt = r['revoked_at'] === null ? null : bulkIso('certificates', r, 'revoked_at');
      return {
        serial: bulkHex('certificates', r, 'serial'),
        name: bulkText('certificates', r, 'name'),
        notBefore: bulkIso('certificates', r, 'not_before'),
        notAfter: bulkIso('certificates', r, 'not_after'),
        fingerprintSha256: bulkHex('certificates', r, 'fingerprint_sha256'),
        issuedAt: bulkIso('certificates', r, 'issued_at'),
        auditSeq: bulkInt('certificates', r, 'audit_seq'),
        groups: r['groups'] === null ? null : bulkGroups('certificates', r, 'groups'),
        renewable: bulkFlag('certificates', r, 'renewable'),
        renewUntil: r['renew_until'] === null ? null : bulkIso('certificates', r, 'renew_until'),
        supersedes: r['supersedes'] === null ? null : bulkHex('certificates', r, 'supersedes'),
        supersededBy: r['superseded_by'] === null ? null : bulkHex('certificates', r, 'superseded_by'),
        issuerCa: bulkInt('certificates', r, 'issuer_ca'),
        revocation:
          revokedAt === null ? null : { revokedAt, reason: bulkReason('certificates', r, 'reason') },
      };
    });
}

/*
 * Whole-table reads (the CRL's revocations, the client list) check each column with the same rules as
 * the zod schemas above, by hand: a zod parse costs about 4 µs a row, 0.4 s for 100,000 revocations.
 */
const HEX_RE = /^[0-9a-f]+$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const REASONS: ReadonlySet<string> = new Set(REVOCATION_REASONS);

function corruptColumn(table: string, column: string): ConsoleError {
  return new ConsoleError(
    'CORRUPT_STATE',
    `state database table ${table} is corrupt (${column}: invalid value)`,
  );
}
function bulkText(table: string, r: Record<string, unknown>, column: string): string {
  const v = r[column];
  if (typeof v !== 'string') throw corruptColumn(table, column);
  return v;
}
function bulkHex(table: string, r: Record<string, unknown>, column: string): string {
  const v = bulkText(table, r, column);
  if (!HEX_RE.test(v)) throw corruptColumn(table, column);
  return v;
}
function bulkIso(table: string, r: Record<string, unknown>, column: string): string {
  const v = bulkText(table, r, column);
  if (!ISO_RE.test(v) || Number.isNaN(Date.parse(v))) throw corruptColumn(table, column);
  return v;
}
function bulkInt(table: string, r: Record<string, unknown>, column: string): number {
  const v = r[column];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw corruptColumn(table, column);
  return v;
}
function bulkFlag(table: string, r: Record<string, unknown>, column: string): boolean {
  const v = r[column];
  if (v !== 0 && v !== 1) throw corruptColumn(table, column);
  return v === 1;
}
function bulkGroups(table: string, r: Record<string, unknown>, column: string): string[] {
  const v = parseJson(bulkText(table, r, column));
  if (!Array.isArray(v) || !v.every((g) => typeof g === 'string')) throw corruptColumn(table, column);
  return v as string[];
}
function bulkReason(table: string, r: Record<string, unknown>, column: string): RevocationReason {
  const v = bulkText(table, r, column);
  if (!REASONS.has(v)) throw corruptColumn(table, column);
  return v as RevocationReason;
}

export function insertCert(
  db: DatabaseSync,
  c: Omit<CertRow, 'revocation' | 'supersededBy' | 'groups'> & {
    readonly groups: readonly string[];
    readonly certPem: string;
  },
): void {
  db.prepare(
    `INSERT INTO certificates (serial, name, not_before, not_after, fingerprint_sha256, issued_at, audit_seq,
       cert_pem, groups, renewable, renew_until, supersedes, issuer_ca) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    c.serial,
    c.name,
    c.notBefore,
    c.notAfter,
    c.fingerprintSha256,
    c.issuedAt,
    c.auditSeq,
    c.certPem,
    JSON.stringify(c.groups),
    c.renewable ? 1 : 0,
    c.renewUntil,
    c.supersedes,
    c.issuerCa,
  );
}

/** The certificate as issued; null for a row from before schema v2, which did not keep it. */
export function readCertPem(db: DatabaseSync, serial: string): string | null {
  const row = db.prepare('SELECT cert_pem FROM certificates WHERE serial = ?').get(serial) as
    { cert_pem?: unknown } | undefined;
  const pem = row?.cert_pem;
  if (pem === undefined || pem === null) return null;
  if (typeof pem !== 'string' || !pem.includes('BEGIN CERTIFICATE')) {
    throw corruptColumn('certificates', 'cert_pem');
  }
  return pem;
}

/** Marks `serial` as renewed or re-issued by `by` (in the caller's transaction). */
export function markSuperseded(db: DatabaseSync, serial: string, by: string): void {
  db.prepare('UPDATE certificates SET superseded_by = ? WHERE serial = ?').run(by, serial);
}

/**
 * A certificate's groups. A row from before schema v2 has them only in its issuance record; when
 * that record was archived they are unknown, and none is the safe answer (rules only allow).
 */
export function groupsOf(db: DatabaseSync, cert: CertRow): readonly string[] {
  if (cert.groups !== null) return cert.groups;
  const record = auditRecordAt(db, cert.auditSeq);
  if (record?.type !== 'client.issued' || record.serial !== cert.serial) return [];
  const groups = groupsJson.safeParse(record.details['groups']);
  return groups.success ? groups.data : [];
}

/** The certificates of a name, oldest first (re-issue looks for the ones it replaces). */
export function readCertsNamed(db: DatabaseSync, name: string): CertRow[] {
  return db.prepare(`${CERT_SELECT} WHERE c.name = ? ORDER BY c.issued_at, c.serial`).all(name).map(toCert);
}

/** What an OCSP answer needs to know about a serial: one of our clients (and its revocation), our server, or neither. */
export type SerialStatus =
  | { readonly kind: 'client'; readonly issuerCa: number; readonly revocation: CertRow['revocation'] }
  | { readonly kind: 'server'; readonly issuerCa: number }
  | null;

/** Primary-key lookups only, so it is cheap enough to run for every OCSP request (issue 9). */
export function readSerialStatus(db: DatabaseSync, serial: string): SerialStatus {
  const cert = readCert(db, serial);
  if (cert) return { kind: 'client', issuerCa: cert.issuerCa, revocation: cert.revocation };
  const server = db.prepare('SELECT issuer_ca FROM server_certs WHERE serial = ?').get(serial) as
    { issuer_ca?: unknown } | undefined;
  if (server === undefined) return null;
  if (typeof server.issuer_ca !== 'number') throw corruptColumn('server_certs', 'issuer_ca');
  return { kind: 'server', issuerCa: server.issuer_ca };
}

export function certExists(db: DatabaseSync, serial: string): boolean {
  return db.prepare('SELECT 1 FROM certificates WHERE serial = ?').get(serial) !== undefined;
}

/** Keyed by issuer and serial: the issuer is the certificate's own (schema v3). */
export function insertRevocation(
  db: DatabaseSync,
  r: { serial: string; revokedAt: string; reason: RevocationReason; auditSeq: number },
): void {
  db.prepare(
    `INSERT INTO revocations (serial, revoked_at, reason, audit_seq, issuer_ca)
     VALUES (?, ?, ?, ?, (SELECT issuer_ca FROM certificates WHERE serial = ?))`,
  ).run(r.serial, r.revokedAt, r.reason, r.auditSeq, r.serial);
}

/** The revocations of one CA's certificates: what its CRL lists. */
export function readRevocations(
  db: DatabaseSync,
  issuerCa: number,
): { serial: string; revokedAt: string; reason: RevocationReason }[] {
  // In the order they were made (rowid): a CRL's entries need no other order, and no sort is paid.
  return db
    .prepare('SELECT serial, revoked_at, reason FROM revocations WHERE issuer_ca = ? ORDER BY rowid')
    .all(issuerCa)
    .map((row) => {
      const r = row as Record<string, unknown>;
      return {
        serial: bulkHex('revocations', r, 'serial'),
        revokedAt: bulkIso('revocations', r, 'revoked_at'),
        reason: bulkReason('revocations', r, 'reason'),
      };
    });
}

export function revokedSerials(db: DatabaseSync): string[] {
  return db
    .prepare('SELECT serial FROM revocations')
    .all()
    .map((row) => bulkHex('revocations', row as Record<string, unknown>, 'serial'));
}

/** A cheap fingerprint of the revocation set, to notice changes made by other processes. */
export function revocationStamp(db: DatabaseSync): string {
  const row = db.prepare('SELECT count(*) AS n, max(rowid) AS m FROM revocations').get() as
    { n: number; m: number | null } | undefined;
  return `${row?.n ?? 0}:${row?.m ?? 0}`;
}

const crlRow = z.object({
  number: z.number().int().positive(),
  this_update: isoDate,
  next_update: isoDate,
  entries: z.number().int().nonnegative(),
  der: z.instanceof(Uint8Array),
});

export interface CrlRow {
  readonly number: number;
  readonly thisUpdate: string;
  readonly nextUpdate: string;
  readonly entries: number;
  readonly der: Buffer;
}

/** A CA's CRL; without `caId`, the issuing CA's (what `/crl` and crl.pem have always been). */
export function readCrl(db: DatabaseSync, caId?: number): CrlRow {
  const id = caId ?? readCa(db).id;
  const row = parseRow('ca_crls', crlRow, db.prepare('SELECT * FROM ca_crls WHERE ca_id = ?').get(id));
  return {
    number: row.number,
    thisUpdate: row.this_update,
    nextUpdate: row.next_update,
    entries: row.entries,
    der: Buffer.from(row.der),
  };
}

export function hasCrl(db: DatabaseSync, caId: number): boolean {
  return db.prepare('SELECT 1 FROM ca_crls WHERE ca_id = ?').get(caId) !== undefined;
}

export function readCrlNumber(db: DatabaseSync, caId: number): number {
  const row = db.prepare('SELECT number FROM ca_crls WHERE ca_id = ?').get(caId) as
    { number?: unknown } | undefined;
  return typeof row?.number === 'number' ? row.number : 0;
}

export function writeCrl(db: DatabaseSync, caId: number, c: CrlRow): void {
  db.prepare(
    `INSERT INTO ca_crls (ca_id, number, this_update, next_update, entries, der) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (ca_id) DO UPDATE SET number = excluded.number, this_update = excluded.this_update,
       next_update = excluded.next_update, entries = excluded.entries, der = excluded.der`,
  ).run(caId, c.number, c.thisUpdate, c.nextUpdate, c.entries, c.der);
}

export function readSetting(db: DatabaseSync, key: string): unknown {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
    { value?: unknown } | undefined;
  if (row === undefined || typeof row.value !== 'string') return undefined;
  try {
    return JSON.parse(row.value);
  } catch {
    throw new ConsoleError('CORRUPT_STATE', `state database setting ${key} is not valid JSON`);
  }
}

export function writeSetting(db: DatabaseSync, key: string, value: unknown): void {
  db.prepare(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ).run(key, JSON.stringify(value));
}

export function readGatewayConfig(db: DatabaseSync): GatewayConfig {
  const stored = readSetting(db, 'gateway');
  if (stored === undefined) return DEFAULT_GATEWAY_CONFIG;
  return { ...DEFAULT_GATEWAY_CONFIG, ...parseRow('settings', gatewaySettingsSchema.partial(), stored) };
}

export const auditSettingsSchema = z
  .object({
    /** Records older than this many days move to an archive; 0 keeps everything in the database. */
    retentionDays: z.number().int().min(0).max(3650),
    /** Fail-open: keep proxying when gateway records cannot be written (they stay queued in memory). */
    failOpen: z.boolean(),
  })
  .strict();
export type AuditSettings = z.infer<typeof auditSettingsSchema>;
export const DEFAULT_AUDIT_SETTINGS: AuditSettings = { retentionDays: 30, failOpen: false };

export function readAuditSettings(db: DatabaseSync): AuditSettings {
  const stored = readSetting(db, 'audit');
  if (stored === undefined) return DEFAULT_AUDIT_SETTINGS;
  return { ...DEFAULT_AUDIT_SETTINGS, ...parseRow('settings', auditSettingsSchema.partial(), stored) };
}

/** The listener's address when the operator names a distribution URL but no address: loopback, as the gateway's. */
export const DEFAULT_DISTRIBUTION_LISTEN = '127.0.0.1:19822';

/**
 * The base URL written into issued certificates: `<url>/crl` and `<url>/ocsp`. Plain http, as RFC 5280
 * §4.2.1.13 and RFC 6960 Appendix A expect (and nginx's ssl_ocsp only speaks http); normalised to
 * ASCII without a trailing slash, so it goes into an IA5String as is.
 */
export const distributionUrlSchema = z
  .string()
  .max(200, 'distribution URL: at most 200 characters')
  .transform((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text.trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a URL (e.g. http://127.0.0.1:19822)` });
      return z.NEVER;
    }
    if (url.protocol !== 'http:') {
      ctx.addIssue({
        code: 'custom',
        message: 'the distribution URL must be http:// (CRL and OCSP clients fetch over plain HTTP)',
      });
      return z.NEVER;
    }
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
      ctx.addIssue({ code: 'custom', message: 'the distribution URL takes no user, query or fragment' });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, '');
  });

export const distributionSettingsSchema = z
  .object({
    /** Base URL named in newly issued certificates; null: none. */
    url: distributionUrlSchema.nullable(),
    /** Where this console's plain-HTTP listener serves the CRL and OCSP, beside the gateway; null: not at all. */
    listen: listenAddressSchema.nullable(),
  })
  .strict();
export type DistributionSettings = z.infer<typeof distributionSettingsSchema>;
export const DEFAULT_DISTRIBUTION_SETTINGS: DistributionSettings = { url: null, listen: null };

export function readDistributionSettings(db: DatabaseSync): DistributionSettings {
  const stored = readSetting(db, 'distribution');
  if (stored === undefined) return DEFAULT_DISTRIBUTION_SETTINGS;
  return {
    ...DEFAULT_DISTRIBUTION_SETTINGS,
    ...parseRow('settings', distributionSettingsSchema.partial(), stored),
  };
}

/**
 * The URLs a certificate names, when the operator set a base URL. CA 1's certificates name `/crl`
 * (as before rollovers existed); a later CA's name its own, `/crl/<id>`, which stays right after
 * `/crl` moves on to the next CA. One OCSP URL answers for every CA (by the request's issuer hash).
 */
export function distributionUrls(settings: DistributionSettings, caId = 1): DistributionUrls | undefined {
  if (settings.url === null) return undefined;
  return {
    crl: caId === 1 ? `${settings.url}/crl` : `${settings.url}/crl/${caId}`,
    ocsp: `${settings.url}/ocsp`,
  };
}

const pendingRow = z.object({
  serial: hex,
  files: z.string(),
  owner: z.string(),
  created_at: isoDate,
  committed: z.number().int(),
});
const pendingFiles = z.array(z.object({ staged: z.string(), final: z.string(), sha256: hex }));
const ownerSchema = z.object({
  pid: z.number().int(),
  hostname: z.string(),
  startTime: z.string().optional(),
});

export interface PendingBundle {
  readonly serial: string;
  readonly files: z.infer<typeof pendingFiles>;
  readonly owner: z.infer<typeof ownerSchema>;
  readonly createdAt: string;
  /** Whether its certificate was committed; before that, only staged files can exist. */
  readonly committed: boolean;
}

export function readPendingBundles(db: DatabaseSync): PendingBundle[] {
  return db
    .prepare('SELECT serial, files, owner, created_at, committed FROM pending_bundles')
    .all()
    .map((row) => {
      const r = parseRow('pending_bundles', pendingRow, row);
      return {
        serial: r.serial,
        files: parseRow('pending_bundles', pendingFiles, JSON.parse(r.files)),
        owner: parseRow('pending_bundles', ownerSchema, JSON.parse(r.owner)),
        createdAt: r.created_at,
        committed: r.committed === 1,
      };
    });
}

export function insertPendingBundle(db: DatabaseSync, p: Omit<PendingBundle, 'committed'>): void {
  db.prepare(
    'INSERT INTO pending_bundles (serial, files, owner, created_at, committed) VALUES (?, ?, ?, ?, 0)',
  ).run(p.serial, JSON.stringify(p.files), JSON.stringify(p.owner), p.createdAt);
}

export function markPendingCommitted(db: DatabaseSync, serial: string): void {
  db.prepare('UPDATE pending_bundles SET committed = 1 WHERE serial = ?').run(serial);
}

export function deletePendingBundle(db: DatabaseSync, serial: string): void {
  db.prepare('DELETE FROM pending_bundles WHERE serial = ?').run(serial);
}

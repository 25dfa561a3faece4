import { auditFilterSchema } from '../../../shared/contract';
import type { AuditActor, AuditFilter, AuditRecord } from '../../../shared/model';

/**
 * The Audit toolbar's fields as typed; empty strings mean "any". Times are epoch ms, or null for
 * open-ended. `parseDraft` turns this into the `AuditFilter` main filters by.
 */
export interface AuditFilterDraft {
  readonly type: string;
  readonly cn: string;
  readonly serial: string;
  readonly actor: string;
  readonly text: string;
  readonly from: number | null;
  readonly to: number | null;
}

export const EMPTY_AUDIT_DRAFT: AuditFilterDraft = {
  type: '',
  cn: '',
  serial: '',
  actor: '',
  text: '',
  from: null,
  to: null,
};

export type DraftField = keyof AuditFilterDraft;

export type ParsedDraft =
  | { readonly ok: true; readonly filter: AuditFilter }
  | { readonly ok: false; readonly field: DraftField; readonly message: string };

const DRAFT_FIELDS: readonly DraftField[] = ['type', 'cn', 'serial', 'actor', 'text', 'from', 'to'];

function isDraftField(k: unknown): k is DraftField {
  return typeof k === 'string' && (DRAFT_FIELDS as readonly string[]).includes(k);
}

/**
 * Validates and normalizes the toolbar with main's own schema, so the renderer queries (and matches
 * live records) with exactly the filter main will apply: trimmed, serial as bare lowercase hex.
 */
export function parseDraft(d: AuditFilterDraft): ParsedDraft {
  const text = (s: string) => (s.trim() === '' ? undefined : s.trim());
  if (d.from !== null && d.to !== null && d.from > d.to)
    return { ok: false, field: 'to', message: '“To” is before “From”' };
  const r = auditFilterSchema.safeParse({
    type: text(d.type),
    cn: text(d.cn),
    serial: text(d.serial),
    actor: text(d.actor),
    text: text(d.text),
    from: d.from === null ? undefined : new Date(d.from).toISOString(),
    to: d.to === null ? undefined : new Date(d.to).toISOString(),
  });
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path[0];
    return {
      ok: false,
      field: isDraftField(field) ? field : 'text',
      message: issue?.message ?? 'invalid filter',
    };
  }
  // Drop the keys zod left as undefined so an empty filter is `{}` and keys compare cleanly.
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.data)) if (typeof v === 'string') out[k] = v;
  return { ok: true, filter: out as AuditFilter };
}

export function isEmptyFilter(f: AuditFilter): boolean {
  return Object.keys(f).length === 0;
}

export function isEmptyDraft(d: AuditFilterDraft): boolean {
  return (
    d.type.trim() === '' &&
    d.cn.trim() === '' &&
    d.serial.trim() === '' &&
    d.actor.trim() === '' &&
    d.text.trim() === '' &&
    d.from === null &&
    d.to === null
  );
}

/** A stable identity for a normalized filter (same fields, same key). */
export function filterKey(f: AuditFilter): string {
  return JSON.stringify(DRAFT_FIELDS.map((k) => f[k] ?? null));
}

/** Who acted: the operator's name, `system`, or a client's CN (the `actor` filter matches operators). */
export function actorName(actor: AuditActor): string {
  switch (actor.kind) {
    case 'operator':
      return actor.name;
    case 'client':
      return actor.cn;
    case 'system':
      return 'system';
    default: {
      const never: never = actor;
      return String(never);
    }
  }
}

export function actorLabel(actor: AuditActor): string {
  return actor.kind === 'operator' ? `operator:${actor.name}` : actorName(actor);
}

/**
 * Whether a live record matches a filter, by main's rules (src/main/audit/query.ts): type is a
 * prefix by characters, case-sensitive; CN equal ignoring ASCII case; serial equal; actor equal
 * (`system` names system records); from/to inclusive instants; text a substring, ASCII case
 * ignored, of type, actor, CN, serial and the details' JSON. `unsure` where SQLite's case folding
 * could differ from ours (text beyond ASCII): the caller re-queries instead of guessing.
 */
export type LiveMatch = 'yes' | 'no' | 'unsure';

const NON_ASCII = /[\u{80}-\u{10FFFF}]/u;

/** SQLite's NOCASE and LIKE fold A-Z only. */
function foldAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function sameIgnoringAsciiCase(value: string | null, wanted: string): LiveMatch {
  if (value === null) return 'no';
  if (foldAscii(value) === foldAscii(wanted)) return 'yes';
  return NON_ASCII.test(value) || NON_ASCII.test(wanted) ? 'unsure' : 'no';
}

/** The `actor` column main stores and searches: operator name, client CN, '' for system. */
function actorColumn(actor: AuditActor): string {
  return actor.kind === 'system' ? '' : actorName(actor);
}

function textMatch(r: AuditRecord, text: string): LiveMatch {
  const haystack = [r.type, actorColumn(r.actor), r.cn ?? '', r.serial ?? '', JSON.stringify(r.details)].join(
    '\n',
  );
  if (foldAscii(haystack).includes(foldAscii(text))) return 'yes';
  return NON_ASCII.test(text) ? 'unsure' : 'no';
}

function normSerial(s: string): string {
  return s.replace(/:/g, '').toLowerCase();
}

export function matchLive(f: AuditFilter, r: AuditRecord): LiveMatch {
  const checks: (() => LiveMatch)[] = [];
  const { type, cn, serial, actor, from, to, text } = f;
  if (type !== undefined) checks.push(() => (r.type.startsWith(type) ? 'yes' : 'no'));
  if (cn !== undefined) checks.push(() => sameIgnoringAsciiCase(r.cn, cn));
  if (serial !== undefined)
    checks.push(() =>
      (r.serial !== null && normSerial(r.serial) === serial) ||
      // A renewal is about its successor and names the renewed certificate (main's serialPlan).
      (r.type === 'client.renewed' && r.details['renewedFrom'] === serial)
        ? 'yes'
        : 'no',
    );
  if (actor !== undefined) {
    checks.push(() => {
      if (actor === 'system') return r.actor.kind === 'system' ? 'yes' : 'no';
      // Main matches operators by name; a client is found by its CN filter instead.
      return r.actor.kind === 'operator' && r.actor.name === actor ? 'yes' : 'no';
    });
  }
  if (from !== undefined || to !== undefined) {
    checks.push(() => {
      const t = Date.parse(r.time);
      if (Number.isNaN(t)) return 'unsure';
      if (from !== undefined && t < Date.parse(from)) return 'no';
      if (to !== undefined && t > Date.parse(to)) return 'no';
      return 'yes';
    });
  }
  if (text !== undefined) checks.push(() => textMatch(r, text));
  let result: LiveMatch = 'yes';
  for (const check of checks) {
    const m = check();
    if (m === 'no') return 'no';
    if (m === 'unsure') result = 'unsure';
  }
  return result;
}

/** Record types the console and gateway write (DESIGN.md §9), suggested in the type filter. */
export const KNOWN_AUDIT_TYPES: readonly string[] = [
  'ca.initialized',
  'server.issued',
  'server.rotated',
  'server.renewal.failed',
  'client.issued',
  'client.renewed',
  'client.revoked',
  'crl.published',
  'settings.gateway.changed',
  'settings.audit.changed',
  'settings.app.changed',
  'vault.unlocked',
  'vault.unlock.failed',
  'vault.locked',
  'audit.checkpoint',
  'audit.archived',
  'audit.exported',
  'gateway.started',
  'gateway.stopped',
  'gateway.crashed',
  'gateway.connection',
  'gateway.connection.accepted',
  'gateway.connection.refused',
  'gateway.connection.refused.suppressed',
  'gateway.connection.closed',
  'gateway.request',
  'gateway.request.held',
  'gateway.request.refused',
  'gateway.request.dropped',
  'gateway.upstream.error',
];

/** Known types plus any others seen on screen, sorted, for the type filter's suggestions. */
export function typeSuggestions(records: readonly AuditRecord[]): string[] {
  const seen = new Set<string>(KNOWN_AUDIT_TYPES);
  for (const r of records) seen.add(r.type);
  return [...seen].sort();
}

/** Operator names seen on screen, for the actor filter's suggestions. */
export function actorSuggestions(records: readonly AuditRecord[]): string[] {
  const seen = new Set<string>(['system']);
  for (const r of records) if (r.actor.kind === 'operator') seen.add(r.actor.name);
  return [...seen].sort();
}

/** One-line summary of a record's details for the list. */
export function detailsSummary(details: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(details)) {
    if (v === undefined || v === null) continue;
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    parts.push(`${k}=${s.length > 60 ? `${s.slice(0, 57)}…` : s}`);
    if (parts.length >= 6) break;
  }
  return parts.join('  ');
}

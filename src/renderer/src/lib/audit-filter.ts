import type { AuditActor, AuditRecord } from '../../../shared/model';

/** The Audit panel's filters; empty strings mean "any". Times are epoch ms, or null for open-ended. */
export interface AuditFilter {
  readonly type: string;
  readonly cn: string;
  readonly serial: string;
  readonly from: number | null;
  readonly to: number | null;
}

export const EMPTY_AUDIT_FILTER: AuditFilter = { type: '', cn: '', serial: '', from: null, to: null };

export function isEmptyFilter(f: AuditFilter): boolean {
  return f.type === '' && f.cn === '' && f.serial === '' && f.from === null && f.to === null;
}

/** CN and serial of a gateway record's client, or of the details of a console record (issue, revoke…). */
export function actorCn(actor: AuditActor): string {
  return actor.kind === 'client' ? actor.cn : '';
}
export function actorSerial(actor: AuditActor): string {
  return actor.kind === 'client' ? actor.serial : '';
}
export function actorLabel(actor: AuditActor): string {
  switch (actor.kind) {
    case 'client':
      return actor.cn;
    case 'operator':
      return `operator:${actor.name}`;
    case 'system':
      return 'system';
    default: {
      const never: never = actor;
      return String(never);
    }
  }
}

function normSerial(s: string): string {
  return s.trim().replace(/:/g, '').toLowerCase();
}

/**
 * Returns a predicate for the filter. Type matches as a case-insensitive substring (so
 * `gateway.connection` finds accepted, refused and closed); CN as a substring; serial as a hex prefix
 * (colons ignored); the time range is inclusive.
 */
export function auditPredicate(f: AuditFilter): (r: AuditRecord) => boolean {
  const type = f.type.trim().toLowerCase();
  const cn = f.cn.trim().toLowerCase();
  const serial = normSerial(f.serial);
  const { from, to } = f;
  return (r) => {
    if (type !== '' && !r.type.toLowerCase().includes(type)) return false;
    if (cn !== '' && !actorCn(r.actor).toLowerCase().includes(cn)) return false;
    if (serial !== '' && !actorSerial(r.actor).toLowerCase().startsWith(serial)) return false;
    if (from !== null || to !== null) {
      const t = Date.parse(r.time);
      if (from !== null && t < from) return false;
      if (to !== null && t > to) return false;
    }
    return true;
  };
}

/** Filters without copying when no filter is set (100k records stay one array). */
export function filterAudit(records: readonly AuditRecord[], f: AuditFilter): readonly AuditRecord[] {
  if (isEmptyFilter(f)) return records;
  return records.filter(auditPredicate(f));
}

/** Distinct record types, sorted, for the type filter's suggestions. */
export function distinctTypes(records: readonly AuditRecord[]): string[] {
  const seen = new Set<string>();
  for (const r of records) seen.add(r.type);
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

/**
 * Merges newly appended records into the loaded list, keeping seq order and dropping any already held
 * (an `audit.appended` event can race the initial `audit.query`).
 */
export function mergeAudit(
  current: readonly AuditRecord[],
  incoming: readonly AuditRecord[],
): AuditRecord[] | null {
  const last = current.length > 0 ? (current[current.length - 1] as AuditRecord).seq : -Infinity;
  const fresh = incoming.filter((r) => r.seq > last);
  if (fresh.length === 0) return null;
  fresh.sort((a, b) => a.seq - b.seq);
  return current.concat(fresh);
}

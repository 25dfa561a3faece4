import type { AuditRecord } from '../../shared/model';

export function auditToJsonl(records: readonly AuditRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}

const CSV_COLUMNS = ['seq', 'time', 'type', 'actor', 'cn', 'serial', 'details', 'prev'] as const;

/** RFC 4180 quoting; a leading = + - @ is defused so a spreadsheet never evaluates a field (CSV injection). */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditToCsv(records: readonly AuditRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const actor = r.actor.kind === 'operator' ? r.actor.name : r.actor.kind;
    const cn = r.actor.kind === 'client' ? r.actor.cn : '';
    const serial = r.actor.kind === 'client' ? r.actor.serial : '';
    lines.push(
      [String(r.seq), r.time, r.type, actor, cn, serial, JSON.stringify(r.details), r.prev]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

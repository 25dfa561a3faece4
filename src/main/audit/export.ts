import type { DatabaseSync } from 'node:sqlite';
import type { AuditFilter } from '../../shared/model';
import { writeFileAtomically, yieldToEventLoop } from './files';
import { planQuery } from './query';
import { recordLine, type AuditRow } from './record';

const CHUNK = 1000;

export type AuditExportFormat = 'jsonl' | 'csv';

const CSV_COLUMNS = ['seq', 'time', 'type', 'actor', 'cn', 'serial', 'details', 'prev', 'hash'] as const;

/** RFC 4180 quoting; a leading = + - @ tab or CR is defused so a spreadsheet never evaluates a field (CSV injection). */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;

/** The actor as the filter names it: the operator's name, the client's CN, or `system`. */
function actorCell(r: AuditRow): string {
  return r.actor_kind === 'system' ? 'system' : r.actor;
}

export function csvRow(r: AuditRow): string {
  return (
    [String(r.seq), r.time, r.type, actorCell(r), r.cn ?? '', r.serial ?? '', r.details, r.prev, r.hash]
      .map(csvField)
      .join(',') + '\r\n'
  );
}

/** JSON Lines export: each record's line byte for byte, so `sha256(line)` is its hash. */
export function jsonlRow(r: AuditRow): string {
  return `${recordLine(r)}\n`;
}

async function* exportChunks(
  db: DatabaseSync,
  filter: AuditFilter,
  format: AuditExportFormat,
  counter: { n: number },
) {
  if (format === 'csv') yield CSV_HEADER;
  const plan = planQuery(db, filter);
  const toText = format === 'csv' ? csvRow : jsonlRow;
  let cursor: number | null = null;
  for (;;) {
    const batch = plan.rows(cursor, CHUNK, 'asc');
    if (batch.length === 0) return;
    counter.n += batch.length;
    cursor = (batch[batch.length - 1] as AuditRow).seq;
    yield batch.map(toText).join('');
    await yieldToEventLoop();
  }
}

/**
 * Streams the filtered records, oldest first, to `outFile` (0600, replaced atomically). Reads in keyset
 * chunks without a transaction, so a long export never blocks writers; records appended meanwhile may
 * or may not be included. Throws INVALID_INPUT for a bad filter, IO when the file cannot be written.
 */
export async function exportAudit(
  db: DatabaseSync,
  filter: AuditFilter,
  format: AuditExportFormat,
  outFile: string,
): Promise<{ records: number }> {
  const counter = { n: 0 };
  await writeFileAtomically(outFile, exportChunks(db, filter, format, counter), { overwrite: true });
  return { records: counter.n };
}

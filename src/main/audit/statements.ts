import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { ConsoleError } from '../errors';
import { CHECKPOINT_TYPE, ROW_COLUMNS, ZERO_HASH, type AuditRow } from './record';

/** Prepared statements per connection: a gateway appends in batches of thousands, many times a second. */
const cache = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

export function stmt(db: DatabaseSync, sql: string): StatementSync {
  let m = cache.get(db);
  if (!m) cache.set(db, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = db.prepare(sql)));
  return s;
}

/** The schema fixes the column types; a row an attacker stored as a blob only fails its hash check. */
export function rows(db: DatabaseSync, sql: string, ...params: SQLInputValue[]): AuditRow[] {
  return stmt(db, sql).all(...params) as unknown as AuditRow[];
}

export function row(db: DatabaseSync, sql: string, ...params: SQLInputValue[]): AuditRow | null {
  return (stmt(db, sql).get(...params) as unknown as AuditRow | undefined) ?? null;
}

export const SQL = {
  insert: `INSERT INTO audit (${ROW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
  range: `SELECT ${ROW_COLUMNS} FROM audit WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`,
  at: `SELECT ${ROW_COLUMNS} FROM audit WHERE seq = ?`,
  /** What the chain needs of a row whose hash this process remembers (see own-hashes.ts). */
  links: 'SELECT seq, prev, type, hash FROM audit WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?',
  after: `SELECT ${ROW_COLUMNS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`,
  lastOfType: `SELECT ${ROW_COLUMNS} FROM audit INDEXED BY audit_type WHERE type = ? ORDER BY seq DESC LIMIT 1`,
  countType:
    'INSERT INTO audit_type_count (type, n) VALUES (?, ?) ON CONFLICT (type) DO UPDATE SET n = n + excluded.n',
  /** Before a prefix is archived: its records leave the per-type counts. */
  uncountPrefix: `UPDATE audit_type_count SET n = n - (SELECT count(*) FROM audit a
    WHERE a.seq <= ? AND a.type = audit_type_count.type)`,
} as const;

export interface Head {
  readonly seq: number;
  readonly hash: string;
}

export interface Anchor {
  readonly seq: number;
  readonly prev: string;
  readonly archivedAt: string;
  readonly sig: string;
}

export function readAnchor(db: DatabaseSync): Anchor | null {
  const r = stmt(db, 'SELECT seq, prev, archived_at, sig FROM audit_anchor WHERE id = 1').get() as
    { seq: number; prev: string; archived_at: string; sig: string } | undefined;
  return r ? { seq: r.seq, prev: r.prev, archivedAt: r.archived_at, sig: r.sig } : null;
}

export function writeAnchor(db: DatabaseSync, a: Anchor): void {
  stmt(
    db,
    'INSERT INTO audit_anchor (id, seq, prev, archived_at, sig) VALUES (1, ?, ?, ?, ?) ' +
      'ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, prev = excluded.prev, ' +
      'archived_at = excluded.archived_at, sig = excluded.sig',
  ).run(a.seq, a.prev, a.archivedAt, a.sig);
}

/** Where the chain starts in this database: after the archived prefix, or at seq 1. */
export function chainStart(anchor: Anchor | null): Head {
  return anchor ? { seq: anchor.seq, hash: anchor.prev } : { seq: 1, hash: ZERO_HASH };
}

/** The stored head, or null when the table has none (a fresh log, or a deleted head). */
export function readHeadRow(db: DatabaseSync): Head | null {
  const r = stmt(db, 'SELECT seq, hash FROM audit_head WHERE id = 1').get() as Head | undefined;
  return r ? { seq: r.seq, hash: r.hash } : null;
}

/**
 * Where the next append continues. A missing head on a log that has records is refused: starting over
 * from the rows would let someone erase a cut tail by deleting the head too.
 */
export function readHead(db: DatabaseSync): Head {
  const head = readHeadRow(db);
  if (head) return head;
  const anchor = readAnchor(db);
  if (anchor || stmt(db, 'SELECT 1 AS one FROM audit LIMIT 1').get()) {
    throw new ConsoleError(
      'CORRUPT_STATE',
      'the audit head is missing while the audit log has records; run the audit chain check',
    );
  }
  return { seq: 0, hash: ZERO_HASH };
}

export function writeHead(db: DatabaseSync, h: Head): void {
  stmt(
    db,
    'INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ' +
      'ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
  ).run(h.seq, h.hash);
}

export function lastCheckpointRow(db: DatabaseSync): AuditRow | null {
  return row(db, SQL.lastOfType, CHECKPOINT_TYPE);
}

/** Rows of `sql` (params from, to, limit) in seq order, a chunk at a time. */
function* chunked<T extends { seq: number }>(
  db: DatabaseSync,
  sql: string,
  from: number,
  to: number,
  chunk: number,
): Generator<T[]> {
  let next = from;
  while (next <= to) {
    const batch = stmt(db, sql).all(next, to, chunk) as unknown as T[];
    if (batch.length === 0) return;
    yield batch;
    next = (batch[batch.length - 1] as T).seq + 1;
  }
}

/** Yields rows from..to (inclusive) in chunks, oldest first. */
export function chunksFrom(db: DatabaseSync, from: number, to: number, chunk: number): Generator<AuditRow[]> {
  return chunked<AuditRow>(db, SQL.range, from, to, chunk);
}

/** seq, prev, type and stored hash of each row in [from, to], in chunks (no record text). */
export function linksFrom(
  db: DatabaseSync,
  from: number,
  to: number,
  chunk: number,
): Generator<StoredLink[]> {
  return chunked<StoredLink>(db, SQL.links, from, to, chunk);
}

export type StoredLink = Pick<AuditRow, 'seq' | 'prev' | 'type' | 'hash'>;

/**
 * The audit tables (DESIGN.md §9). Runs once inside the migration to schema v1, so plain DDL.
 *
 * Every secondary index ends in the rowid (seq), so `col = ? AND seq < ? ORDER BY seq DESC` walks one
 * index backwards and stops after a page: that is what keeps filtered pages fast at 10M records.
 */
export const AUDIT_SCHEMA_SQL = `
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  type TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  actor_serial TEXT,
  cn TEXT,
  serial TEXT,
  details TEXT NOT NULL,
  prev TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_type ON audit(type);
CREATE INDEX audit_cn ON audit(cn COLLATE NOCASE);
CREATE INDEX audit_serial ON audit(serial);
-- Operators and the system only: a gateway record's actor is its client, found by the cn index, and
-- leaving those out spares every proxied request one more random index insert.
CREATE INDEX audit_actor ON audit(actor) WHERE actor_kind <> 'client';
-- Records per type, kept in the append's transaction, so a type filter's total never counts millions
-- of index entries. A display figure only: verification never trusts it.
CREATE TABLE audit_type_count (type TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE audit_anchor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  prev TEXT NOT NULL,
  archived_at TEXT NOT NULL,
  sig TEXT NOT NULL
);
`;

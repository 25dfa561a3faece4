import type { DatabaseSync } from 'node:sqlite';
import { readHeadRow, type Head } from './statements';

/**
 * The hashes this process computed for the audit rows it committed, kept until a checkpoint covers
 * them, so the check before each checkpoint need not hash every record a second time (issue 12: that
 * re-hash was a fifth of the audit writer's time under gateway load).
 *
 * For such a row the check compares the database's hash with the remembered one instead of
 * re-hashing its columns. A different hash at that seq is an edit of a committed record and the
 * checkpoint is refused, which also catches a tail rewritten consistently (new content, new hashes,
 * new head) that re-hashing alone cannot tell from the original. What it gives up: a content edit
 * that leaves the hash column alone is not refused at the next checkpoint; that checkpoint signs the
 * hash of the record as written, so `audit verify`, which re-hashes every row, still names the edit.
 *
 * Rows are remembered only once they are known to be committed: the run of rows appended in the
 * open transaction ends at the head, and it is kept only if the committed head is still its last row
 * (so a rolled-back row, whose seq may later hold another writer's record, is never remembered).
 */

/** Rows beyond this (no checkpoint for a long time: no signer) are forgotten, oldest first. */
const MAX_REMEMBERED = 20_000;

interface Memory {
  readonly committed: Map<number, string>;
  /** Appended in the open transaction, in order: a chained run ending at the head. */
  pending: Head[];
}

const memories = new WeakMap<DatabaseSync, Memory>();

function memoryOf(db: DatabaseSync): Memory {
  let m = memories.get(db);
  if (!m) memories.set(db, (m = { committed: new Map(), pending: [] }));
  return m;
}

const sameHead = (a: Head | undefined, b: Head | null): boolean =>
  a !== undefined && b !== null && a.seq === b.seq && a.hash === b.hash;

/**
 * An append starts at `head` (read in its transaction). Rows remembered from a transaction that never
 * settled are dropped unless they end exactly there: the hash chain then vouches for all of them.
 */
export function appendStartsAt(db: DatabaseSync, head: Head): void {
  const m = memories.get(db);
  if (m && m.pending.length > 0 && !sameHead(m.pending[m.pending.length - 1], head)) m.pending = [];
}

/** A row this process inserted in the open transaction. */
export function rememberHash(db: DatabaseSync, row: Head): void {
  const m = memoryOf(db);
  m.pending.push(row);
  if (m.pending.length > MAX_REMEMBERED) m.pending = m.pending.slice(-MAX_REMEMBERED / 2);
}

/** The open transaction committed (true) or rolled back (false). */
export function settleHashes(db: DatabaseSync, committed: boolean): void {
  const m = memories.get(db);
  if (!m || m.pending.length === 0) return;
  const pending = m.pending;
  m.pending = [];
  // Read after the commit: had another writer appended since, the run is dropped (only a re-hash lost).
  if (!committed || !sameHead(pending[pending.length - 1], readHeadRow(db))) return;
  for (const r of pending) {
    m.committed.delete(r.seq);
    m.committed.set(r.seq, r.hash);
  }
  for (const seq of m.committed.keys()) {
    if (m.committed.size <= MAX_REMEMBERED) break;
    m.committed.delete(seq);
  }
}

/** Whether any committed row is remembered (none in a process that has appended nothing yet). */
export function remembersAny(db: DatabaseSync): boolean {
  return (memories.get(db)?.committed.size ?? 0) > 0;
}

/** The hash this process committed at `seq`, if it still remembers one. */
export function committedHash(db: DatabaseSync, seq: number): string | undefined {
  return memories.get(db)?.committed.get(seq);
}

/** A checkpoint now covers every seq up to `seq`. */
export function forgetThrough(db: DatabaseSync, seq: number): void {
  const m = memories.get(db);
  if (m) for (const k of m.committed.keys()) if (k <= seq) m.committed.delete(k);
}

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { AuditRecord } from '../../shared/model';
import { ConsoleError } from '../errors';
import { checkpointEntry, DEFAULT_MAX_SEGMENT } from './checkpoint';
import { appendStartsAt, forgetThrough, rememberHash } from './own-hashes';
import {
  CHECKPOINT_TYPE,
  prepareEntry,
  recordLine,
  recordOf,
  REFUSED_TYPE,
  rowToRecord,
  sha256hex,
  type AuditEntryInput,
  type AuditRow,
  type PreparedEntry,
} from './record';
import { readHead, readHeadRow, row, rows, SQL, stmt, writeHead, type Head } from './statements';
import type { AuditSigner } from './signing';

export interface AppendOptions {
  /** Appends a signed checkpoint after the entries (or a refusal, if the log was tampered with). */
  readonly signer?: AuditSigner;
  /** The checkpoint's time; defaults to now. */
  readonly now?: Date;
  /** How many records the check before a checkpoint may read; see checkpoint.ts. */
  readonly maxSegment?: number;
}

function insert(db: DatabaseSync, insertRow: StatementSync, head: Head, e: PreparedEntry): AuditRow {
  const full: AuditRow = {
    seq: head.seq + 1,
    time: e.time,
    type: e.type,
    actor_kind: e.actor_kind,
    actor: e.actor,
    actor_serial: e.actor_serial,
    cn: e.cn,
    serial: e.serial,
    details: e.details,
    prev: head.hash,
    hash: '',
  };
  full.hash = sha256hex(recordLine(full));
  try {
    insertRow.run(
      full.seq,
      full.time,
      full.type,
      full.actor_kind,
      full.actor,
      full.actor_serial,
      full.cn,
      full.serial,
      full.details,
      full.prev,
      full.hash,
    );
  } catch (err) {
    // A row already at head+1 means rows were put back behind the head's back; never overwrite them.
    if (err instanceof Error && /UNIQUE constraint failed/.test(err.message)) {
      throw new ConsoleError(
        'CORRUPT_STATE',
        `audit record seq ${full.seq} already exists past the audit head; run the audit chain check`,
      );
    }
    throw err;
  }
  rememberHash(db, { seq: full.seq, hash: full.hash });
  return full;
}

/**
 * Appends records after the audit head (not after the last row: a cut tail stays a visible gap).
 * The caller holds the write transaction, so the rows and the head commit together.
 * Throws INVALID_INPUT (nothing written) for a bad entry, CORRUPT_STATE when the head is missing or
 * a row already sits past it.
 */
export function appendAudit(
  db: DatabaseSync,
  entries: readonly AuditEntryInput[],
  opts: AppendOptions = {},
): AuditRecord[] {
  const now = opts.now ?? new Date();
  const prepared = entries.map((e) => prepareEntry(e, now));
  return appendPrepared(db, prepared, { ...opts, now });
}

/**
 * appendAudit for entries already reduced to column values: by prepareEntry, or by a caller that
 * checked them itself on a hot path (the gateway's records, see gateway/protocol.ts). Same rules.
 */
export function appendPrepared(
  db: DatabaseSync,
  prepared: readonly PreparedEntry[],
  opts: AppendOptions = {},
): AuditRecord[] {
  const now = opts.now ?? new Date();
  for (const e of prepared) {
    // Only appendAudit itself writes checkpoints; a caller's record must never look like one.
    if (e.type.startsWith(CHECKPOINT_TYPE)) {
      throw new ConsoleError(
        'INVALID_INPUT',
        `audit entry: type ${e.type} is reserved for signed checkpoints`,
      );
    }
  }
  const insertRow = stmt(db, SQL.insert);
  let head = readHead(db);
  const before = head;
  appendStartsAt(db, head);
  const out: AuditRecord[] = new Array<AuditRecord>(prepared.length);
  const perType = new Map<string, number>();
  const add = (e: PreparedEntry): AuditRecord => {
    const r = insert(db, insertRow, head, e);
    head = { seq: r.seq, hash: r.hash };
    perType.set(r.type, (perType.get(r.type) ?? 0) + 1);
    return recordOf(r, e.parsed);
  };
  for (let i = 0; i < prepared.length; i++) out[i] = add(prepared[i] as PreparedEntry);
  if (opts.signer && head.seq > 0) {
    const covers = head;
    const cp = add(
      checkpointEntry(db, opts.signer, covers, before, now, opts.maxSegment ?? DEFAULT_MAX_SEGMENT),
    );
    out.push(cp);
    if (cp.type === CHECKPOINT_TYPE) forgetThrough(db, covers.seq);
  }
  if (out.length > 0) writeHead(db, head);
  for (const [type, n] of perType) stmt(db, SQL.countType).run(type, n);
  return out;
}

/**
 * Whether a gateway batch should carry a checkpoint: records or time since the last attempt. A refusal
 * counts as an attempt, so a tampered log is re-checked at the same pace, not on every batch.
 */
export function checkpointDue(
  db: DatabaseSync,
  now: Date,
  every: { readonly everyRecords: number; readonly everyMs: number },
): boolean {
  const head = readHeadRow(db);
  if (!head || head.seq === 0) return false;
  let last: AuditRow | null = null;
  for (const type of [CHECKPOINT_TYPE, REFUSED_TYPE]) {
    const r = row(db, SQL.lastOfType, type);
    if (r && (!last || r.seq > last.seq)) last = r;
  }
  if (!last) return true;
  if (last.seq >= head.seq) return false;
  return head.seq - last.seq >= every.everyRecords || now.getTime() - Date.parse(last.time) >= every.everyMs;
}

/** The seq of the newest record (0 for an empty log). */
export function lastAuditSeq(db: DatabaseSync): number {
  return readHeadRow(db)?.seq ?? 0;
}

/** Records after `seq`, oldest first: the live feed. */
export function auditRecordsAfter(db: DatabaseSync, seq: number, limit: number): AuditRecord[] {
  return rows(db, SQL.after, seq, Math.max(0, Math.floor(limit))).map(rowToRecord);
}

export function auditRecordAt(db: DatabaseSync, seq: number): AuditRecord | null {
  const r = row(db, SQL.at, seq);
  return r ? rowToRecord(r) : null;
}

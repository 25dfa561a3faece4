import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { AuditFilter, AuditPage } from '../../shared/model';
import { ConsoleError } from '../errors';
import { ROW_COLUMNS, rowToRecord, type AuditRow } from './record';
import { chainStart, readAnchor, readHeadRow, rows, stmt } from './statements';

export const DEFAULT_PAGE = 200;
export const MAX_PAGE = 1000;
/** A type prefix matching more distinct types than this is filtered by a scan instead of a merge. */
const MAX_MERGED_TYPES = 64;

type Order = 'asc' | 'desc';

interface Cond {
  readonly sql: string;
  readonly params: readonly SQLInputValue[];
}

/** The rows one filter selects, in seq order from a keyset cursor. */
export interface QueryPlan {
  /** How many records match; never counts the whole table for an empty filter. */
  total(): number;
  /** Up to `limit` rows past `cursor` (older for desc, newer for asc). */
  rows(cursor: number | null, limit: number, order: Order): AuditRow[];
}

function isoBound(value: string, what: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ConsoleError('INVALID_INPUT', `audit filter: ${what} is not a valid time`);
  // Stored times are UTC with milliseconds, so comparing this form as text compares instants.
  return new Date(t).toISOString();
}

/** Everything starting with `prefix` sorts in [prefix, prefix + U+10FFFF) under SQLite's binary collation. */
function prefixRange(prefix: string): Cond {
  return { sql: 'type >= ? AND type < ?', params: [prefix, `${prefix}\u{10FFFF}`] };
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

interface Conds {
  serial?: Cond;
  cn?: Cond;
  actor?: Cond;
  type?: Cond;
  time?: Cond;
  text?: Cond;
}

function conditions(f: AuditFilter): Conds {
  const c: Conds = {};
  if (f.serial !== undefined) c.serial = { sql: 'serial = ?', params: [f.serial.toLowerCase()] };
  if (f.cn !== undefined) c.cn = { sql: 'cn = ? COLLATE NOCASE', params: [f.cn] };
  if (f.actor !== undefined) {
    // System records store '' as their actor; the filter names them `system`.
    c.actor =
      f.actor === 'system'
        ? { sql: "actor = '' AND actor_kind = 'system' AND actor_kind <> 'client'", params: [] }
        : // Operators only (the partial index): a client is found by its CN.
          { sql: "actor = ? AND actor_kind <> 'client'", params: [f.actor] };
  }
  if (f.type !== undefined) c.type = prefixRange(f.type);
  const time: string[] = [];
  const tp: string[] = [];
  if (f.from !== undefined) {
    time.push('time >= ?');
    tp.push(isoBound(f.from, 'from'));
  }
  if (f.to !== undefined) {
    time.push('time <= ?');
    tp.push(isoBound(f.to, 'to'));
  }
  if (time.length > 0) c.time = { sql: time.join(' AND '), params: tp };
  if (f.text !== undefined) {
    c.text = {
      sql:
        "(type || char(10) || actor || char(10) || ifnull(cn, '') || char(10) || ifnull(serial, '') || " +
        "char(10) || details) LIKE ? ESCAPE '\\'",
      params: [likePattern(f.text)],
    };
  }
  return c;
}

function join(conds: readonly (Cond | undefined)[]): Cond {
  const present = conds.filter((c): c is Cond => c !== undefined);
  return {
    sql: present.length === 0 ? '1' : present.map((c) => `(${c.sql})`).join(' AND '),
    params: present.flatMap((c) => c.params),
  };
}

function cursorCond(cursor: number | null, order: Order): Cond {
  if (cursor === null) return { sql: '1', params: [] };
  return { sql: order === 'desc' ? 'seq < ?' : 'seq > ?', params: [cursor] };
}

function select(db: DatabaseSync, from: string, where: Cond, order: Order, limit: number): AuditRow[] {
  const sql = `SELECT ${ROW_COLUMNS} FROM audit ${from} WHERE ${where.sql} ORDER BY seq ${order.toUpperCase()} LIMIT ?`;
  return rows(db, sql, ...where.params, limit);
}

function count(db: DatabaseSync, from: string, where: Cond): number {
  const r = stmt(db, `SELECT count(*) AS n FROM audit ${from} WHERE ${where.sql}`).get(...where.params) as {
    n: number;
  };
  return r.n;
}

/** Distinct types under a prefix by skipping through the index: one seek per type, not one per row. */
function typesWithPrefix(db: DatabaseSync, prefix: string, max: number): string[] | null {
  const [lo, hi] = prefixRange(prefix).params as [string, string];
  const next = stmt(db, 'SELECT min(type) AS t FROM audit INDEXED BY audit_type WHERE type > ? AND type < ?');
  const first = stmt(
    db,
    'SELECT min(type) AS t FROM audit INDEXED BY audit_type WHERE type >= ? AND type < ?',
  );
  const out: string[] = [];
  let t = (first.get(lo, hi) as { t: string | null }).t;
  while (t !== null) {
    if (out.length === max) return null;
    out.push(t);
    t = (next.get(t, hi) as { t: string | null }).t;
  }
  return out;
}

function mergeNewest(lists: readonly AuditRow[][], order: Order, limit: number): AuditRow[] {
  const all = lists.flat();
  all.sort((a, b) => (order === 'desc' ? b.seq - a.seq : a.seq - b.seq));
  return all.slice(0, limit);
}

function unfilteredTotal(db: DatabaseSync): number {
  const head = readHeadRow(db);
  if (!head) return 0;
  return Math.max(0, head.seq - chainStart(readAnchor(db)).seq + 1);
}

/**
 * Chooses the index that drives a filter, most selective kind first (serial, CN, actor, type, time),
 * and names it with INDEXED BY: without ANALYZE statistics SQLite may prefer an index that forces a sort
 * of every match before the first page.
 */
export function planQuery(db: DatabaseSync, filter: AuditFilter): QueryPlan {
  const c = conditions(filter);
  if (c.serial && filter.serial !== undefined) return serialPlan(db, c, filter.serial.toLowerCase());
  for (const key of ['serial', 'cn', 'actor'] as const) {
    const driver = c[key];
    if (!driver) continue;
    const from = `INDEXED BY audit_${key}`;
    const where = join([c.serial, c.cn, c.actor, c.type, c.time, c.text]);
    return {
      total: () => count(db, from, where),
      rows: (cursor, limit, order) =>
        select(db, from, join([where, cursorCond(cursor, order)]), order, limit),
    };
  }
  const rest = join([c.time, c.text]);
  if (c.type && filter.type !== undefined) {
    const typeCond = c.type;
    const types = typesWithPrefix(db, filter.type, MAX_MERGED_TYPES);
    if (types !== null) {
      // One index walk per type, merged: each stops after `limit` rows however common the prefix is.
      const from = 'INDEXED BY audit_type';
      return {
        // A type filter alone takes its total from the per-type counts, not from millions of entries.
        total: () => (rest.sql === '1' ? typeTotal(db, types) : count(db, from, join([typeCond, rest]))),
        rows: (cursor, limit, order) =>
          mergeNewest(
            types.map((t) =>
              select(
                db,
                from,
                join([{ sql: 'type = ?', params: [t] }, rest, cursorCond(cursor, order)]),
                order,
                limit,
              ),
            ),
            order,
            limit,
          ),
      };
    }
  }
  if (c.time) {
    // Times follow seq closely but not exactly (entries carry their own clocks), so the time index gives
    // the exact count and seq span of the range, and pages walk that span by seq.
    const timeCond = c.time;
    let stats: { n: number; lo: number | null; hi: number | null } | undefined;
    const span = () =>
      (stats ??= stmt(
        db,
        `SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM audit INDEXED BY audit_time WHERE ${join([timeCond, c.type, c.text]).sql}`,
      ).get(...join([timeCond, c.type, c.text]).params) as {
        n: number;
        lo: number | null;
        hi: number | null;
      });
    return {
      total: () => span().n,
      rows: (cursor, limit, order) => {
        const { lo, hi } = span();
        if (lo === null || hi === null) return [];
        const within: Cond = { sql: 'seq >= ? AND seq <= ?', params: [lo, hi] };
        return select(
          db,
          'NOT INDEXED',
          join([within, timeCond, c.type, c.text, cursorCond(cursor, order)]),
          order,
          limit,
        );
      },
    };
  }
  const where = join([c.type, c.text]);
  const empty = where.sql === '1';
  return {
    total: () => (empty ? unfilteredTotal(db) : count(db, 'NOT INDEXED', where)),
    rows: (cursor, limit, order) =>
      select(db, 'NOT INDEXED', join([where, cursorCond(cursor, order)]), order, limit),
  };
}

/**
 * A certificate's records: those about it (its serial column), and the renewal that replaced it, whose
 * record is about the successor and names it as `renewedFrom` (issue 10: "who did what to this
 * certificate" includes "renewed it"). Two index walks merged; renewals are few beside traffic.
 */
function serialPlan(db: DatabaseSync, c: Conds, serial: string): QueryPlan {
  const others = join([c.cn, c.actor, c.type, c.time, c.text]);
  const direct = join([c.serial, others]);
  const renewal: Cond = {
    sql: "type = 'client.renewed' AND json_extract(details, '$.renewedFrom') = ?",
    params: [serial],
  };
  const renewed = join([renewal, others]);
  return {
    total: () => count(db, 'INDEXED BY audit_serial', direct) + count(db, 'INDEXED BY audit_type', renewed),
    rows: (cursor, limit, order) =>
      mergeNewest(
        [
          select(db, 'INDEXED BY audit_serial', join([direct, cursorCond(cursor, order)]), order, limit),
          select(db, 'INDEXED BY audit_type', join([renewed, cursorCond(cursor, order)]), order, limit),
        ],
        order,
        limit,
      ),
  };
}

function typeTotal(db: DatabaseSync, types: readonly string[]): number {
  let n = 0;
  const get = stmt(db, 'SELECT n FROM audit_type_count WHERE type = ?');
  for (const t of types) n += (get.get(t) as { n: number } | undefined)?.n ?? 0;
  return n;
}

/** One page, newest first, keyset-paged by seq. Throws INVALID_INPUT for a bad limit or time. */
export function queryAudit(
  db: DatabaseSync,
  filter: AuditFilter,
  page: { readonly before?: number; readonly limit?: number } = {},
): AuditPage {
  const limit = page.limit ?? DEFAULT_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new ConsoleError('INVALID_INPUT', `audit page limit must be 1-${MAX_PAGE}, got ${limit}`);
  }
  const plan = planQuery(db, filter);
  const got = plan.rows(page.before ?? null, limit + 1, 'desc');
  const records = got.slice(0, limit).map(rowToRecord);
  const last = records[records.length - 1];
  return { records, total: plan.total(), nextCursor: got.length > limit && last ? last.seq : null };
}

import { hash } from 'node:crypto';
import type { AuditActor, AuditRecord } from '../../shared/model';
import { ConsoleError } from '../errors';

export const ZERO_HASH = '0'.repeat(64);
export const CHECKPOINT_TYPE = 'audit.checkpoint';
export const REFUSED_TYPE = 'audit.checkpoint.refused';
export const ARCHIVED_TYPE = 'audit.archived';

export interface AuditEntryInput {
  type: string;
  actor: AuditActor;
  /** The certificate the record is about (a gateway record's client, the one an operator acted on). */
  cn?: string | null;
  /** Lowercase hex; normalized here too. */
  serial?: string | null;
  details: Record<string, unknown>;
  time?: Date;
}

/** One row of `audit`, as SQLite returns it. */
export interface AuditRow {
  seq: number;
  time: string;
  type: string;
  actor_kind: string;
  actor: string;
  actor_serial: string | null;
  cn: string | null;
  serial: string | null;
  details: string;
  prev: string;
  hash: string;
}

export const ROW_COLUMNS =
  'seq, time, type, actor_kind, actor, actor_serial, cn, serial, details, prev, hash';

/** An entry checked and reduced to column values; `details` is the exact JSON text that gets hashed. */
export type PreparedEntry = Omit<AuditRow, 'seq' | 'prev' | 'hash'> & {
  /** JSON.parse(details), when the caller already holds it: the appended record is built without a parse. */
  readonly parsed?: Record<string, unknown>;
};

export function sha256hex(text: string): string {
  return hash('sha256', text, 'hex'); // one-shot: no Hash object per record
}

function invalid(message: string): ConsoleError {
  return new ConsoleError('INVALID_INPUT', `audit entry: ${message}`);
}

function actorColumns(a: unknown): Pick<AuditRow, 'actor_kind' | 'actor' | 'actor_serial'> {
  const o = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw invalid(`actor.${k} must be a string`);
    return v;
  };
  switch (o['kind']) {
    case 'operator': {
      const name = str('name');
      if (name === '') throw invalid('actor.name must not be empty');
      return { actor_kind: 'operator', actor: name, actor_serial: null };
    }
    case 'client':
      return { actor_kind: 'client', actor: str('cn'), actor_serial: str('serial') };
    case 'system':
      return { actor_kind: 'system', actor: '', actor_serial: null };
    default:
      throw invalid('actor.kind must be operator, client or system');
  }
}

function optionalText(v: unknown, what: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalid(`${what} must be a string or null`);
  return v;
}

/** Validates one entry; throws INVALID_INPUT before anything is written. */
export function prepareEntry(e: AuditEntryInput, now: Date): PreparedEntry {
  const time = e.time ?? now;
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) throw invalid('time is not a valid date');
  if (typeof e.type !== 'string' || e.type.length === 0) throw invalid('type must be a non-empty string');
  // Only appendAudit itself writes checkpoints; a caller's record must never look like one.
  if (e.type.startsWith(CHECKPOINT_TYPE)) throw invalid(`type ${e.type} is reserved for signed checkpoints`);
  const serial = optionalText(e.serial, 'serial')?.toLowerCase() ?? null;
  if (serial !== null && !/^[0-9a-f]+$/.test(serial)) throw invalid('serial must be hex digits');
  let details: string | undefined;
  try {
    details = JSON.stringify(e.details);
  } catch (err) {
    throw invalid(`details are not JSON-serializable (${err instanceof Error ? err.message : String(err)})`);
  }
  // An object serializes to `{…}`; arrays, null and toJSON tricks (a Date) do not.
  if (typeof details !== 'string' || !details.startsWith('{')) throw invalid('details must be an object');
  return {
    time: time.toISOString(),
    type: e.type,
    ...actorColumns(e.actor),
    cn: optionalText(e.cn, 'cn'),
    serial,
    details,
  };
}

/** Fixed key order, so the actor's JSON depends only on its values. */
function actorJson(kind: string, actor: string, actorSerial: string | null): string {
  switch (kind) {
    case 'operator':
      return `{"kind":"operator","name":${JSON.stringify(actor)}}`;
    case 'client':
      return `{"kind":"client","cn":${JSON.stringify(actor)},"serial":${JSON.stringify(actorSerial)}}`;
    case 'system':
      return '{"kind":"system"}';
    default:
      // Only a tampered row gets here; it still yields a line, whose hash will not match.
      return JSON.stringify({ kind });
  }
}

/**
 * A record's line: JSON.stringify of {seq,time,type,actor,cn,serial,details,prev} in that order, with
 * `details` spliced in as stored. Built by hand because it runs once per record on every append, export
 * and verification; record.test.ts checks it equals JSON.stringify of the object.
 */
export function recordLine(r: Omit<AuditRow, 'hash'>): string {
  return (
    `{"seq":${r.seq},"time":${JSON.stringify(r.time)},"type":${JSON.stringify(r.type)},` +
    `"actor":${actorJson(r.actor_kind, r.actor, r.actor_serial)},` +
    `"cn":${JSON.stringify(r.cn)},"serial":${JSON.stringify(r.serial)},` +
    `"details":${r.details},"prev":${JSON.stringify(r.prev)}}`
  );
}

function actorOf(row: AuditRow): AuditActor {
  switch (row.actor_kind) {
    case 'operator':
      return { kind: 'operator', name: row.actor };
    case 'client':
      return { kind: 'client', cn: row.actor, serial: row.actor_serial ?? '' };
    default:
      return { kind: 'system' };
  }
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through: a damaged row is still shown (verification names it), never hidden by a throw
  }
  return { unparseable: text };
}

export function rowToRecord(row: AuditRow): AuditRecord {
  return recordOf(row, undefined);
}

/** `parsed`, when given, must equal JSON.parse(row.details) (see PreparedEntry). */
export function recordOf(row: AuditRow, parsed: Record<string, unknown> | undefined): AuditRecord {
  return {
    seq: row.seq,
    time: row.time,
    type: row.type,
    actor: actorOf(row),
    cn: row.cn,
    serial: row.serial,
    details: parsed ?? parseDetails(row.details),
    prev: row.prev,
    hash: row.hash,
  };
}

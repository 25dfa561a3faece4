import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { AuditActor, AuditRecord, AuditVerifyResult } from '../../shared/model';
import { ConsoleError } from '../errors';
import { atomicWriteFile, errCode, fsyncDir, ioError, readJsonFile } from '../store/files';

export interface AuditEntryInput {
  type: string;
  actor: AuditActor;
  details: Record<string, unknown>;
  time?: Date;
}

const ZERO_HASH = '0'.repeat(64);
const NL = 0x0a;
/** Backward reads of the tail use this chunk size, so appending never reads the whole log. */
const CHUNK = 64 * 1024;

const actorSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('operator'), name: z.string() }),
  z.strictObject({ kind: z.literal('client'), cn: z.string(), serial: z.string() }),
  z.strictObject({ kind: z.literal('system') }),
]);

const recordSchema = z.strictObject({
  seq: z.number().int().positive(),
  time: z.iso.datetime({ offset: true }),
  type: z.string().min(1),
  actor: actorSchema,
  details: z.record(z.string(), z.unknown()),
  prev: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest'),
});

export function auditPath(stateDir: string): string {
  return path.join(stateDir, 'audit.jsonl');
}

/**
 * The chain alone cannot show records cut off its end or an edit of its last record, so each append
 * also records the newest seq and hash in a small head file beside the log.
 */
export function auditHeadPath(stateDir: string): string {
  return path.join(stateDir, 'audit.head.json');
}

const headSchema = z.strictObject({
  v: z.literal(1),
  seq: z.number().int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});

function sha256(line: Buffer): string {
  return createHash('sha256').update(line).digest('hex');
}

/** Fixed key order, so a record's line (and therefore its hash) depends only on its values. */
function normalizeActor(a: AuditActor): AuditActor {
  switch (a.kind) {
    case 'operator':
      return { kind: 'operator', name: a.name };
    case 'client':
      return { kind: 'client', cn: a.cn, serial: a.serial };
    case 'system':
      return { kind: 'system' };
  }
}

type Parsed = { ok: true; record: AuditRecord } | { ok: false; seq: number | null; problem: string };

function parseLine(line: Buffer): Parsed {
  const text = line.toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    const m = /"seq":(\d+)/.exec(text);
    return { ok: false, seq: m ? Number(m[1]) : null, problem: 'not valid JSON' };
  }
  const parsed = recordSchema.safeParse(raw);
  if (parsed.success) return { ok: true, record: parsed.data };
  const seq = (raw as { seq?: unknown } | null)?.seq;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'record';
  return {
    ok: false,
    seq: typeof seq === 'number' ? seq : null,
    problem: `not a valid audit record (${where}: ${issue?.message ?? 'invalid'})`,
  };
}

/** Complete lines only: bytes after the last newline are a torn write that was never acknowledged. */
function splitLines(buf: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = buf.indexOf(NL); nl !== -1; nl = buf.indexOf(NL, start)) {
    lines.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  return lines;
}

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** Index of the last newline before `end`, or -1; reads backwards in chunks. */
async function lastNewlineBefore(fh: FileHandle, end: number): Promise<number> {
  let pos = end;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const i = (await readAt(fh, pos, len)).lastIndexOf(NL);
    if (i !== -1) return pos + i;
  }
  return -1;
}

interface Tail {
  /** Length of the file up to and including its last newline. */
  readonly completeEnd: number;
  readonly lastLine: Buffer | null;
}

async function readTail(fh: FileHandle, size: number): Promise<Tail> {
  const completeEnd = (await lastNewlineBefore(fh, size)) + 1;
  if (completeEnd === 0) return { completeEnd, lastLine: null };
  const start = (await lastNewlineBefore(fh, completeEnd - 1)) + 1;
  return { completeEnd, lastLine: await readAt(fh, start, completeEnd - 1 - start) };
}

function invalid(message: string): ConsoleError {
  return new ConsoleError('INVALID_INPUT', `audit entry: ${message}`);
}

function toLine(seq: number, prev: string, e: AuditEntryInput): Buffer {
  const time = e.time ?? new Date();
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) throw invalid('time is not a valid date');
  if (typeof e.type !== 'string' || e.type.length === 0) throw invalid('type must be a non-empty string');
  const actor = actorSchema.safeParse(e.actor);
  if (!actor.success) throw invalid(`actor is invalid (${actor.error.issues[0]?.message ?? 'invalid'})`);
  let details: unknown;
  try {
    // Round-trip so the record we return is exactly what a reader will parse back.
    details = JSON.parse(JSON.stringify(e.details) ?? 'null');
  } catch (err) {
    throw invalid(`details are not JSON-serializable (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw invalid('details must be an object');
  }
  const record = {
    seq,
    time: time.toISOString(),
    type: e.type,
    actor: normalizeActor(actor.data),
    details,
    prev,
  };
  return Buffer.from(JSON.stringify(record));
}

/**
 * Appends records to the hash chain. The caller must hold withStateLock on `stateDir`: seq and prev come
 * from the current last line, so two unlocked appenders would fork the chain.
 */
export async function appendAudit(
  stateDir: string,
  entries: readonly AuditEntryInput[],
): Promise<AuditRecord[]> {
  if (entries.length === 0) return [];
  const file = auditPath(stateDir);
  let fh: FileHandle;
  try {
    // O_APPEND: every write lands at the end, even after the torn-tail truncation below.
    fh = await open(file, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT, 0o600);
  } catch (e) {
    throw ioError(`could not open audit log ${file}`, e);
  }
  try {
    const st = await fh.stat();
    if (process.platform !== 'win32' && (st.mode & 0o777) !== 0o600) await fh.chmod(0o600);
    const tail = await readTail(fh, st.size);
    if (tail.completeEnd < st.size) await fh.truncate(tail.completeEnd);

    let seq = 0;
    let prev = ZERO_HASH;
    if (tail.lastLine) {
      const last = parseLine(tail.lastLine);
      if (!last.ok) {
        throw new ConsoleError(
          'CORRUPT_STATE',
          `audit log ${file} is corrupt: its last record is ${last.problem}; run the audit chain check`,
        );
      }
      seq = last.record.seq;
      prev = sha256(tail.lastLine);
    }

    const lines: Buffer[] = [];
    for (const entry of entries) {
      const line = toLine(++seq, prev, entry);
      prev = sha256(line);
      lines.push(line);
    }
    const out = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
    for (let off = 0; off < out.length;) off += (await fh.write(out, off, out.length - off)).bytesWritten;
    await fh.sync();
    if (st.size === 0) await fsyncDir(path.dirname(file)); // a new file's directory entry must survive too
    // Written after the records are durable: a crash in between leaves the head one batch behind,
    // which verification accepts (records past the head are checked by the chain alone).
    await atomicWriteFile(auditHeadPath(stateDir), JSON.stringify({ v: 1, seq, hash: prev }));
    return lines.map((l) => JSON.parse(l.toString('utf8')) as AuditRecord);
  } catch (e) {
    throw ioError(`could not append to audit log ${file}`, e);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function readLog(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw ioError(`could not read audit log ${file}`, e);
  }
}

/** The last `limit` complete lines, reading backwards from the end. */
async function readLastLines(file: string, limit: number): Promise<Buffer[]> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return [];
    throw ioError(`could not read audit log ${file}`, e);
  }
  try {
    const size = (await fh.stat()).size;
    const end = (await lastNewlineBefore(fh, size)) + 1;
    const chunks: Buffer[] = [];
    let newlines = 0;
    let pos = end;
    // limit+1 newlines guarantee `limit` whole lines (the extra one ends the line before them).
    while (pos > 0 && newlines <= limit) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const chunk = await readAt(fh, pos, len);
      for (const b of chunk) if (b === NL) newlines++;
      chunks.unshift(chunk);
    }
    let lines = splitLines(Buffer.concat(chunks));
    if (pos > 0) lines = lines.slice(1); // the first piece started mid-line
    return lines.slice(Math.max(0, lines.length - limit));
  } catch (e) {
    throw ioError(`could not read audit log ${file}`, e);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export async function readAudit(stateDir: string, opts: { limit?: number } = {}): Promise<AuditRecord[]> {
  const file = auditPath(stateDir);
  const { limit } = opts;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new ConsoleError('INVALID_INPUT', `audit limit must be a non-negative integer, got ${limit}`);
  }
  let lines: Buffer[];
  let firstLineNo: number | null = 1;
  if (limit === undefined) {
    const buf = await readLog(file);
    lines = buf ? splitLines(buf) : [];
  } else {
    if (limit === 0) return [];
    lines = await readLastLines(file, limit);
    firstLineNo = null; // absolute line numbers are unknown without reading the whole file
  }
  return lines.map((line, i) => {
    const p = parseLine(line);
    if (p.ok) return p.record;
    const where = firstLineNo === null ? `record ${p.seq ?? '?'}` : `line ${firstLineNo + i}`;
    throw new ConsoleError('CORRUPT_STATE', `audit log ${file} is corrupt at ${where}: ${p.problem}`);
  });
}

/** Walks the whole chain and names the first record that breaks it. Truncation at the end is not detectable. */
export async function verifyAudit(stateDir: string): Promise<AuditVerifyResult> {
  const buf = await readLog(auditPath(stateDir));
  const lines = buf ? splitLines(buf) : [];
  const parsed = lines.map(parseLine);
  const hashes: (string | undefined)[] = [];
  const hashOf = (i: number): string => (hashes[i] ??= sha256(lines[i]!));
  const bad = (seq: number | null, index: number, problem: string): AuditVerifyResult => ({
    ok: false,
    records: lines.length,
    firstBad: { seq, line: index + 1, problem },
  });

  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i]!;
    if (!p.ok) return bad(p.seq, i, p.problem);
    const r = p.record;
    const expected = i === 0 ? 1 : (parsed[i - 1] as { record: AuditRecord }).record.seq + 1;
    if (r.seq !== expected) {
      if (r.seq < expected) return bad(r.seq, i, `out of order: seq ${r.seq} follows seq ${expected - 1}`);
      const comesLater = parsed.slice(i + 1).some((q) => q.ok && q.record.seq === expected);
      const missing = r.seq - expected === 1 ? `seq ${expected} is` : `seqs ${expected}-${r.seq - 1} are`;
      return bad(
        r.seq,
        i,
        comesLater
          ? `out of order: seq ${r.seq} where seq ${expected} belongs`
          : `${missing} missing before it (dropped)`,
      );
    }
    const prevHash = i === 0 ? ZERO_HASH : hashOf(i - 1);
    if (r.prev === prevHash) continue;
    if (i === 0) return bad(r.seq, i, 'the first record’s prev must be 64 zeros');
    // Either line i-1 was edited (its hash changed) or line i's prev was. If line i+1 refutes line i,
    // line i itself was edited; otherwise line i is intact and the earlier record is the bad one.
    const next = parsed[i + 1];
    const nextRefutes = next !== undefined && next.ok && next.record.prev !== hashOf(i);
    if (nextRefutes) return bad(r.seq, i, 'edited: its prev does not match the hash of the record before it');
    return bad(expected - 1, i - 1, 'edited: its hash no longer matches the prev of the record after it');
  }
  const head = await readJsonFile(auditHeadPath(stateDir), headSchema);
  if (head && head.seq > 0) {
    // The chain held, so seqs run 1..n and seq k is line k.
    if (head.seq > lines.length) {
      return bad(
        null,
        lines.length,
        `records after seq ${lines.length} were removed: the log head says seq ${head.seq}`,
      );
    }
    if (hashOf(head.seq - 1) !== head.hash) {
      return bad(head.seq, head.seq - 1, 'edited: it no longer matches the hash recorded in the log head');
    }
  }
  return { ok: true, records: lines.length };
}

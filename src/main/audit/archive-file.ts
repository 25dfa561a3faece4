import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ChainChecker, missing, type Problem } from './chain';
import { sha256hex, ZERO_HASH } from './record';
import type { Head } from './statements';
import { archiveText, verifyText, type VerifyKey } from './signing';

/** The last line of an archive, signed with the CA key: what it holds and where it joins the chain. */
export interface ArchiveTrailer {
  readonly firstSeq: number;
  readonly firstPrev: string;
  readonly lastSeq: number;
  readonly lastHash: string;
  readonly createdAt: string;
  readonly sig: string;
}

export function trailerLine(t: ArchiveTrailer): string {
  return JSON.stringify({ archive: t });
}

async function* lines(file: string): AsyncGenerator<string> {
  const input = createReadStream(file).pipe(createGunzip());
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
    input.destroy();
  }
}

interface LineRecord {
  seq: number;
  prev: string;
  type: string;
  details: unknown;
}

function parseRecordLine(line: string): LineRecord | null {
  try {
    const v = JSON.parse(line) as Partial<LineRecord> | null;
    if (typeof v?.seq === 'number' && typeof v.prev === 'string' && typeof v.type === 'string') {
      return v as LineRecord;
    }
  } catch {
    // reported by the caller
  }
  return null;
}

function parseTrailer(line: string): ArchiveTrailer | null {
  try {
    const t = (JSON.parse(line) as { archive?: Partial<ArchiveTrailer> } | null)?.archive;
    if (
      typeof t?.firstSeq === 'number' &&
      typeof t.firstPrev === 'string' &&
      typeof t.lastSeq === 'number' &&
      typeof t.lastHash === 'string' &&
      typeof t.createdAt === 'string' &&
      typeof t.sig === 'string'
    ) {
      return t as ArchiveTrailer;
    }
  } catch {
    // reported by the caller
  }
  return null;
}

/** The first record's seq, to put archives in order before checking them. */
export async function firstSeqOf(file: string): Promise<number | null> {
  try {
    for await (const line of lines(file)) return parseRecordLine(line)?.seq ?? null;
  } catch {
    // unreadable: checkArchive names the problem
  }
  return null;
}

export interface ArchiveCheck {
  readonly records: number;
  readonly end: Head;
  readonly lastCheckpoint: { seq: number; time: string } | null;
}

/** Streams one archive through the chain checker from `start`; returns where it ends, or what is wrong. */
export async function checkArchive(
  file: string,
  key: VerifyKey,
  start: Head,
): Promise<{ ok: true; check: ArchiveCheck } | { ok: false; bad: Problem }> {
  const fail = (seq: number | null, problem: string) => ({
    ok: false as const,
    bad: { seq, problem: `archive ${file}: ${problem}` },
  });
  const checker = new ChainChecker(key, start);
  let trailer: ArchiveTrailer | null = null;
  try {
    for await (const line of lines(file)) {
      if (trailer) return fail(trailer.lastSeq, 'lines after its signed trailer');
      if (line.startsWith('{"archive":')) {
        trailer = parseTrailer(line);
        if (!trailer) return fail(null, 'a malformed trailer');
        continue;
      }
      const r = parseRecordLine(line);
      if (!r) return fail(checker.nextSeq, 'a line that is not an audit record');
      // The line is the record: its hash is the hash of these bytes, whatever they say.
      const p = checker.push({
        seq: r.seq,
        prev: r.prev,
        type: r.type,
        details: JSON.stringify(r.details),
        hash: sha256hex(line),
      });
      if (p) return fail(p.seq, p.problem);
    }
  } catch (e) {
    return fail(null, `not a readable gzip JSON Lines file (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!trailer) return fail(null, 'no signed trailer: the file was cut short');
  const end: Head = { seq: checker.nextSeq - 1, hash: checker.prevHash };
  if (
    trailer.firstSeq !== start.seq ||
    trailer.firstPrev !== start.hash ||
    trailer.lastSeq !== end.seq ||
    trailer.lastHash !== end.hash
  ) {
    return fail(trailer.lastSeq, 'its trailer does not describe the records it holds');
  }
  if (!verifyText(key, archiveText(trailer), trailer.sig)) {
    return fail(trailer.lastSeq, 'its trailer’s signature does not verify against the CA certificate');
  }
  return { ok: true, check: { records: checker.count, end, lastCheckpoint: checker.lastCheckpoint } };
}

/**
 * Checks archives as one chain from seq 1 (prev 64 zeros), in order of their first seq. A missing
 * archive shows as missing seqs; where the last one ends is returned for the database to continue.
 */
export async function checkArchives(
  files: readonly string[],
  key: VerifyKey,
): Promise<{ ok: true; check: ArchiveCheck } | { ok: false; bad: Problem; records: number }> {
  const firsts = await Promise.all(files.map(async (f) => ({ f, first: await firstSeqOf(f) })));
  firsts.sort((a, b) => (a.first ?? 0) - (b.first ?? 0));
  let at: Head = { seq: 1, hash: ZERO_HASH };
  let records = 0;
  let lastCheckpoint: ArchiveCheck['lastCheckpoint'] = null;
  for (const { f, first } of firsts) {
    if (first !== null && first > at.seq) {
      return {
        ok: false,
        records,
        bad: { seq: at.seq, problem: `${missing(at.seq, first - 1)}: no archive given holds them` },
      };
    }
    const r = await checkArchive(f, key, at);
    if (!r.ok) return { ok: false, records, bad: r.bad };
    records += r.check.records;
    lastCheckpoint = r.check.lastCheckpoint ?? lastCheckpoint;
    at = { seq: r.check.end.seq + 1, hash: r.check.end.hash };
  }
  return { ok: true, check: { records, end: { seq: at.seq - 1, hash: at.hash }, lastCheckpoint } };
}

import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { createGzip } from 'node:zlib';
import { ConsoleError } from '../errors';
import { appendAudit } from './append';
import { trailerLine, type ArchiveTrailer } from './archive-file';
import { ChainChecker, linkOfRow } from './chain';
import { writeFileAtomically, yieldToEventLoop } from './files';
import { ARCHIVED_TYPE, recordLine, type AuditRow } from './record';
import { settleHashes } from './own-hashes';
import { chainStart, chunksFrom, readAnchor, row, SQL, stmt, writeAnchor, type Head } from './statements';
import { anchorText, archiveText, signerKey, signText, verifyText, type AuditSigner } from './signing';

const CHUNK = 5_000;

export interface ArchiveResult {
  readonly records: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly file: string;
}

/** The archive's lines, checking the chain as they go: a tampered prefix is never signed into an archive. */
async function* archiveLines(
  db: DatabaseSync,
  signer: AuditSigner,
  start: Head,
  lastSeq: number,
  createdAt: string,
  end: { head?: Head },
): AsyncGenerator<string> {
  const checker = new ChainChecker(signerKey(signer), start);
  for (const batch of chunksFrom(db, start.seq, lastSeq, CHUNK)) {
    let text = '';
    for (const r of batch) {
      const p = checker.push(linkOfRow(r));
      if (p)
        throw new ConsoleError(
          'CORRUPT_STATE',
          `audit seq ${p.seq ?? '?'}: ${p.problem}; nothing was archived`,
        );
      text += `${recordLine(r)}\n`;
    }
    yield text;
    await yieldToEventLoop();
  }
  const last = checker.nextSeq - 1;
  if (last !== lastSeq) {
    throw new ConsoleError(
      'CORRUPT_STATE',
      `audit records ${last + 1}-${lastSeq} are missing; nothing was archived`,
    );
  }
  const t = { firstSeq: start.seq, firstPrev: start.hash, lastSeq, lastHash: checker.prevHash, createdAt };
  const trailer: ArchiveTrailer = { ...t, sig: signText(signer, archiveText(t)) };
  end.head = { seq: lastSeq, hash: checker.prevHash };
  yield `${trailerLine(trailer)}\n`;
}

/**
 * Moves the prefix of the log up to the last record older than `before` into a signed gzip JSON Lines
 * archive, then (in one short BEGIN IMMEDIATE transaction of its own, the only one this module opens)
 * deletes those rows, sets the signed anchor where the database now starts, and appends `audit.archived`
 * with a checkpoint. The file is written from plain reads first, so no transaction spans the slow part.
 * Returns null when nothing is older. Throws CORRUPT_STATE when the prefix does not verify or changed
 * while it was written (the file is then removed), ALREADY_EXISTS when `outFile` exists, IO otherwise.
 */
export async function archiveAudit(
  db: DatabaseSync,
  opts: {
    readonly before: Date;
    readonly outFile: string;
    readonly signer: AuditSigner;
    readonly now?: Date;
  },
): Promise<ArchiveResult | null> {
  const { signer, outFile } = opts;
  const now = opts.now ?? new Date();
  if (Number.isNaN(opts.before.getTime()))
    throw new ConsoleError('INVALID_INPUT', 'archive: before is not a valid date');
  const anchor = readAnchor(db);
  if (
    anchor &&
    !verifyText(signerKey(signer), anchorText(anchor.seq, anchor.prev, anchor.archivedAt), anchor.sig)
  ) {
    throw new ConsoleError(
      'CORRUPT_STATE',
      'the audit retention anchor’s signature does not verify; nothing was archived',
    );
  }
  const start = chainStart(anchor);
  const lastSeq = (
    stmt(db, 'SELECT max(seq) AS m FROM audit INDEXED BY audit_time WHERE time < ?').get(
      opts.before.toISOString(),
    ) as {
      m: number | null;
    }
  ).m;
  if (lastSeq === null || lastSeq < start.seq) return null;

  const end: { head?: Head } = {};
  await writeFileAtomically(outFile, archiveLines(db, signer, start, lastSeq, now.toISOString(), end), {
    transform: createGzip(),
  });
  const lastHash = end.head?.hash;
  if (lastHash === undefined) throw new ConsoleError('INTERNAL', 'archive finished without its trailer');

  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      // Another archiver, or an edit, between the read and now: the file no longer matches the database.
      const nowAnchor = readAnchor(db);
      const atLast = row(db, SQL.at, lastSeq) as AuditRow | null;
      if (chainStart(nowAnchor).seq !== start.seq || atLast?.hash !== lastHash) {
        throw new ConsoleError(
          'CORRUPT_STATE',
          `audit records up to seq ${lastSeq} changed while they were archived`,
        );
      }
      stmt(db, SQL.uncountPrefix).run(lastSeq);
      stmt(db, 'DELETE FROM audit WHERE seq <= ?').run(lastSeq);
      const archivedAt = now.toISOString();
      writeAnchor(db, {
        seq: lastSeq + 1,
        prev: lastHash,
        archivedAt,
        sig: signText(signer, anchorText(lastSeq + 1, lastHash, archivedAt)),
      });
      const records = lastSeq - start.seq + 1;
      appendAudit(
        db,
        [
          {
            type: ARCHIVED_TYPE,
            actor: { kind: 'system' },
            details: { firstSeq: start.seq, lastSeq, records, lastHash, file: path.basename(outFile) },
            time: now,
          },
        ],
        { signer, now },
      );
      db.exec('COMMIT');
      settleHashes(db, true);
      return { records, firstSeq: start.seq, lastSeq, file: outFile };
    } catch (e) {
      db.exec('ROLLBACK');
      settleHashes(db, false);
      throw e;
    }
  } catch (e) {
    // The rows stayed; an archive of them beside the database would only duplicate them.
    await unlink(outFile).catch(() => undefined);
    throw e;
  }
}

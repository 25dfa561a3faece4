import type { DatabaseSync } from 'node:sqlite';
import type { AuditVerifyResult } from '../../shared/model';
import { checkArchives } from './archive-file';
import { ChainChecker, linkOfRow, type Problem } from './chain';
import { yieldToEventLoop } from './files';
import { chainStart, chunksFrom, readAnchor, readHeadRow, stmt } from './statements';
import { anchorText, verifyKeyFromCert, verifyText } from './signing';

const CHUNK = 10_000;

export interface VerifyOptions {
  /** Archive files written by archiveAudit, in any order; they must hold every seq before the database's. */
  readonly archives?: readonly string[];
  readonly now?: Date;
}

const num = (n: number): string => n.toLocaleString('en-US');

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

/**
 * Verifies the whole log in constant memory: every record's hash and link, seq continuity, the head,
 * every checkpoint's signature against the CA certificate (the algorithm follows the certificate), the
 * retention anchor, and the archives when given. Reads in keyset chunks without a transaction and checks
 * up to the head as it was at the start. Rejects only for a CA certificate that cannot be read.
 *
 * What remains undetectable here: cutting the tail back to exactly a checkpoint and rewinding the head
 * to it leaves a log that is intact up to a signed point; it shows only as a checkpoint older than
 * expected. The service layer cross-checks the audit against the certificate and revocation tables.
 */
export async function verifyAudit(
  db: DatabaseSync,
  caCertPem: string,
  opts: VerifyOptions = {},
): Promise<AuditVerifyResult> {
  const key = verifyKeyFromCert(caCertPem);
  const now = opts.now ?? new Date();
  const anchor = readAnchor(db);
  const head = readHeadRow(db);
  const archivedBefore = anchor ? anchor.seq : null;
  let records = 0;
  let checkpoint: { seq: number; time: string } | null = null;

  const bad = (firstBad: Problem): AuditVerifyResult => ({
    ok: false,
    records,
    firstBad,
    checkpoint,
    archivedBefore,
    summary: `chain broken${firstBad.seq === null ? '' : ` at seq ${num(firstBad.seq)}`}: ${firstBad.problem}`,
  });

  if (anchor && !verifyText(key, anchorText(anchor.seq, anchor.prev, anchor.archivedAt), anchor.sig)) {
    return bad({
      seq: anchor.seq,
      problem: 'the retention anchor’s signature does not verify against the CA certificate',
    });
  }
  const archives = opts.archives ?? [];
  if (archives.length > 0) {
    const a = await checkArchives(archives, key);
    records = a.ok ? a.check.records : a.records;
    if (!a.ok) return bad(a.bad);
    checkpoint = a.check.lastCheckpoint;
    const start = chainStart(anchor);
    if (start.seq !== a.check.end.seq + 1 || start.hash !== a.check.end.hash) {
      return bad({
        seq: a.check.end.seq + 1,
        problem: `the archives end at seq ${a.check.end.seq} but the database continues from seq ${start.seq - 1} (${anchor ? 'anchor' : 'no anchor'})`,
      });
    }
  }

  if (!head) {
    if (stmt(db, 'SELECT 1 AS one FROM audit LIMIT 1').get() || anchor) {
      return bad({ seq: null, problem: 'the audit head is missing while the log has records' });
    }
  } else {
    const checker = new ChainChecker(key, chainStart(anchor));
    for (const batch of chunksFrom(db, checker.nextSeq, head.seq, CHUNK)) {
      for (const r of batch) {
        const p = checker.push(linkOfRow(r));
        if (p) {
          records += checker.count;
          return bad(p);
        }
      }
      await yieldToEventLoop();
    }
    records += checker.count;
    checkpoint = checker.lastCheckpoint ?? checkpoint;
    const last = checker.nextSeq - 1;
    if (last < head.seq) {
      return bad({
        seq: last + 1,
        problem: `records after seq ${last} were removed: the head says seq ${head.seq}`,
      });
    }
    if (checker.prevHash !== head.hash) {
      return bad({ seq: head.seq, problem: 'edited: it no longer matches the hash in the audit head' });
    }
    // Max first, then the head: a concurrent append moves both, so only rows written past the head show.
    const max = (stmt(db, 'SELECT max(seq) AS m FROM audit').get() as { m: number | null }).m ?? 0;
    const headNow = readHeadRow(db)?.seq ?? 0;
    if (max > headNow) {
      return bad({
        seq: headNow + 1,
        problem: `records past the audit head (seq ${headNow + 1}-${max}) were written behind its back`,
      });
    }
  }

  if (records > 0 && !checkpoint) {
    return bad({ seq: null, problem: 'no signed checkpoint: the log cannot be told apart from a rewrite' });
  }
  const headSeq = head?.seq ?? 0;
  const unsignedTail = checkpoint ? headSeq - checkpoint.seq : records;
  const parts = [`chain intact, ${num(records)} records`];
  if (checkpoint) {
    parts.push(
      `last signed checkpoint at seq ${num(checkpoint.seq)} (${ago(now.getTime() - Date.parse(checkpoint.time))})`,
    );
  }
  if (archivedBefore !== null && archives.length === 0) {
    parts.push(`records before seq ${num(archivedBefore)} are archived (not checked here)`);
  }
  return { ok: true, records, checkpoint, unsignedTail, archivedBefore, summary: parts.join(', ') };
}

import type { DatabaseSync } from 'node:sqlite';
import { ChainChecker, linkOfRow, missing, type ChainLink, type Problem } from './chain';
import { committedHash, remembersAny } from './own-hashes';
import { CHECKPOINT_TYPE, REFUSED_TYPE, type PreparedEntry } from './record';
import {
  chainStart,
  chunksFrom,
  lastCheckpointRow,
  linksFrom,
  readAnchor,
  row,
  SQL,
  type Head,
  type StoredLink,
} from './statements';
import { anchorText, checkpointText, signerKey, signText, verifyText, type AuditSigner } from './signing';

/** The check before a checkpoint reads at most this many records unless the caller says otherwise. */
export const DEFAULT_MAX_SEGMENT = 1_000_000;
const CHUNK = 5_000;

/**
 * Checks everything a new checkpoint would vouch for: the records since the previous checkpoint
 * (including that checkpoint's own signature), or since the retention anchor if there is none.
 * `head` is where the check ends: the head before the caller's batch, whose rows appendAudit just built.
 */
export function checkSegment(
  db: DatabaseSync,
  signer: AuditSigner,
  head: Head,
  maxSegment: number,
): Problem | null {
  const key = signerKey(signer);
  const cp = lastCheckpointRow(db);
  let start: Head;
  if (cp) {
    start = { seq: cp.seq, hash: cp.prev };
  } else {
    const anchor = readAnchor(db);
    if (anchor && !verifyText(key, anchorText(anchor.seq, anchor.prev, anchor.archivedAt), anchor.sig)) {
      return { seq: anchor.seq, problem: 'the retention anchor’s signature does not verify' };
    }
    start = chainStart(anchor);
  }
  const span = head.seq - start.seq + 1;
  if (span > maxSegment) {
    return {
      seq: start.seq,
      problem: `${span} records since the last checkpoint are more than one checkpoint checks (${maxSegment}); run the audit chain check`,
    };
  }
  const checker = new ChainChecker(key, start);
  const p = remembersAny(db) ? checkLinks(db, checker, head) : checkRows(db, checker, head);
  if (p) return p;
  const last = checker.nextSeq - 1;
  if (last !== head.seq) return { seq: last + 1, problem: missing(last + 1, head.seq) };
  if (checker.prevHash !== head.hash)
    return { seq: head.seq, problem: 'edited: it no longer matches the audit head' };
  return null;
}

/** Every row read whole and re-hashed (a process that has appended nothing yet remembers nothing). */
function checkRows(db: DatabaseSync, checker: ChainChecker, head: Head): Problem | null {
  for (const batch of chunksFrom(db, checker.nextSeq, head.seq, CHUNK)) {
    for (const r of batch) {
      const p = checker.push(linkOfRow(r));
      if (p) return p;
    }
  }
  return null;
}

/** Rows this process committed held against their remembered hashes, the others re-hashed. */
function checkLinks(db: DatabaseSync, checker: ChainChecker, head: Head): Problem | null {
  for (const batch of linksFrom(db, checker.nextSeq, head.seq, CHUNK)) {
    for (const l of batch) {
      const link = linkOf(db, l);
      if ('problem' in link) return link;
      const p = checker.push(link);
      if (p) return p;
    }
  }
  return null;
}

/**
 * A row's link: re-hashed from its columns, or, for a row this process committed, its stored hash
 * held against the one computed when it was written (own-hashes.ts). Checkpoints are always read
 * whole: their signature is checked.
 */
function linkOf(db: DatabaseSync, l: StoredLink): ChainLink | Problem {
  const own = l.type === CHECKPOINT_TYPE ? undefined : committedHash(db, l.seq);
  if (own !== undefined) {
    if (own !== l.hash) return { seq: l.seq, problem: 'edited: its hash is not the one written with it' };
    return { seq: l.seq, prev: l.prev, type: l.type, details: '', hash: own, stored: own };
  }
  const r = row(db, SQL.at, l.seq);
  return r ? linkOfRow(r) : { seq: l.seq, problem: missing(l.seq, l.seq) };
}

/** The checkpoint record for `covers`, or a refusal naming the problem when the segment does not check out. */
export function checkpointEntry(
  db: DatabaseSync,
  signer: AuditSigner,
  covers: Head,
  checkUpTo: Head,
  now: Date,
  maxSegment: number,
): PreparedEntry {
  const signedAt = now.toISOString();
  const problem = checkUpTo.seq === 0 ? null : checkSegment(db, signer, checkUpTo, maxSegment);
  const details = problem
    ? { covers: { seq: covers.seq, hash: covers.hash }, firstBad: problem }
    : {
        covers: { seq: covers.seq, hash: covers.hash },
        signedAt,
        sig: signText(signer, checkpointText(covers.seq, covers.hash, signedAt)),
      };
  return {
    time: signedAt,
    type: problem ? REFUSED_TYPE : CHECKPOINT_TYPE,
    actor_kind: 'system',
    actor: '',
    actor_serial: null,
    cn: null,
    serial: null,
    details: JSON.stringify(details),
  };
}

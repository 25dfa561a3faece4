import { CHECKPOINT_TYPE, recordLine, sha256hex, type AuditRow } from './record';
import type { Head } from './statements';
import { checkpointText, verifyText, type VerifyKey } from './signing';

export interface Problem {
  readonly seq: number | null;
  readonly problem: string;
}

/** What the chain needs of a record, from a database row or an archive line. */
export interface ChainLink {
  readonly seq: number;
  readonly prev: string;
  readonly type: string;
  readonly details: string;
  /** SHA-256 of the record's line as it is now. */
  readonly hash: string;
  /** The hash the database stored beside it (archives have none: the line is the record). */
  readonly stored?: string;
}

export function linkOfRow(row: AuditRow): ChainLink {
  return {
    seq: row.seq,
    prev: row.prev,
    type: row.type,
    details: row.details,
    hash: sha256hex(recordLine(row)),
    stored: row.hash,
  };
}

export function missing(from: number, to: number): string {
  return from === to ? `seq ${from} is missing` : `seqs ${from}-${to} are missing`;
}

interface CheckpointDetails {
  covers: { seq: number; hash: string };
  signedAt: string;
  sig: string;
}

function checkpointDetails(text: string): CheckpointDetails | null {
  try {
    const d = JSON.parse(text) as Partial<CheckpointDetails> | null;
    const c = d?.covers;
    if (
      typeof c?.seq === 'number' &&
      typeof c.hash === 'string' &&
      typeof d?.signedAt === 'string' &&
      typeof d.sig === 'string'
    ) {
      return d as CheckpointDetails;
    }
  } catch {
    // not JSON: reported below as a malformed checkpoint
  }
  return null;
}

/**
 * Walks records in seq order, one at a time, so verification, archiving and the check before each
 * checkpoint share one definition of "intact" and hold one record in memory.
 */
export class ChainChecker {
  nextSeq: number;
  prevHash: string;
  count = 0;
  lastCheckpoint: { seq: number; time: string } | null = null;

  constructor(
    private readonly key: VerifyKey,
    start: Head,
  ) {
    this.nextSeq = start.seq;
    this.prevHash = start.hash;
  }

  push(r: ChainLink): Problem | null {
    if (r.seq !== this.nextSeq) {
      if (r.seq < this.nextSeq)
        return { seq: r.seq, problem: `out of order: seq ${r.seq} follows seq ${this.nextSeq - 1}` };
      return { seq: this.nextSeq, problem: missing(this.nextSeq, r.seq - 1) };
    }
    if (r.stored !== undefined && r.stored !== r.hash) {
      return { seq: r.seq, problem: 'edited: its content no longer matches its stored hash' };
    }
    if (r.prev !== this.prevHash) {
      return {
        seq: r.seq,
        problem:
          r.seq === 1
            ? 'edited: the first record’s prev must be 64 zeros'
            : `edited: its prev does not match the hash of seq ${r.seq - 1} (one of the two was changed)`,
      };
    }
    if (r.type === CHECKPOINT_TYPE) {
      const p = this.checkpoint(r);
      if (p) return p;
    }
    this.prevHash = r.hash;
    this.nextSeq++;
    this.count++;
    return null;
  }

  private checkpoint(r: ChainLink): Problem | null {
    const d = checkpointDetails(r.details);
    if (!d) return { seq: r.seq, problem: 'a malformed checkpoint (no covers, signedAt or sig)' };
    // It must sign exactly the record before it, or an old signature could be replayed anywhere.
    if (d.covers.seq !== r.seq - 1 || d.covers.hash !== r.prev) {
      return {
        seq: r.seq,
        problem: `a checkpoint that does not cover the record before it (seq ${r.seq - 1})`,
      };
    }
    if (!verifyText(this.key, checkpointText(d.covers.seq, d.covers.hash, d.signedAt), d.sig)) {
      return {
        seq: r.seq,
        problem: 'a checkpoint whose signature does not verify against the CA certificate',
      };
    }
    this.lastCheckpoint = { seq: r.seq, time: d.signedAt };
    return null;
  }
}

import { auditRecordAt, verifyAudit } from '../audit';
import type { StateDb } from '../db';
import { readAuditCa } from './state';
import type { AuditVerifyResult } from '../../shared/model';

/**
 * The audit chain and its signed checkpoints, then a cross-check against the state tables: every
 * certificate and revocation points at the record that made it. That catches a cut of the log's tail
 * that was rewound to an older checkpoint, which the chain alone cannot see.
 */
export async function verifyState(
  state: StateDb,
  opts: { archives?: string[]; now?: Date },
): Promise<AuditVerifyResult> {
  // Checkpoints are signed by the first CA's key for the life of the log (rollover.ts).
  const caPem = state.read(() => readAuditCa(state.db).certPem);
  const result = await verifyAudit(state.db, caPem, opts);
  if (!result.ok) return result;
  const archivedBefore = result.archivedBefore ?? 0;
  const refs = state.read(
    () =>
      state.db
        .prepare(
          `SELECT serial, audit_seq AS seq, 'client.issued' AS type FROM certificates
           UNION ALL SELECT serial, audit_seq AS seq, 'client.revoked' AS type FROM revocations`,
        )
        .all() as { serial: string; seq: number; type: string }[],
  );
  for (const ref of refs) {
    if (ref.seq < archivedBefore) continue; // in an archive: checked with --archive
    const record = auditRecordAt(state.db, ref.seq);
    // A renewed certificate's record is client.renewed (issue 9): it made the certificate just the same.
    const made = ref.type === 'client.issued' && record?.type === 'client.renewed';
    if (!record || (record.type !== ref.type && !made) || record.serial !== ref.serial) {
      const problem = record
        ? `record ${ref.seq} should be ${ref.type} of ${ref.serial} but is ${record.type}${record.serial ? ` of ${record.serial}` : ''}`
        : `the ${ref.type} record of ${ref.serial} (seq ${ref.seq}) is missing`;
      return {
        ...result,
        ok: false,
        firstBad: { seq: ref.seq, problem },
        summary: `audit log does not match the certificates: ${problem}`,
      };
    }
  }
  return result;
}

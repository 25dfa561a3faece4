/** The audit log (DESIGN.md §9): a hash chain in the state database, signed checkpoints, archives. */
export { AUDIT_SCHEMA_SQL } from './schema';
export {
  ARCHIVED_TYPE,
  CHECKPOINT_TYPE,
  REFUSED_TYPE,
  prepareEntry,
  type AuditEntryInput,
  type PreparedEntry,
} from './record';
export { createAuditSigner, type AuditSigner } from './signing';
export {
  appendAudit,
  appendPrepared,
  auditRecordAt,
  auditRecordsAfter,
  checkpointDue,
  lastAuditSeq,
  type AppendOptions,
} from './append';
export { DEFAULT_MAX_SEGMENT } from './checkpoint';
export { queryAudit, DEFAULT_PAGE, MAX_PAGE } from './query';
export { exportAudit, type AuditExportFormat } from './export';
export { verifyAudit, type VerifyOptions } from './verify';
export { archiveAudit, type ArchiveResult } from './archive';

export { appendAudit, auditPath, readAudit, verifyAudit, type AuditEntryInput } from './audit';

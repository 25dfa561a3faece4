import { useDeferredValue, useMemo, useState } from 'react';
import type { AuditVerifyResult } from '../../../../shared/model';
import { call } from '../../api';
import { Spinner } from '../../components/Progress';
import {
  EMPTY_AUDIT_FILTER,
  distinctTypes,
  filterAudit,
  isEmptyFilter,
  type AuditFilter,
} from '../../lib/audit-filter';
import { useAction } from '../../lib/useAction';
import { useAuditStore } from '../../stores/audit';
import { AuditList } from './AuditList';
import { AuditToolbar } from './AuditToolbar';

function VerifyResult({ result }: { readonly result: AuditVerifyResult }) {
  if (result.ok) {
    return (
      <div className="notice notice-ok" data-testid="audit-verify-result" data-ok="true">
        Chain intact: {result.records.toLocaleString()} records verified.
      </div>
    );
  }
  const bad = result.firstBad;
  return (
    <div className="notice notice-danger" data-testid="audit-verify-result" data-ok="false">
      Chain broken
      {bad ? ` at line ${bad.line}${bad.seq !== null ? ` (seq ${bad.seq})` : ''}: ${bad.problem}` : ''}.{' '}
      {result.records.toLocaleString()} records read.
    </div>
  );
}

/**
 * The audit trail, fed only by the audit store (so a bench can mount it with 100,000 records).
 * Filtering runs on a deferred copy of the filter so typing stays responsive on large trails.
 */
export function AuditPanel() {
  const records = useAuditStore((s) => s.records);
  const loading = useAuditStore((s) => s.loading);
  const [filter, setFilter] = useState<AuditFilter>(EMPTY_AUDIT_FILTER);
  const deferred = useDeferredValue(filter);
  const visible = useMemo(() => filterAudit(records, deferred), [records, deferred]);
  const types = useMemo(() => distinctTypes(records), [records]);
  const verify = useAction();
  const exporter = useAction();
  const [verifyResult, setVerifyResult] = useState<AuditVerifyResult | null>(null);
  const [exported, setExported] = useState<string | null>(null);

  const onVerify = async () => {
    setVerifyResult(null);
    const r = await verify.run(() => call('audit.verify', {}));
    if (r) setVerifyResult(r);
  };
  const onExport = async (format: 'jsonl' | 'csv') => {
    setExported(null);
    const r = await exporter.run(() => call('audit.export', { format }));
    if (r)
      setExported(
        r.path ? `Exported ${r.records.toLocaleString()} records to ${r.path}` : 'Export cancelled.',
      );
  };

  return (
    <div className="page page-fill" data-testid="audit">
      <header className="page-head">
        <h1>Audit</h1>
        <div className="page-actions">
          <button
            type="button"
            className="btn"
            data-testid="audit-export-jsonl"
            disabled={exporter.pending}
            onClick={() => void onExport('jsonl')}
          >
            Export JSONL
          </button>
          <button
            type="button"
            className="btn"
            data-testid="audit-export-csv"
            disabled={exporter.pending}
            onClick={() => void onExport('csv')}
          >
            Export CSV
          </button>
          <button
            type="button"
            className="btn btn-primary"
            data-testid="audit-verify"
            disabled={verify.pending}
            onClick={() => void onVerify()}
          >
            {verify.pending ? <Spinner /> : null}
            Verify chain
          </button>
        </div>
      </header>
      {verifyResult ? <VerifyResult result={verifyResult} /> : null}
      {verify.pending ? <div className="notice">Verifying every record's hash link…</div> : null}
      {exporter.pending ? <div className="notice">Exporting…</div> : null}
      {exported ? (
        <div className="notice notice-ok" data-testid="audit-export-result">
          {exported}
        </div>
      ) : null}
      <AuditToolbar filter={filter} types={types} onChange={setFilter} />
      <div className="audit-meta muted small" data-testid="audit-count">
        {loading ? (
          <>
            <Spinner /> Loading audit trail…
          </>
        ) : isEmptyFilter(deferred) ? (
          `${records.length.toLocaleString()} records`
        ) : (
          `${visible.length.toLocaleString()} of ${records.length.toLocaleString()} records`
        )}
        {!isEmptyFilter(filter) ? (
          <button type="button" className="link" onClick={() => setFilter(EMPTY_AUDIT_FILTER)}>
            clear filters
          </button>
        ) : null}
      </div>
      <AuditList records={visible} />
    </div>
  );
}

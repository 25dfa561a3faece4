import { useCallback, useMemo, useState } from 'react';
import type { AuditVerifyResult } from '../../../../shared/model';
import { call } from '../../api';
import { Spinner } from '../../components/Progress';
import {
  EMPTY_AUDIT_DRAFT,
  actorSuggestions,
  isEmptyDraft,
  isEmptyFilter,
  typeSuggestions,
} from '../../lib/audit-filter';
import { useAction } from '../../lib/useAction';
import { useAuditStore } from '../../stores/audit';
import { AuditList } from './AuditList';
import { AuditToolbar } from './AuditToolbar';

function VerifyResult({ result }: { readonly result: AuditVerifyResult }) {
  if (result.ok) {
    return (
      <div className="notice notice-ok" data-testid="audit-verify-result" data-ok="true">
        {result.summary}
      </div>
    );
  }
  const bad = result.firstBad;
  return (
    <div
      className="notice notice-danger"
      data-testid="audit-verify-result"
      data-ok="false"
      data-seq={bad?.seq ?? undefined}
    >
      <div>
        Chain broken
        {bad ? `${bad.seq !== null ? ` at seq ${bad.seq.toLocaleString()}` : ''}: ${bad.problem}` : ''}
      </div>
      {result.summary ? <div className="small">{result.summary}</div> : null}
    </div>
  );
}

function CountLine() {
  const status = useAuditStore((s) => s.status);
  const total = useAuditStore((s) => s.total);
  const allTotal = useAuditStore((s) => s.allTotal);
  const filter = useAuditStore((s) => s.filter);
  const error = useAuditStore((s) => s.error);
  const draft = useAuditStore((s) => s.draft);
  const setDraft = useAuditStore((s) => s.setDraft);
  const refresh = useAuditStore((s) => s.refresh);
  const filtered = !isEmptyFilter(filter);
  let text: string;
  if (status === 'error') text = `Could not load the audit trail: ${error ?? 'unknown error'}`;
  else if (total === null) text = 'Loading audit trail…';
  else if (!filtered) text = `${total.toLocaleString()} records`;
  else if (allTotal === null) text = `${total.toLocaleString()} matching records`;
  else text = `${total.toLocaleString()} of ${allTotal.toLocaleString()} records`;
  return (
    <div
      className="audit-meta muted small"
      data-testid="audit-count"
      data-state={status}
      data-filter={JSON.stringify(filter)}
      data-total={total ?? undefined}
      data-all={allTotal ?? undefined}
    >
      {status === 'loading' ? <Spinner /> : null}
      {text}
      {status === 'error' ? (
        <button type="button" className="link" onClick={refresh}>
          retry
        </button>
      ) : null}
      {!isEmptyDraft(draft) ? (
        <button
          type="button"
          className="link"
          data-testid="audit-filter-clear"
          onClick={() => setDraft(EMPTY_AUDIT_DRAFT, { immediate: true })}
        >
          clear filters
        </button>
      ) : null}
    </div>
  );
}

/**
 * The audit trail, fed only by the audit store (so a bench can mount it against a stubbed main).
 * The store holds the filter and the pages on screen; main filters, counts and pages.
 */
export function AuditPanel() {
  const records = useAuditStore((s) => s.records);
  const status = useAuditStore((s) => s.status);
  const epoch = useAuditStore((s) => s.epoch);
  const nextCursor = useAuditStore((s) => s.nextCursor);
  const loadingMore = useAuditStore((s) => s.loadingMore);
  const draft = useAuditStore((s) => s.draft);
  const draftError = useAuditStore((s) => s.draftError);
  const setDraft = useAuditStore((s) => s.setDraft);
  const loadMore = useAuditStore((s) => s.loadMore);
  const types = useMemo(() => typeSuggestions(records), [records]);
  const actors = useMemo(() => actorSuggestions(records), [records]);
  const verify = useAction();
  const exporter = useAction();
  const [verifyResult, setVerifyResult] = useState<AuditVerifyResult | null>(null);
  const [exported, setExported] = useState<{
    text: string;
    count: number | null;
    path: string | null;
  } | null>(null);
  const onNearEnd = useCallback(() => loadMore(), [loadMore]);

  const onVerify = async () => {
    setVerifyResult(null);
    const r = await verify.run(() => call('audit.verify', {}));
    if (r) setVerifyResult(r);
  };
  const onExport = async (format: 'jsonl' | 'csv') => {
    setExported(null);
    // The filter the list shows (not a half-typed draft), so the file holds what the screen counts.
    const filter = useAuditStore.getState().filter;
    const filtered = !isEmptyFilter(filter);
    const r = await exporter.run(() => call('audit.export', { format, ...(filtered ? { filter } : {}) }));
    if (!r) return;
    if (!r.path) {
      setExported({ text: 'Export cancelled.', count: null, path: null });
      return;
    }
    const what = `${r.records.toLocaleString()} ${r.records === 1 ? 'record' : 'records'}`;
    setExported({
      text: `Exported ${what}${filtered ? ' matching the filter' : ''} to ${r.path}`,
      count: r.records,
      path: r.path,
    });
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
      {verify.pending ? <div className="notice">Verifying the hash chain and signed checkpoints…</div> : null}
      {exporter.pending ? <div className="notice">Exporting…</div> : null}
      {exported ? (
        <div
          className="notice notice-ok"
          data-testid="audit-export-result"
          data-count={exported.count ?? undefined}
          data-path={exported.path ?? undefined}
        >
          {exported.text}
        </div>
      ) : null}
      <AuditToolbar draft={draft} error={draftError} types={types} actors={actors} onChange={setDraft} />
      <CountLine />
      <AuditList
        records={records}
        epoch={epoch}
        hasMore={nextCursor !== null}
        loadingMore={loadingMore}
        busy={status === 'loading'}
        onNearEnd={onNearEnd}
      />
    </div>
  );
}

import { useCallback, useMemo, useState } from 'react';
import type { AuditRecord, AuditVerifyResult } from '../../../../shared/model';
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
import { AuditDetail } from './AuditDetail';
import { AuditList } from './AuditList';
import './audit.css';
import { AuditToolbar } from './AuditToolbar';

type PanelNotice =
  | { readonly kind: 'verify'; readonly result: AuditVerifyResult }
  | {
      readonly kind: 'export';
      readonly text: string;
      readonly count: number | null;
      readonly path: string | null;
    };

/** One notice at a time, replaced by the next action's and dismissible (issue 10: they piled up). */
function Notice({ notice, onDismiss }: { readonly notice: PanelNotice; readonly onDismiss: () => void }) {
  const dismiss = (
    <button
      type="button"
      className="btn btn-small notice-dismiss"
      data-testid="audit-notice-dismiss"
      aria-label="Dismiss notice"
      onClick={onDismiss}
    >
      Dismiss
    </button>
  );
  if (notice.kind === 'export') {
    return (
      <div
        className="notice notice-ok audit-notice"
        role="status"
        data-testid="audit-export-result"
        data-count={notice.count ?? undefined}
        data-path={notice.path ?? undefined}
      >
        <span>{notice.text}</span>
        {dismiss}
      </div>
    );
  }
  const result = notice.result;
  if (result.ok) {
    return (
      <div
        className="notice notice-ok audit-notice"
        role="status"
        data-testid="audit-verify-result"
        data-ok="true"
      >
        <span>{result.summary}</span>
        {dismiss}
      </div>
    );
  }
  const bad = result.firstBad;
  return (
    <div
      className="notice notice-danger audit-notice"
      role="alert"
      data-testid="audit-verify-result"
      data-ok="false"
      data-seq={bad?.seq ?? undefined}
    >
      <div>
        <div>
          Chain broken
          {bad ? `${bad.seq !== null ? ` at seq ${bad.seq.toLocaleString()}` : ''}: ${bad.problem}` : ''}
        </div>
        {result.summary ? <div className="small">{result.summary}</div> : null}
      </div>
      {dismiss}
    </div>
  );
}

/** Live follow: new records land on top, or are counted while the operator reads. */
function FollowControl() {
  const paused = useAuditStore((s) => s.paused);
  const held = useAuditStore((s) => s.heldLive);
  const setPaused = useAuditStore((s) => s.setPaused);
  return (
    <button
      type="button"
      className="btn"
      data-testid="audit-follow"
      data-paused={paused}
      aria-pressed={paused}
      onClick={() => setPaused(!paused)}
    >
      {paused ? `Resume live${held > 0 ? ` (${held.toLocaleString()} new)` : ''}` : 'Pause live'}
    </button>
  );
}

/** The caption of the records table and the count line: the same words. */
export function countText(total: number | null, allTotal: number | null, filtered: boolean): string {
  if (total === null) return 'Loading audit trail…';
  const what = `${total.toLocaleString()} ${total === 1 ? 'record' : 'records'}`;
  if (!filtered) return what;
  if (allTotal === null) return `${total.toLocaleString()} matching records`;
  return `${total.toLocaleString()} of ${allTotal.toLocaleString()} records`;
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
  const paused = useAuditStore((s) => s.paused);
  const text =
    status === 'error'
      ? `Could not load the audit trail: ${error ?? 'unknown error'}`
      : countText(total, allTotal, filtered);
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
      {paused ? <span className="tag tag-warn">live paused</span> : null}
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
  const total = useAuditStore((s) => s.total);
  const allTotal = useAuditStore((s) => s.allTotal);
  const filter = useAuditStore((s) => s.filter);
  const selected = useAuditStore((s) => s.selected);
  const select = useAuditStore((s) => s.select);
  const showFor = useAuditStore((s) => s.showFor);
  const types = useMemo(() => typeSuggestions(records), [records]);
  const actors = useMemo(() => actorSuggestions(records), [records]);
  const verify = useAction();
  const exporter = useAction();
  const [notice, setNotice] = useState<PanelNotice | null>(null);
  const onNearEnd = useCallback(() => loadMore(), [loadMore]);
  const onOpen = useCallback((r: AuditRecord) => select(r), [select]);
  // Focus goes back to the row's button the record was opened from, when it is still in view.
  const onCloseDetail = useCallback(() => {
    const seq = useAuditStore.getState().selected?.seq;
    select(null);
    if (seq === undefined) return;
    document
      .querySelector<HTMLButtonElement>(
        `[data-testid="audit-row"][data-seq="${seq}"] [data-testid="audit-open"]`,
      )
      ?.focus();
  }, [select]);
  const filtered = !isEmptyFilter(filter);
  const caption = `Audit records, newest first: ${countText(total, allTotal, filtered)}`;

  const onVerify = async () => {
    setNotice(null);
    const r = await verify.run(() => call('audit.verify', {}));
    if (r) setNotice({ kind: 'verify', result: r });
  };
  const onExport = async (format: 'jsonl' | 'csv') => {
    setNotice(null);
    // The filter the list shows (not a half-typed draft), so the file holds what the screen counts.
    const shown = useAuditStore.getState().filter;
    const narrowed = !isEmptyFilter(shown);
    const r = await exporter.run(() =>
      call('audit.export', { format, ...(narrowed ? { filter: shown } : {}) }),
    );
    if (!r) return;
    if (!r.path) {
      setNotice({ kind: 'export', text: 'Export cancelled.', count: null, path: null });
      return;
    }
    const what = `${r.records.toLocaleString()} ${r.records === 1 ? 'record' : 'records'}`;
    setNotice({
      kind: 'export',
      text: `Exported ${what}${narrowed ? ' matching the filter' : ''} to ${r.path}`,
      count: r.records,
      path: r.path,
    });
  };

  return (
    <div className="page page-fill" data-testid="audit">
      <header className="page-head">
        <h1>Audit</h1>
        <div className="page-actions">
          <FollowControl />
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
      {verify.pending ? (
        <div className="notice" role="status">
          Verifying the hash chain and signed checkpoints…
        </div>
      ) : null}
      {exporter.pending ? (
        <div className="notice" role="status">
          Exporting…
        </div>
      ) : null}
      {notice ? <Notice notice={notice} onDismiss={() => setNotice(null)} /> : null}
      <AuditToolbar draft={draft} error={draftError} types={types} actors={actors} onChange={setDraft} />
      <CountLine />
      <div className={selected ? 'audit-body audit-body-split' : 'audit-body'}>
        <AuditList
          records={records}
          epoch={epoch}
          hasMore={nextCursor !== null}
          loadingMore={loadingMore}
          busy={status === 'loading'}
          onNearEnd={onNearEnd}
          total={total}
          caption={caption}
          selectedSeq={selected?.seq ?? null}
          onOpen={onOpen}
        />
        {selected ? (
          <AuditDetail record={selected} onClose={onCloseDetail} onShowCertificate={showFor} />
        ) : null}
      </div>
    </div>
  );
}

import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useLayoutEffect, useRef } from 'react';
import type { AuditRecord } from '../../../../shared/model';
import { actorLabel, actorName, detailsSummary } from '../../lib/audit-filter';
import { formatDateTime } from '../../lib/format';

export const AUDIT_ROW_HEIGHT = 30;
/** Rows left below the viewport when the next older page is requested (a page is 200 rows). */
const LOAD_AHEAD_ROWS = 60;

const AuditRow = memo(function AuditRow({ r }: { readonly r: AuditRecord }) {
  const tone =
    r.type.includes('refused') || r.type.includes('crash') || r.type.includes('revoke') ? 'row-warn' : '';
  const summary = detailsSummary(r.details);
  return (
    <>
      <span className="a-seq mono">{r.seq}</span>
      <span className="a-time mono" title={r.time}>
        {formatDateTime(r.time)}
        {r.time.slice(16, 19)}
      </span>
      <span className={`a-type ${tone}`}>{r.type}</span>
      <span className="a-actor">{actorLabel(r.actor)}</span>
      <span className="a-subject" title={r.serial ? `serial ${r.serial}` : undefined}>
        {r.cn ?? ''}
      </span>
      <span className="a-details mono" title={summary}>
        {summary}
      </span>
    </>
  );
});

interface AuditListProps {
  /** Loaded records, newest first. */
  readonly records: readonly AuditRecord[];
  /** Changes when `records` was replaced by a new first page: the list goes back to the top. */
  readonly epoch: number;
  /** An older page exists. */
  readonly hasMore: boolean;
  readonly loadingMore: boolean;
  /** Dimmed while the shown records belong to a filter being replaced. */
  readonly busy: boolean;
  readonly onNearEnd: () => void;
}

/**
 * The loaded audit pages, newest first, virtualized: only the rows in view (plus a small overscan)
 * exist in the DOM. Scrolling near the last loaded row asks for the next older page.
 */
export function AuditList({ records, epoch, hasMore, loadingMore, busy, onNearEnd }: AuditListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const count = records.length;
  // eslint-disable-next-line react-hooks/incompatible-library -- useVirtualizer returns fresh functions by design
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => AUDIT_ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => (records[i] as AuditRecord).seq,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length > 0 ? (items[items.length - 1] as { index: number }).index : -1;

  // A new filter's first page starts at the top.
  useLayoutEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [epoch]);

  // Live records land on top: keep the rows the operator is reading still, unless they are at the top.
  const topSeq = useRef<number | null>(null);
  useLayoutEffect(() => {
    const el = scroller.current;
    const prev = topSeq.current;
    topSeq.current = records[0]?.seq ?? null;
    if (!el || prev === null || el.scrollTop === 0 || records[0]?.seq === prev) return;
    const added = records.findIndex((r) => r.seq === prev);
    if (added > 0) el.scrollTop += added * AUDIT_ROW_HEIGHT;
  }, [records]);

  useEffect(() => {
    if (hasMore && !loadingMore && lastIndex >= 0 && lastIndex >= count - LOAD_AHEAD_ROWS) onNearEnd();
  }, [hasMore, loadingMore, lastIndex, count, onNearEnd]);

  return (
    <div
      className={busy ? 'audit-list audit-busy' : 'audit-list'}
      data-testid="audit-list"
      data-count={count}
      data-has-more={hasMore}
      aria-busy={busy || loadingMore}
    >
      <div className="audit-head" role="row">
        <span className="a-seq">#</span>
        <span className="a-time">Time</span>
        <span className="a-type">Type</span>
        <span className="a-actor">Actor</span>
        <span className="a-subject">Certificate</span>
        <span className="a-details">Details</span>
      </div>
      <div ref={scroller} className="audit-scroll" role="rowgroup">
        <div
          className="audit-canvas"
          style={{ height: virtualizer.getTotalSize() + (hasMore ? AUDIT_ROW_HEIGHT : 0) }}
        >
          {items.map((item) => {
            const r = records[item.index] as AuditRecord;
            return (
              <div
                key={item.key}
                className="audit-row"
                role="row"
                data-testid="audit-row"
                data-seq={r.seq}
                data-type={r.type}
                data-actor={actorName(r.actor)}
                data-cn={r.cn ?? undefined}
                style={{ transform: `translateY(${item.start}px)` }}
              >
                <AuditRow r={r} />
              </div>
            );
          })}
          {hasMore ? (
            <div
              className="audit-row audit-more muted"
              data-testid="audit-loading-more"
              style={{ transform: `translateY(${virtualizer.getTotalSize()}px)` }}
            >
              <span>{loadingMore ? 'Loading older records…' : ''}</span>
            </div>
          ) : null}
        </div>
        {count === 0 && !busy ? <div className="empty">No records match.</div> : null}
      </div>
    </div>
  );
}

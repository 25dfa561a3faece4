import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useLayoutEffect, useRef } from 'react';
import type { AuditRecord } from '../../../../shared/model';
import { actorLabel, actorName, detailsSummary } from '../../lib/audit-filter';
import { formatDateTimeSeconds } from '../../lib/format';

export const AUDIT_ROW_HEIGHT = 30;
/** Rows left below the viewport when the next older page is requested (a page is 200 rows). */
const LOAD_AHEAD_ROWS = 60;

/** Records that are a failure or a refusal, in words as well as colour. */
export function auditTone(type: string): 'warn' | 'danger' | null {
  if (type.includes('crash') || type.includes('upstream.error') || type.includes('failed')) return 'danger';
  if (
    type.includes('refused') ||
    type.includes('revoke') ||
    type.includes('dropped') ||
    type.includes('held')
  )
    return 'warn';
  return null;
}

const AuditRow = memo(function AuditRow({
  r,
  onOpen,
}: {
  readonly r: AuditRecord;
  readonly onOpen: (r: AuditRecord) => void;
}) {
  const tone = auditTone(r.type);
  const summary = detailsSummary(r.details);
  return (
    <>
      <span className="a-seq mono" role="cell">
        <button
          type="button"
          className="link a-open"
          aria-label={`Open record ${r.seq}, ${r.type}`}
          data-testid="audit-open"
          onClick={(e) => {
            e.stopPropagation();
            onOpen(r);
          }}
        >
          {r.seq}
        </button>
      </span>
      <span className="a-time mono" role="cell" title={r.time}>
        {formatDateTimeSeconds(r.time)}
      </span>
      <span className={`a-type ${tone ? `row-${tone}` : ''}`} role="cell">
        {r.type}
        {tone ? <span className="sr-only">{tone === 'danger' ? ' (error)' : ' (warning)'}</span> : null}
      </span>
      <span className="a-actor" role="cell">
        {actorLabel(r.actor)}
      </span>
      <span className="a-subject" role="cell" title={r.serial ? `serial ${r.serial}` : undefined}>
        {r.cn ?? ''}
      </span>
      <span className="a-details mono" role="cell">
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
  /** Records matching in all (main's count), for the table's row count; null while unknown. */
  readonly total: number | null;
  /** The table's caption: what it shows ("Audit records, newest first: 6 of 3,174"). */
  readonly caption: string;
  readonly selectedSeq: number | null;
  readonly onOpen: (r: AuditRecord) => void;
}

/**
 * The loaded audit pages, newest first, virtualized: only the rows in view (plus a small overscan)
 * exist in the DOM. Scrolling near the last loaded row asks for the next older page.
 */
export function AuditList({
  records,
  epoch,
  hasMore,
  loadingMore,
  busy,
  onNearEnd,
  total,
  caption,
  selectedSeq,
  onOpen,
}: AuditListProps) {
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

  // A virtualized table: only rows in view exist, so each says where it stands (aria-rowindex).
  return (
    <>
      <div id="audit-caption" className="sr-only" data-testid="audit-caption">
        {caption}
      </div>
      <div
        className={busy ? 'audit-list audit-busy' : 'audit-list'}
        data-testid="audit-list"
        data-count={count}
        data-has-more={hasMore}
        role="table"
        aria-labelledby="audit-caption"
        aria-rowcount={(total ?? count) + 1}
        aria-busy={busy || loadingMore}
      >
        <div role="rowgroup">
          <div className="audit-head" role="row" aria-rowindex={1}>
            <span className="a-seq" role="columnheader">
              #
            </span>
            <span className="a-time" role="columnheader">
              Time
            </span>
            <span className="a-type" role="columnheader">
              Type
            </span>
            <span className="a-actor" role="columnheader">
              Actor
            </span>
            <span className="a-subject" role="columnheader">
              Certificate
            </span>
            <span className="a-details" role="columnheader">
              Details
            </span>
          </div>
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
                  className={r.seq === selectedSeq ? 'audit-row audit-row-on' : 'audit-row'}
                  role="row"
                  aria-rowindex={item.index + 2}
                  data-testid="audit-row"
                  data-seq={r.seq}
                  data-type={r.type}
                  data-actor={actorName(r.actor)}
                  data-cn={r.cn ?? undefined}
                  style={{ transform: `translateY(${item.start}px)` }}
                  onClick={() => onOpen(r)}
                >
                  <AuditRow r={r} onOpen={onOpen} />
                </div>
              );
            })}
            {hasMore ? (
              <div
                className="audit-row audit-more muted"
                role="row"
                data-testid="audit-loading-more"
                style={{ transform: `translateY(${virtualizer.getTotalSize()}px)` }}
              >
                <span role="cell">{loadingMore ? 'Loading older records…' : ''}</span>
              </div>
            ) : null}
          </div>
          {count === 0 && !busy ? (
            <div className="empty" role="row">
              <span role="cell">No records match.</span>
            </div>
          ) : null}
        </div>
      </div>
    </>
  );
}

import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useRef } from 'react';
import type { AuditRecord } from '../../../../shared/model';
import { actorLabel, detailsSummary } from '../../lib/audit-filter';
import { formatDateTime } from '../../lib/format';

export const AUDIT_ROW_HEIGHT = 30;

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
      <span className="a-actor" title={r.actor.kind === 'client' ? `serial ${r.actor.serial}` : undefined}>
        {actorLabel(r.actor)}
      </span>
      <span className="a-details mono" title={summary}>
        {summary}
      </span>
    </>
  );
});

/**
 * The audit trail, newest first, virtualized: only the rows in view (plus a small overscan) exist in
 * the DOM, so 100,000 records scroll like 100.
 */
export function AuditList({ records }: { readonly records: readonly AuditRecord[] }) {
  const scroller = useRef<HTMLDivElement>(null);
  const count = records.length;
  // eslint-disable-next-line react-hooks/incompatible-library -- useVirtualizer returns fresh functions by design
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => AUDIT_ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => (records[count - 1 - i] as AuditRecord).seq,
  });
  const items = virtualizer.getVirtualItems();
  return (
    <div className="audit-list" data-testid="audit-list" data-count={count}>
      <div className="audit-head" role="row">
        <span className="a-seq">#</span>
        <span className="a-time">Time</span>
        <span className="a-type">Type</span>
        <span className="a-actor">Actor</span>
        <span className="a-details">Details</span>
      </div>
      <div ref={scroller} className="audit-scroll" role="rowgroup">
        <div className="audit-canvas" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const r = records[count - 1 - item.index] as AuditRecord;
            return (
              <div
                key={item.key}
                className="audit-row"
                role="row"
                data-testid="audit-row"
                data-seq={r.seq}
                data-type={r.type}
                style={{ transform: `translateY(${item.start}px)` }}
              >
                <AuditRow r={r} />
              </div>
            );
          })}
        </div>
        {count === 0 ? <div className="empty">No records match.</div> : null}
      </div>
    </div>
  );
}

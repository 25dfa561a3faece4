import { useEffect, useRef } from 'react';
import type { AuditActor, AuditRecord } from '../../../../shared/model';
import { formatDateTimeSeconds } from '../../lib/format';
import { auditTone } from './AuditList';

function actorText(a: AuditActor): string {
  switch (a.kind) {
    case 'operator':
      return `operator ${a.name}`;
    case 'client':
      return `client ${a.cn} (serial ${a.serial})`;
    case 'system':
      return 'system (the console itself)';
    default: {
      const never: never = a;
      return String(never);
    }
  }
}

function Field({
  k,
  children,
  mono,
}: {
  readonly k: string;
  readonly children: string;
  readonly mono?: boolean;
}) {
  return (
    <div className="audit-field">
      <dt>{k}</dt>
      <dd
        className={mono ? 'mono' : undefined}
        data-testid={`audit-detail-${k.toLowerCase().replace(/\W+/g, '-')}`}
      >
        {children}
      </dd>
    </div>
  );
}

interface AuditDetailProps {
  readonly record: AuditRecord;
  readonly onClose: () => void;
  /** "Everything about this certificate": the list filtered by the record's serial. */
  readonly onShowCertificate: (target: { serial?: string; cn?: string }) => void;
}

/**
 * One record, every field in full (issue 10: details were cut off with "…"), with the hash chain
 * fields that tie it to its neighbours: `prev` is the hash of the record before, `hash` this record's
 * JSON Lines export hashed.
 */
export function AuditDetail({ record: r, onClose, onShowCertificate }: AuditDetailProps) {
  const heading = useRef<HTMLHeadingElement>(null);
  // The pane opens from a row's button: reading starts at its heading.
  useEffect(() => heading.current?.focus(), [r.seq]);
  const tone = auditTone(r.type);
  return (
    <aside
      className="audit-detail card"
      aria-labelledby="audit-detail-title"
      data-testid="audit-detail"
      data-seq={r.seq}
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <header className="card-head">
        <h2 id="audit-detail-title" tabIndex={-1} ref={heading}>
          Record {r.seq}
        </h2>
        <button
          type="button"
          className="btn btn-small"
          data-testid="audit-detail-close"
          aria-label={`Close record ${r.seq}`}
          onClick={onClose}
        >
          Close
        </button>
      </header>
      <dl className="audit-fields">
        <Field k="Type">{tone ? `${r.type} (${tone === 'danger' ? 'error' : 'warning'})` : r.type}</Field>
        <Field k="Time" mono>
          {`${formatDateTimeSeconds(r.time)} (${r.time})`}
        </Field>
        <Field k="Actor">{actorText(r.actor)}</Field>
        <Field k="CN">{r.cn ?? '—'}</Field>
        <Field k="Serial" mono>
          {r.serial ?? '—'}
        </Field>
      </dl>
      <h3 className="audit-detail-sub">Details</h3>
      <pre className="audit-json" data-testid="audit-detail-details">
        {JSON.stringify(r.details, null, 2)}
      </pre>
      <h3 className="audit-detail-sub">Hash chain</h3>
      <dl className="audit-fields">
        <Field k="Previous hash" mono>
          {r.prev}
        </Field>
        <Field k="Hash" mono>
          {r.hash}
        </Field>
      </dl>
      {r.serial !== null || r.cn !== null ? (
        <footer className="card-actions">
          <button
            type="button"
            className="btn"
            data-testid="audit-detail-certificate"
            onClick={() =>
              onShowCertificate(r.serial !== null ? { serial: r.serial } : { cn: r.cn ?? undefined })
            }
          >
            Everything about {r.cn ?? `serial ${r.serial ?? ''}`}
          </button>
        </footer>
      ) : null}
    </aside>
  );
}

import { useId, useState } from 'react';
import type { AuditFilterDraft, DraftField } from '../../lib/audit-filter';
import { formatDateTime, parseDateTime } from '../../lib/format';

interface AuditToolbarProps {
  readonly draft: AuditFilterDraft;
  readonly error: { readonly field: DraftField; readonly message: string } | null;
  readonly types: readonly string[];
  readonly actors: readonly string[];
  readonly onChange: (d: AuditFilterDraft) => void;
}

/**
 * A time bound typed in the UI's one format (`2026-12-01 14:05`, local; a date alone is its midnight)
 * instead of a native picker that follows the OS locale. `end`: the bound is inclusive, so "to 10:05"
 * means through the end of that minute, and "to 2026-12-01" through the end of that day.
 */
function TimeField({
  label,
  value,
  end,
  invalid,
  testId,
  onChange,
}: {
  readonly label: string;
  readonly value: number | null;
  readonly end: boolean;
  readonly invalid: boolean;
  readonly testId: string;
  readonly onChange: (ms: number | null) => void;
}) {
  const [text, setText] = useState(() => (value === null ? '' : formatDateTime(value)));
  const [bad, setBad] = useState(false);
  const errorId = useId();
  const toMs = (t: string): number | null | undefined => {
    if (t.trim() === '') return null;
    const d = parseDateTime(t);
    if (!d) return undefined;
    if (!end) return d.getTime();
    const dateOnly = !/[T ]\d/.test(t.trim());
    return d.getTime() + (dateOnly ? 86_400_000 - 1 : 59_999);
  };
  // A change from outside (clear filters, "everything about…") shows in the box; adjusted while
  // rendering, as React advises for state derived from a prop.
  const [seen, setSeen] = useState(value);
  if (seen !== value) {
    setSeen(value);
    if (toMs(text) !== value) {
      setText(value === null ? '' : formatDateTime(value));
      setBad(false);
    }
  }
  return (
    <label className="inline-label">
      {label}
      <input
        className="mono audit-toolbar-time"
        placeholder="YYYY-MM-DD HH:MM"
        data-testid={testId}
        value={text}
        aria-invalid={bad || invalid ? true : undefined}
        aria-describedby={bad ? errorId : undefined}
        onChange={(e) => {
          setText(e.target.value);
          const ms = toMs(e.target.value);
          setBad(ms === undefined);
          if (ms !== undefined) onChange(ms);
        }}
      />
      {bad ? (
        <span id={errorId} className="field-error small">
          Use YYYY-MM-DD HH:MM
        </span>
      ) : null}
    </label>
  );
}

const LABELS: Record<DraftField, string> = {
  type: 'Type',
  cn: 'CN',
  serial: 'Serial',
  actor: 'Actor',
  text: 'Text',
  from: 'From',
  to: 'To',
};

/**
 * Filters main applies (DESIGN.md §9): type prefix (known types suggested), CN, serial, actor,
 * time range and free text. Each change goes to the store, which queries after a short pause.
 */
export function AuditToolbar({ draft, error, types, actors, onChange }: AuditToolbarProps) {
  const invalid = (f: DraftField) => (error?.field === f ? true : undefined);
  const text = (field: 'type' | 'cn' | 'serial' | 'actor' | 'text') => ({
    value: draft[field],
    'aria-invalid': invalid(field),
    onChange: (e: { target: { value: string } }) => onChange({ ...draft, [field]: e.target.value }),
  });
  return (
    <div className="toolbar toolbar-wrap" role="search">
      <input
        list="audit-types"
        className="search"
        placeholder="Type (e.g. gateway.connection)"
        aria-label="Filter by type (prefix)"
        data-testid="audit-filter-type"
        {...text('type')}
      />
      <datalist id="audit-types">
        {types.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <input
        className="input-mid"
        placeholder="CN"
        aria-label="Filter by certificate CN"
        data-testid="audit-filter-cn"
        {...text('cn')}
      />
      <input
        className="input-mid mono"
        placeholder="Serial"
        aria-label="Filter by certificate serial"
        data-testid="audit-filter-serial"
        {...text('serial')}
      />
      <input
        list="audit-actors"
        className="input-mid"
        placeholder="Actor"
        aria-label="Filter by actor (operator name)"
        data-testid="audit-filter-actor"
        {...text('actor')}
      />
      <datalist id="audit-actors">
        {actors.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <TimeField
        label="From"
        testId="audit-filter-from"
        value={draft.from}
        end={false}
        invalid={invalid('from') === true}
        onChange={(from) => onChange({ ...draft, from })}
      />
      <TimeField
        label="To"
        testId="audit-filter-to"
        value={draft.to}
        end
        invalid={invalid('to') === true}
        onChange={(to) => onChange({ ...draft, to })}
      />
      <input
        className="search"
        placeholder="Text in any field"
        aria-label="Filter by text"
        data-testid="audit-filter-text"
        {...text('text')}
      />
      {error ? (
        <div className="field-error small" role="alert" data-testid="audit-filter-error">
          {LABELS[error.field]}: {error.message}
        </div>
      ) : null}
    </div>
  );
}

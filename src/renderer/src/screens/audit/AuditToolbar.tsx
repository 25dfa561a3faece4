import type { AuditFilterDraft, DraftField } from '../../lib/audit-filter';

interface AuditToolbarProps {
  readonly draft: AuditFilterDraft;
  readonly error: { readonly field: DraftField; readonly message: string } | null;
  readonly types: readonly string[];
  readonly actors: readonly string[];
  readonly onChange: (d: AuditFilterDraft) => void;
}

function toLocalInput(ms: number | null): string {
  if (ms === null) return '';
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}
function fromLocalInput(s: string): number | null {
  if (s === '') return null;
  const t = new Date(s).getTime();
  return Number.isNaN(t) ? null : t;
}
/** The picker has minute precision; "to 10:05" means through the end of that minute (the bound is inclusive). */
function endOfMinute(ms: number | null): number | null {
  return ms === null ? null : ms + 59_999;
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
      <label className="inline-label">
        From
        <input
          type="datetime-local"
          data-testid="audit-filter-from"
          aria-invalid={invalid('from')}
          value={toLocalInput(draft.from)}
          onChange={(e) => onChange({ ...draft, from: fromLocalInput(e.target.value) })}
        />
      </label>
      <label className="inline-label">
        To
        <input
          type="datetime-local"
          data-testid="audit-filter-to"
          aria-invalid={invalid('to')}
          value={toLocalInput(draft.to)}
          onChange={(e) => onChange({ ...draft, to: endOfMinute(fromLocalInput(e.target.value)) })}
        />
      </label>
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

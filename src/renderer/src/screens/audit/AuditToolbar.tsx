import type { AuditFilter } from '../../lib/audit-filter';

interface AuditToolbarProps {
  readonly filter: AuditFilter;
  readonly types: readonly string[];
  readonly onChange: (f: AuditFilter) => void;
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

/** Filters: type (substring, with the known types suggested), CN, serial prefix, and a time range. */
export function AuditToolbar({ filter, types, onChange }: AuditToolbarProps) {
  return (
    <div className="toolbar toolbar-wrap">
      <input
        list="audit-types"
        className="search"
        placeholder="Type (e.g. gateway.connection.refused)"
        aria-label="Filter by type"
        data-testid="audit-filter-type"
        value={filter.type}
        onChange={(e) => onChange({ ...filter, type: e.target.value })}
      />
      <datalist id="audit-types">
        {types.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <input
        className="input-mid"
        placeholder="CN"
        aria-label="Filter by CN"
        data-testid="audit-filter-cn"
        value={filter.cn}
        onChange={(e) => onChange({ ...filter, cn: e.target.value })}
      />
      <input
        className="input-mid mono"
        placeholder="Serial"
        aria-label="Filter by serial"
        data-testid="audit-filter-serial"
        value={filter.serial}
        onChange={(e) => onChange({ ...filter, serial: e.target.value })}
      />
      <label className="inline-label">
        From
        <input
          type="datetime-local"
          data-testid="audit-filter-from"
          value={toLocalInput(filter.from)}
          onChange={(e) => onChange({ ...filter, from: fromLocalInput(e.target.value) })}
        />
      </label>
      <label className="inline-label">
        To
        <input
          type="datetime-local"
          data-testid="audit-filter-to"
          value={toLocalInput(filter.to)}
          onChange={(e) => onChange({ ...filter, to: fromLocalInput(e.target.value) })}
        />
      </label>
    </div>
  );
}

import { classifyHost } from '../../../../shared/validation';
import { addHosts } from './schema';

interface HostChipsProps {
  readonly value: readonly string[];
  readonly onChange: (hosts: string[]) => void;
  /** The text in the box; the wizard adds it on Next too, so it lives in the form. */
  readonly draft: string;
  readonly onDraftChange: (text: string) => void;
  /** A refused entry or the hosts field's error. */
  readonly error?: string | undefined;
  readonly onError: (message: string | null) => void;
}

/** Server hosts as chips: each entry is checked with classifyHost and tagged DNS or IP. */
export function HostChips({ value, onChange, draft, onDraftChange, error, onError }: HostChipsProps) {
  const add = () => {
    if (draft.trim() === '') return;
    const res = addHosts(value, draft);
    if ('error' in res) {
      onError(res.error);
      return;
    }
    onChange(res.hosts);
    onDraftChange('');
    onError(null);
  };

  return (
    <div className="chips-field">
      <ul className="chips" aria-label="Server hosts">
        {value.map((h) => (
          <li key={h} className="chip" data-testid={`wizard-host-chip-${h}`}>
            <span className={`chip-kind chip-kind-${classifyHost(h) ?? 'bad'}`}>
              {classifyHost(h) === 'ip' ? 'IP' : 'DNS'}
            </span>
            <span>{h}</span>
            <button
              type="button"
              className="chip-remove"
              aria-label={`Remove ${h}`}
              data-testid={`wizard-host-remove-${h}`}
              onClick={() => onChange(value.filter((x) => x !== h))}
            >
              ×
            </button>
          </li>
        ))}
        {value.length === 0 ? <li className="muted">No hosts yet</li> : null}
      </ul>
      <div className="inline">
        <input
          id="wizard-host-input"
          data-testid="wizard-host-input"
          value={draft}
          placeholder="gateway.example.internal or 10.0.0.5"
          aria-invalid={error !== undefined}
          aria-describedby="wizard-host-message"
          onChange={(e) => {
            onDraftChange(e.target.value);
            onError(null);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        />
        <button type="button" className="btn" data-testid="wizard-host-add" onClick={add}>
          Add
        </button>
      </div>
      {error !== undefined ? (
        <span id="wizard-host-message" className="field-error" role="alert" data-testid="wizard-host-error">
          {error}
        </span>
      ) : (
        <span id="wizard-host-message" className="field-hint">
          SANs of the gateway&apos;s server certificate. Press Enter to add; separate several with commas.
        </span>
      )}
    </div>
  );
}

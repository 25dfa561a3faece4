import { useState } from 'react';
import { classifyHost } from '../../../../shared/validation';

interface HostChipsProps {
  readonly value: readonly string[];
  readonly onChange: (hosts: string[]) => void;
  readonly error?: string;
}

/** Server hosts as chips: each entry is checked with classifyHost and tagged DNS or IP. */
export function HostChips({ value, onChange, error }: HostChipsProps) {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  const add = () => {
    const entries = text
      .split(/[\s,]+/)
      .map((h) => h.trim())
      .filter((h) => h !== '');
    if (entries.length === 0) return;
    const bad = entries.find((h) => classifyHost(h) === null);
    if (bad !== undefined) {
      setProblem(`"${bad}" is not a valid DNS name or IP address`);
      return;
    }
    const next = [...value];
    for (const h of entries) if (!next.some((x) => x.toLowerCase() === h.toLowerCase())) next.push(h);
    onChange(next);
    setText('');
    setProblem(null);
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
          value={text}
          placeholder="gateway.example.internal or 10.0.0.5"
          aria-invalid={problem !== null}
          onChange={(e) => {
            setText(e.target.value);
            setProblem(null);
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
      {(problem ?? error) ? (
        <span className="field-error" role="alert" data-testid="wizard-host-error">
          {problem ?? error}
        </span>
      ) : (
        <span className="field-hint">SANs of the gateway's server certificate. Press Enter to add.</span>
      )}
    </div>
  );
}

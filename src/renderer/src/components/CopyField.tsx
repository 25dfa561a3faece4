import { useState } from 'react';

interface CopyFieldProps {
  readonly value: string;
  readonly testId?: string;
  /** The button's accessible name, naming what it copies ("Copy the PEM of alice@ops"); default "Copy". */
  readonly label?: string;
}

/** Read-only text with a copy button (clipboard write; the text stays selectable if that is refused). */
export function CopyField({ value, testId, label }: CopyFieldProps) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="copy-field">
      <code data-testid={testId}>{value}</code>
      <button
        type="button"
        className="btn btn-small"
        aria-label={label}
        onClick={() => void copy()}
        data-testid={testId ? `${testId}-copy` : undefined}
        data-copied={copied}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      <span className="sr-only" role="status">
        {copied ? 'Copied to the clipboard' : ''}
      </span>
    </div>
  );
}

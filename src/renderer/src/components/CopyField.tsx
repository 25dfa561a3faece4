import { useState } from 'react';

/** Read-only text with a copy button (clipboard write; the text stays selectable if that is refused). */
export function CopyField({ value, testId }: { readonly value: string; readonly testId?: string }) {
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
        onClick={() => void copy()}
        data-testid={testId ? `${testId}-copy` : undefined}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

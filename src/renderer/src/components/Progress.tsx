import { useEffect, useState } from 'react';

/** Indeterminate progress for operations whose duration main does not report, with elapsed seconds. */
export function Progress({
  label,
  testId = 'progress',
}: {
  readonly label: string;
  readonly testId?: string;
}) {
  const [start] = useState(() => Date.now());
  const [elapsed, setElapsed] = useState(0);
  useEffect(() => {
    const id = window.setInterval(() => setElapsed(Math.floor((Date.now() - start) / 1000)), 500);
    return () => window.clearInterval(id);
  }, [start]);
  return (
    <div className="progress" role="status" aria-live="polite" data-testid={testId}>
      <div className="progress-track">
        <div className="progress-bar" />
      </div>
      <span className="progress-label">
        {label}
        {elapsed > 0 ? ` (${elapsed}s)` : ''}
      </span>
    </div>
  );
}

export function Spinner() {
  return <span className="spinner" aria-hidden="true" />;
}

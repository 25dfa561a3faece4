import { useUiStore } from '../stores/ui';

/** The one place errors show: main's message, verbatim, until dismissed or the next action starts. */
export function ErrorAlert() {
  const error = useUiStore((s) => s.error);
  const clear = useUiStore((s) => s.clearError);
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid="error-alert" data-code={error.code ?? ''}>
      <span className="alert-icon" aria-hidden="true">
        !
      </span>
      <div className="alert-body">
        {error.code ? <span className="alert-code">{error.code}</span> : null}
        <span className="alert-message">{error.message}</span>
      </div>
      <button type="button" className="btn-icon" aria-label="Dismiss error" onClick={clear}>
        ×
      </button>
    </div>
  );
}

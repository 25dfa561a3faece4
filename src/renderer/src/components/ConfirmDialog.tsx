import { settleConfirm, useUiStore } from '../stores/ui';
import { Modal } from './Modal';

/** The app's single confirmation for destructive actions (never window.confirm). */
export function ConfirmDialog() {
  const req = useUiStore((s) => s.confirm);
  if (!req) return null;
  return (
    <Modal title={req.title} onClose={() => settleConfirm(false)} testId="confirm-dialog">
      <p className="confirm-text">{req.body}</p>
      <div className="actions">
        <button
          type="button"
          className="btn"
          data-testid="confirm-cancel"
          onClick={() => settleConfirm(false)}
        >
          Cancel
        </button>
        <button
          type="button"
          className={req.danger ? 'btn btn-danger' : 'btn btn-primary'}
          data-testid="confirm-ok"
          onClick={() => settleConfirm(true)}
        >
          {req.okLabel}
        </button>
      </div>
    </Modal>
  );
}

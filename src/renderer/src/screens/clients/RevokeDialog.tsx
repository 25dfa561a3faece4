import { useState } from 'react';
import type { RevokeResult } from '../../../../shared/model';
import { REVOCATION_REASONS, normalizeSerial, type RevocationReason } from '../../../../shared/validation';
import { call } from '../../api';
import { Modal } from '../../components/Modal';
import { Progress } from '../../components/Progress';
import { useAction } from '../../lib/useAction';
import { useClientsStore } from '../../stores/clients';
import { liveCountForSerial, useConnectionsStore } from '../../stores/connections';

interface RevokeDialogProps {
  readonly initialSerial: string;
  readonly onClose: () => void;
  readonly onRevoked: (result: RevokeResult) => void;
}

const REASON_LABELS: Record<RevocationReason, string> = {
  unspecified: 'Unspecified',
  keyCompromise: 'Key compromise',
  affiliationChanged: 'Affiliation changed',
  superseded: 'Superseded',
  cessationOfOperation: 'Cessation of operation',
};

/**
 * Revocation by serial. The dialog is the single confirmation: it names the certificate and says how
 * many live connections will drop before the operator commits.
 */
export function RevokeDialog({ initialSerial, onClose, onRevoked }: RevokeDialogProps) {
  const [text, setText] = useState(initialSerial);
  const [reason, setReason] = useState<RevocationReason>('unspecified');
  const { pending, run } = useAction();
  const serial = normalizeSerial(text);
  const client = useClientsStore((s) =>
    serial ? s.clients.find((c) => c.serial.toLowerCase() === serial) : undefined,
  );
  const live = useConnectionsStore((s) => (serial ? liveCountForSerial(s.connections, serial) : 0));

  const submit = async () => {
    if (!serial) return;
    const r = await run(() => call('clients.revoke', { serial, reason }));
    if (r) onRevoked(r);
  };

  return (
    <Modal title="Revoke a client certificate" onClose={pending ? undefined : onClose} testId="revoke-dialog">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!pending && serial) void submit();
        }}
      >
        <div className={text !== '' && !serial ? 'field field-invalid' : 'field'}>
          <label htmlFor="revoke-serial">Serial (hex, colons allowed)</label>
          <input
            id="revoke-serial"
            data-testid="revoke-serial"
            className="mono"
            autoComplete="off"
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          {text !== '' && !serial ? <span className="field-error">Not a serial number.</span> : null}
        </div>
        {serial ? (
          <p className="revoke-target" data-testid="revoke-target">
            {client ? (
              <>
                <strong>{client.name}</strong> · {client.status}
                {client.status === 'revoked' ? ' (already revoked)' : ''}
              </>
            ) : (
              <span className="muted">No certificate with this serial in the registry.</span>
            )}
          </p>
        ) : null}
        <div className="field">
          <label htmlFor="revoke-reason">Reason</label>
          <select
            id="revoke-reason"
            data-testid="revoke-reason"
            value={reason}
            onChange={(e) => setReason(e.target.value as RevocationReason)}
          >
            {REVOCATION_REASONS.map((r) => (
              <option key={r} value={r}>
                {REASON_LABELS[r]}
              </option>
            ))}
          </select>
        </div>
        <div className={live > 0 ? 'notice notice-danger' : 'notice'}>
          <strong data-testid="revoke-live-count" data-count={live}>
            {live}
          </strong>{' '}
          live connection{live === 1 ? '' : 's'} will be closed. New handshakes with this certificate are
          refused at once.
        </div>
        {pending ? <Progress label="Recording revocation and publishing the CRL…" /> : null}
        <div className="actions">
          <button type="button" className="btn" onClick={onClose} disabled={pending}>
            Cancel
          </button>
          <button
            type="submit"
            className="btn btn-danger"
            data-testid="revoke-confirm"
            disabled={!serial || pending}
          >
            {live > 0 ? `Revoke and drop ${live}` : 'Revoke'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

import { useCallback, useState } from 'react';
import { refreshClients } from '../../feeds';
import { useNow } from '../../lib/useNow';
import { useClientsStore } from '../../stores/clients';
import { ClientsTable } from './ClientsTable';
import { IssueDialog } from './IssueDialog';
import { RevokeDialog } from './RevokeDialog';

type Dialog = { readonly kind: 'issue' } | { readonly kind: 'revoke'; readonly serial: string } | null;

export function ClientsPanel() {
  const clients = useClientsStore((s) => s.clients);
  const now = useNow(60_000);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const close = useCallback(() => setDialog(null), []);
  const openRevoke = useCallback((serial: string) => setDialog({ kind: 'revoke', serial }), []);

  return (
    <div className="page" data-testid="clients">
      <header className="page-head">
        <h1>Clients</h1>
        <div className="page-actions">
          <button
            type="button"
            className="btn btn-danger-outline"
            data-testid="revoke-open"
            onClick={() => openRevoke('')}
          >
            Revoke by serial…
          </button>
          <button
            type="button"
            className="btn btn-primary"
            data-testid="issue-open"
            onClick={() => setDialog({ kind: 'issue' })}
          >
            Issue certificate…
          </button>
        </div>
      </header>
      {notice ? (
        <div className="notice notice-ok" role="status" data-testid="clients-notice">
          {notice}
          <button type="button" className="btn-icon" aria-label="Dismiss" onClick={() => setNotice(null)}>
            ×
          </button>
        </div>
      ) : null}
      <ClientsTable clients={clients} now={now} onRevoke={openRevoke} />
      {dialog?.kind === 'issue' ? (
        <IssueDialog
          onClose={close}
          onIssued={(r) => {
            setNotice(`Issued ${r.name} (serial ${r.serial}).`);
            void refreshClients();
          }}
        />
      ) : null}
      {dialog?.kind === 'revoke' ? (
        <RevokeDialog
          initialSerial={dialog.serial}
          onClose={close}
          onRevoked={(r) => {
            setDialog(null);
            setNotice(
              r.alreadyRevoked
                ? `${r.name} (serial ${r.serial}) was already revoked.`
                : `Revoked ${r.name} (serial ${r.serial}): ${r.reason}.`,
            );
            void refreshClients();
          }}
        />
      ) : null}
    </div>
  );
}

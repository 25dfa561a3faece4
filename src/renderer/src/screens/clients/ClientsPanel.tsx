import { useCallback, useState } from 'react';
import type { ClientRecord } from '../../../../shared/model';
import { refreshClients } from '../../feeds';
import { formatDateTime } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { useClientsStore } from '../../stores/clients';
import { ClientDrawer } from './ClientDrawer';
import { ClientsTable } from './ClientsTable';
import { IssueDialog } from './IssueDialog';
import { RenewDialog } from './RenewDialog';
import { RevokeDialog } from './RevokeDialog';
import './clients.css';

type Dialog =
  | { readonly kind: 'issue'; readonly reissueOf?: ClientRecord }
  | { readonly kind: 'revoke'; readonly serial: string }
  | { readonly kind: 'renew'; readonly client: ClientRecord }
  | null;

export function ClientsPanel() {
  const clients = useClientsStore((s) => s.clients);
  const now = useNow();
  const [dialog, setDialog] = useState<Dialog>(null);
  /** The certificate shown in the detail drawer; dialogs opened from it come back to it. */
  const [details, setDetails] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const close = useCallback(() => setDialog(null), []);
  const onDetails = useCallback((c: ClientRecord) => setDetails(c.serial), []);
  const onRevoke = useCallback((c: ClientRecord) => setDialog({ kind: 'revoke', serial: c.serial }), []);
  const onRenew = useCallback((c: ClientRecord) => setDialog({ kind: 'renew', client: c }), []);
  const onReissue = useCallback((c: ClientRecord) => setDialog({ kind: 'issue', reissueOf: c }), []);

  return (
    <div className="page" data-testid="clients">
      <header className="page-head">
        <h1>Clients</h1>
        <div className="page-actions">
          <button
            type="button"
            className="btn btn-danger-outline"
            data-testid="revoke-open"
            onClick={() => setDialog({ kind: 'revoke', serial: '' })}
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
      <ClientsTable
        clients={clients}
        now={now}
        onDetails={onDetails}
        onRenew={onRenew}
        onReissue={onReissue}
        onRevoke={onRevoke}
      />
      {/* Dialogs opened from the drawer stack over it; closing them returns to it. */}
      {details !== null ? (
        <ClientDrawer
          serial={details}
          onClose={() => setDetails(null)}
          onOpen={setDetails}
          onRenew={onRenew}
          onReissue={onReissue}
          onRevoke={onRevoke}
        />
      ) : null}
      {dialog?.kind === 'issue' ? (
        <IssueDialog
          {...(dialog.reissueOf ? { reissueOf: dialog.reissueOf } : {})}
          onClose={close}
          onIssued={(r) => {
            const revoked = r.replaced?.filter((x) => x.revoked).length ?? 0;
            setNotice(
              `${r.replaced ? 'Re-issued' : 'Issued'} ${r.name} (serial ${r.serial})${
                revoked > 0 ? `; the previous certificate was revoked (superseded)` : ''
              }.`,
            );
            if (details !== null) setDetails(r.serial);
            void refreshClients();
          }}
        />
      ) : null}
      {dialog?.kind === 'renew' ? (
        <RenewDialog
          client={dialog.client}
          onClose={close}
          onRenewed={(r) => {
            setDialog(null);
            setNotice(
              `Renewed ${r.name}: serial ${r.serial}, valid until ${formatDateTime(r.notAfter)}; wrote ${r.files.cert}.`,
            );
            if (details !== null) setDetails(r.serial);
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

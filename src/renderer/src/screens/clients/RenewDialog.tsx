import { useState } from 'react';
import type { ClientRecord, ClientRenewResult } from '../../../../shared/model';
import { call } from '../../api';
import { Modal } from '../../components/Modal';
import { Progress } from '../../components/Progress';
import { formatDateTime } from '../../lib/format';
import { useAction } from '../../lib/useAction';
import './clients.css';

interface RenewDialogProps {
  readonly client: ClientRecord;
  readonly onClose: () => void;
  readonly onRenewed: (result: ClientRenewResult) => void;
}

/** Lifetime as issued, in words: "24 h", "7 days". */
function lifetimeText(c: ClientRecord): string {
  const ms = Date.parse(c.notAfter) - Date.parse(c.notBefore);
  const hours = Math.round(ms / 3_600_000);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

/**
 * Renew from the row (issue 9/10): main certifies the same public key again, with the same name,
 * groups and lifetime (never past the renewal chain's end), and writes NAME.crt and ca.crt into the
 * folder the operator picks. The holder keeps their key; only the certificate file changes.
 */
export function RenewDialog({ client, onClose, onRenewed }: RenewDialogProps) {
  const [outDir, setOutDir] = useState<string | null>(null);
  const chooser = useAction();
  const renew = useAction();

  const choose = async () => {
    const dir = await chooser.run(() => call('clients.chooseExportDir', {}));
    if (typeof dir === 'string') setOutDir(dir);
  };
  const submit = async () => {
    if (outDir === null) return;
    const r = await renew.run(() => call('clients.renew', { serial: client.serial, outDir }));
    if (r) onRenewed(r);
  };

  return (
    <Modal title={`Renew ${client.name}`} onClose={renew.pending ? undefined : onClose} testId="renew-dialog">
      <p>
        A new certificate for the same key, with the same name and lifetime ({lifetimeText(client)})
        {client.renewUntil ? `, at most until ${formatDateTime(client.renewUntil)}` : ''}. The current one
        (serial <span className="mono">{client.serial}</span>) stays valid until it expires and shows as
        superseded.
      </p>
      <div className="field">
        <span className="field-label">Write {client.name}.crt and ca.crt to</span>
        <div className="inline">
          <button
            type="button"
            className="btn"
            data-testid="renew-choose-dir"
            disabled={chooser.pending || renew.pending}
            onClick={() => void choose()}
          >
            Choose folder…
          </button>
          <code className={outDir ? 'path' : 'path muted'} data-testid="renew-dir">
            {outDir ?? 'none chosen'}
          </code>
        </div>
        <span className="field-hint">
          The folder holding {client.name}&rsquo;s bundle replaces its certificate; its key stays as it is.
        </span>
      </div>
      {renew.pending ? (
        <Progress testId="renew-progress" label="Signing and writing the certificate…" />
      ) : null}
      <div className="actions">
        <button type="button" className="btn" onClick={onClose} disabled={renew.pending}>
          Cancel
        </button>
        <button
          type="button"
          className="btn btn-primary"
          data-testid="renew-submit"
          disabled={outDir === null || renew.pending}
          onClick={() => void submit()}
        >
          Renew {client.name}
        </button>
      </div>
    </Modal>
  );
}

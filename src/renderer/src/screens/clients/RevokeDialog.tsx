import { useEffect, useRef, useState } from 'react';
import type { ClientRecord, RevokeResult } from '../../../../shared/model';
import { REVOCATION_REASONS, type RevocationReason } from '../../../../shared/validation';
import { call } from '../../api';
import { Modal } from '../../components/Modal';
import { Progress } from '../../components/Progress';
import { statusAt } from '../../lib/countdown';
import { formatDateTime } from '../../lib/format';
import { useAction } from '../../lib/useAction';
import { useNow } from '../../lib/useNow';
import { useClientsStore } from '../../stores/clients';
import { liveCountForSerial, useConnectionsStore } from '../../stores/connections';
import { findBySerial, normalizeSerialInput } from './serial';
import './clients.css';

interface RevokeDialogProps {
  readonly initialSerial: string;
  readonly onClose: () => void;
  readonly onRevoked: (result: RevokeResult) => void;
}

export const REASON_LABELS: Record<RevocationReason, string> = {
  unspecified: 'Unspecified',
  keyCompromise: 'Key compromise',
  affiliationChanged: 'Affiliation changed',
  superseded: 'Superseded',
  cessationOfOperation: 'Cessation of operation',
};

/** What the serial field names, and whether it can be revoked (and if not, why). */
type Target =
  | { readonly kind: 'empty' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'blocked'; readonly client: ClientRecord; readonly why: string }
  | { readonly kind: 'ok'; readonly client: ClientRecord };

export function revokeTarget(clients: readonly ClientRecord[], text: string, now: number): Target {
  if (text.trim() === '') return { kind: 'empty' };
  if (normalizeSerialInput(text) === null) return { kind: 'malformed' };
  const client = findBySerial(clients, text);
  if (!client) return { kind: 'unknown' };
  const status = statusAt(client, now);
  if (status === 'revoked') {
    const when = client.revokedAt ? ` on ${formatDateTime(client.revokedAt)}` : '';
    const why = client.reason ? ` (${REASON_LABELS[client.reason]})` : '';
    return { kind: 'blocked', client, why: `Already revoked${when}${why}.` };
  }
  if (status === 'expired') {
    return {
      kind: 'blocked',
      client,
      why: `Expired on ${formatDateTime(client.notAfter)}: no verifier accepts it any more, so revoking it would change nothing.`,
    };
  }
  return { kind: 'ok', client };
}

/**
 * Revocation in two steps (issue 10): first the serial (any common spelling; the certificate it names
 * and its status show as you type) and an explicitly chosen reason; then one question naming the
 * certificate and the live connections that will drop. Enter in the serial field never revokes.
 */
export function RevokeDialog({ initialSerial, onClose, onRevoked }: RevokeDialogProps) {
  const [text, setText] = useState(initialSerial);
  const [reason, setReason] = useState<RevocationReason | ''>('');
  const [step, setStep] = useState<1 | 2>(1);
  const [tried, setTried] = useState(false);
  const { pending, run } = useAction();
  const now = useNow();
  const clients = useClientsStore((s) => s.clients);
  const target = revokeTarget(clients, text, now);
  const serial = target.kind === 'ok' ? target.client.serial : null;
  const live = useConnectionsStore((s) => (serial ? liveCountForSerial(s.connections, serial) : 0));
  const question = useRef<HTMLParagraphElement>(null);
  const reasonRef = useRef<HTMLSelectElement>(null);

  useEffect(() => {
    if (step === 2) question.current?.focus();
  }, [step]);

  const next = () => {
    setTried(true);
    if (target.kind !== 'ok') return;
    if (reason === '') {
      reasonRef.current?.focus();
      return;
    }
    setStep(2);
  };

  const revoke = async () => {
    if (target.kind !== 'ok' || reason === '') return;
    const r = await run(() => call('clients.revoke', { serial: target.client.serial, reason }));
    if (r) onRevoked(r);
  };

  if (step === 2 && target.kind === 'ok' && reason !== '') {
    const c = target.client;
    return (
      <Modal title={`Revoke ${c.name}?`} onClose={pending ? undefined : onClose} testId="revoke-dialog">
        <p ref={question} tabIndex={-1} className="revoke-question" data-testid="revoke-question">
          Revoke <strong>{c.name}</strong> (serial <span className="mono">{c.serial}</span>)?{' '}
          <strong data-testid="revoke-live-count" data-count={live}>
            {live} live connection{live === 1 ? '' : 's'}
          </strong>{' '}
          will drop.
        </p>
        <p className="muted">
          Reason: {REASON_LABELS[reason]}. New handshakes with this certificate are refused at once, and the
          next CRL lists it. This cannot be undone.
        </p>
        {pending ? <Progress label="Recording revocation and publishing the CRL…" /> : null}
        <div className="actions">
          <button
            type="button"
            className="btn"
            data-testid="revoke-back"
            onClick={() => setStep(1)}
            disabled={pending}
          >
            Back
          </button>
          <button
            type="button"
            className="btn btn-danger"
            data-testid="revoke-confirm"
            disabled={pending}
            onClick={() => void revoke()}
          >
            Revoke {c.name}
          </button>
        </div>
      </Modal>
    );
  }

  const serialError =
    target.kind === 'malformed'
      ? 'Not a serial number: hex digits, as printed by openssl (serial=…, 0x…, colons and spaces are fine).'
      : tried && target.kind === 'empty'
        ? 'Enter the serial of the certificate to revoke.'
        : null;

  return (
    <Modal title="Revoke a client certificate" onClose={pending ? undefined : onClose} testId="revoke-dialog">
      <form
        noValidate
        onSubmit={(e) => {
          // Enter anywhere in step 1 never revokes; at most it moves on to the question.
          e.preventDefault();
        }}
      >
        <div className={serialError ? 'field field-invalid' : 'field'}>
          <label htmlFor="revoke-serial">Serial</label>
          <input
            id="revoke-serial"
            data-testid="revoke-serial"
            className="mono"
            autoComplete="off"
            spellCheck={false}
            aria-describedby="revoke-target"
            aria-invalid={serialError !== null}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          {serialError ? <span className="field-error">{serialError}</span> : null}
        </div>
        <p
          id="revoke-target"
          className="revoke-target"
          data-testid="revoke-target"
          data-state={target.kind}
          aria-live="polite"
        >
          {target.kind === 'ok' ? (
            <>
              <strong>{target.client.name}</strong> · {statusAt(target.client, now)} · expires{' '}
              {formatDateTime(target.client.notAfter)}
            </>
          ) : target.kind === 'blocked' ? (
            <>
              <strong>{target.client.name}</strong> cannot be revoked. {target.why}
            </>
          ) : target.kind === 'unknown' ? (
            'No certificate with this serial was issued by this CA.'
          ) : target.kind === 'empty' ? (
            <span className="muted">Paste it as openssl prints it: serial=…, 0x…, or colon-separated.</span>
          ) : null}
        </p>
        <div className={tried && reason === '' ? 'field field-invalid' : 'field'}>
          <label htmlFor="revoke-reason">Reason</label>
          <select
            ref={reasonRef}
            id="revoke-reason"
            data-testid="revoke-reason"
            value={reason}
            aria-invalid={tried && reason === ''}
            onChange={(e) => setReason(e.target.value as RevocationReason | '')}
          >
            <option value="" disabled>
              Choose a reason…
            </option>
            {REVOCATION_REASONS.map((r) => (
              <option key={r} value={r}>
                {REASON_LABELS[r]}
              </option>
            ))}
          </select>
          {tried && reason === '' ? <span className="field-error">Choose why it is revoked.</span> : null}
        </div>
        <div className="actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="btn btn-danger"
            data-testid="revoke-next"
            disabled={target.kind !== 'ok'}
            onClick={next}
          >
            Continue…
          </button>
        </div>
      </form>
    </Modal>
  );
}

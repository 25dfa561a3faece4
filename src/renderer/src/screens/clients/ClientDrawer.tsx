import { useEffect, useState, type ReactNode } from 'react';
import type { ClientDetail, ClientRecord } from '../../../../shared/model';
import { call } from '../../api';
import { CopyField } from '../../components/CopyField';
import { Modal } from '../../components/Modal';
import { renewalAt, statusAt } from '../../lib/countdown';
import { formatDateTime } from '../../lib/format';
import { reportError } from '../../lib/useAction';
import { useNow } from '../../lib/useNow';
import { useAuditStore } from '../../stores/audit';
import { useClientsStore } from '../../stores/clients';
import { RenewalBadge, StatusBadge } from './badges';
import { serialColons } from './serial';
import './clients.css';

interface ClientDrawerProps {
  readonly serial: string;
  readonly onClose: () => void;
  /** Another certificate of the chain was clicked (supersedes / superseded by). */
  readonly onOpen: (serial: string) => void;
  readonly onRenew: (c: ClientRecord) => void;
  readonly onReissue: (c: ClientRecord) => void;
  readonly onRevoke: (c: ClientRecord) => void;
}

/** `ab12cd…` → `AB:12:CD:…`, the way openssl and browsers print fingerprints. */
function fingerprint(hex: string): string {
  return serialColons(hex).toUpperCase();
}

function Row({
  k,
  children,
  testId,
}: {
  readonly k: string;
  readonly children: ReactNode;
  readonly testId?: string;
}) {
  return (
    <div className="kv">
      <dt>{k}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/**
 * A certificate's details (issue 10), read by main from the stored certificate: subject, SANs, key
 * type, serial, validity, fingerprints, groups, renewal policy, its chain of renewals, and the PEM to
 * copy. A side panel with the modal dialog's keyboard rules (focus kept inside, Escape closes).
 */
export function ClientDrawer({ serial, onClose, onOpen, onRenew, onReissue, onRevoke }: ClientDrawerProps) {
  const [detail, setDetail] = useState<ClientDetail | null>(null);
  const [failedFor, setFailedFor] = useState<string | null>(null);
  const now = useNow();
  // The registry's row (kept current by events), so a revocation or renewal elsewhere shows at once.
  const row = useClientsStore((s) => s.clients.find((c) => c.serial === serial));

  useEffect(() => {
    let live = true;
    call('clients.get', { serial }).then(
      (d) => {
        if (live) setDetail(d);
      },
      (err: unknown) => {
        if (!live) return;
        setFailedFor(serial);
        reportError(err);
      },
    );
    return () => {
      live = false;
    };
    // The row changes when the certificate is revoked or renewed: read it again then.
  }, [serial, row?.status, row?.supersededBy]);

  const record = row ?? detail?.record;
  const d = detail?.record.serial === serial ? detail : null;
  const title = record ? `Certificate of ${record.name}` : 'Certificate';

  return (
    <div className="drawer-host">
      <Modal title={title} onClose={onClose} testId="client-drawer">
        {!d || !record ? (
          <p className="muted" data-testid="client-drawer-loading">
            {failedFor === serial ? 'The certificate could not be read.' : 'Reading the certificate…'}
          </p>
        ) : (
          <DrawerBody
            d={d}
            record={record}
            now={now}
            onOpen={onOpen}
            onRenew={onRenew}
            onReissue={onReissue}
            onRevoke={onRevoke}
          />
        )}
      </Modal>
    </div>
  );
}

function DrawerBody({
  d,
  record,
  now,
  onOpen,
  onRenew,
  onReissue,
  onRevoke,
}: {
  readonly d: ClientDetail;
  readonly record: ClientRecord;
  readonly now: number;
  readonly onOpen: (serial: string) => void;
  readonly onRenew: (c: ClientRecord) => void;
  readonly onReissue: (c: ClientRecord) => void;
  readonly onRevoke: (c: ClientRecord) => void;
}) {
  const status = statusAt(record, now);
  const renewal = renewalAt(record, now);
  const name = record.name;
  const canRenew = status === 'active' && record.renewable !== false && d.certPem !== null;
  return (
    <div className="drawer-body" data-testid="client-drawer-body" data-serial={record.serial}>
      <p className="drawer-badges">
        <StatusBadge record={record} now={now} />
        {renewal && renewal !== 'expired' ? <RenewalBadge state={renewal} long /> : null}
      </p>
      <dl className="drawer-kv">
        <Row k="Subject" testId="detail-subject">
          {d.subject}
        </Row>
        <Row k="SANs">{d.sans.length > 0 ? d.sans.join(', ') : <span className="muted">none</span>}</Row>
        <Row k="Issuer">{d.issuer || <span className="muted">unknown</span>}</Row>
        <Row k="Key type" testId="detail-key-type">
          {d.keyType}
        </Row>
        <Row k="Serial" testId="detail-serial">
          <span className="mono">{record.serial}</span>
          <br />
          <span className="mono muted small">{d.serialColons}</span>
        </Row>
        <Row k="Not before">{formatDateTime(record.notBefore)}</Row>
        <Row k="Not after">{formatDateTime(record.notAfter)}</Row>
        {record.revokedAt ? (
          <Row k="Revoked">
            {formatDateTime(record.revokedAt)}
            {record.reason ? ` (${record.reason})` : ''}
          </Row>
        ) : null}
        <Row k="SHA-256" testId="detail-sha256">
          <span className="mono small">{fingerprint(d.fingerprintSha256)}</span>
        </Row>
        {d.fingerprintSha1 ? (
          <Row k="SHA-1" testId="detail-sha1">
            <span className="mono small">{fingerprint(d.fingerprintSha1)}</span>
          </Row>
        ) : null}
        <Row k="Groups">
          {record.groups && record.groups.length > 0 ? (
            record.groups.join(', ')
          ) : (
            <span className="muted">none</span>
          )}
        </Row>
        <Row k="Renewal" testId="detail-renewal">
          {record.renewable === false
            ? 'not renewable'
            : record.renewUntil
              ? `renewable until ${formatDateTime(record.renewUntil)}`
              : 'renewable'}
        </Row>
        <Row k="Supersedes">
          {record.supersedes ? (
            <button
              type="button"
              className="link mono"
              data-testid="detail-supersedes"
              aria-label={`Open the certificate ${record.name} superseded, serial ${record.supersedes}`}
              onClick={() => onOpen(record.supersedes ?? '')}
            >
              {record.supersedes}
            </button>
          ) : (
            <span className="muted">none (first of its chain)</span>
          )}
        </Row>
        <Row k="Superseded by">
          {record.supersededBy ? (
            <button
              type="button"
              className="link mono"
              data-testid="detail-superseded-by"
              aria-label={`Open the certificate that superseded this one, serial ${record.supersededBy}`}
              onClick={() => onOpen(record.supersededBy ?? '')}
            >
              {record.supersededBy}
            </button>
          ) : (
            <span className="muted">none</span>
          )}
        </Row>
      </dl>
      <h3 className="drawer-h">Certificate (PEM)</h3>
      {d.certPem ? (
        <div className="drawer-pem">
          <CopyField value={d.certPem} testId="detail-pem" label={`Copy the PEM of ${name}`} />
        </div>
      ) : (
        <p className="muted">Issued before the console kept certificates: no PEM is stored.</p>
      )}
      <div className="actions drawer-actions">
        <button
          type="button"
          className="btn"
          data-testid="detail-audit"
          onClick={() => useAuditStore.getState().showFor({ serial: record.serial, cn: name })}
        >
          Audit for this certificate
        </button>
        {canRenew ? (
          <button type="button" className="btn" data-testid="detail-renew" onClick={() => onRenew(record)}>
            Renew {name}
          </button>
        ) : null}
        <button type="button" className="btn" data-testid="detail-reissue" onClick={() => onReissue(record)}>
          Re-issue {name}
        </button>
        {status === 'active' || status === 'superseded' ? (
          <button
            type="button"
            className="btn btn-danger-outline"
            data-testid="detail-revoke"
            onClick={() => onRevoke(record)}
          >
            Revoke {name}
          </button>
        ) : null}
      </div>
    </div>
  );
}

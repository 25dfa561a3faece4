import type { CaInfo, ServerCertInfo, StatusInfo } from '../../../../shared/model';
import { Countdown } from '../../components/Countdown';
import { daysUntil } from '../../lib/countdown';
import { formatDateTime, shortSerial } from '../../lib/format';

function Row({ k, v, mono }: { readonly k: string; readonly v: string; readonly mono?: boolean }) {
  return (
    <div className="kv">
      <dt>{k}</dt>
      <dd className={mono ? 'mono' : undefined} title={v}>
        {v}
      </dd>
    </div>
  );
}

export function CaCard({
  ca,
  crl,
  now,
}: {
  readonly ca: CaInfo;
  readonly crl: StatusInfo['crl'];
  readonly now: number;
}) {
  return (
    <section className="card" data-testid="card-ca">
      <header className="card-head">
        <h3>Certificate authority</h3>
        <Countdown
          notBefore={ca.notBefore}
          notAfter={ca.notAfter}
          days={daysUntil(ca.notAfter, now)}
          now={now}
          testId="countdown-ca"
        />
      </header>
      <dl>
        <Row k="Subject" v={ca.subject} />
        <Row k="Algorithm" v={ca.algorithm} />
        <Row k="Serial" v={shortSerial(ca.serial)} mono />
        <Row k="Expires" v={formatDateTime(ca.notAfter)} />
        <Row k="SHA-256" v={ca.fingerprintSha256} mono />
        {crl ? (
          <Row
            k="CRL"
            v={`#${crl.crlNumber}, valid until ${formatDateTime(crl.nextUpdate)} (${daysUntil(crl.nextUpdate, now)} d)`}
          />
        ) : null}
      </dl>
    </section>
  );
}

interface ServerCardProps {
  readonly server: ServerCertInfo;
  readonly now: number;
  readonly rotating: boolean;
  readonly onRotate: () => void;
}

export function ServerCard({ server, now, rotating, onRotate }: ServerCardProps) {
  return (
    <section className="card" data-testid="card-server">
      <header className="card-head">
        <h3>Server certificate</h3>
        <Countdown
          notBefore={server.notBefore}
          notAfter={server.notAfter}
          days={daysUntil(server.notAfter, now)}
          now={now}
          testId="countdown-server"
        />
      </header>
      <dl>
        <Row k="Subject" v={server.subject} />
        <Row k="Hosts" v={server.sans.join(', ')} />
        <Row k="Serial" v={shortSerial(server.serial)} mono />
        <Row k="Expires" v={formatDateTime(server.notAfter)} />
        {/* 2/3 of its lifetime: serve or the app renews it then (src/shared/renewal.ts). */}
        <Row k="Auto-renews" v={formatDateTime(server.renewalDueAt)} />
      </dl>
      <footer className="card-actions">
        <button
          type="button"
          className="btn"
          data-testid="server-rotate"
          disabled={rotating}
          onClick={onRotate}
        >
          {rotating ? 'Rotating…' : 'Rotate now'}
        </button>
        <span className="muted small">Existing connections stay up.</span>
      </footer>
    </section>
  );
}

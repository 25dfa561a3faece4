import type { ClientRecord, StatusInfo } from '../../../../shared/model';
import { Countdown } from '../../components/Countdown';
import { daysUntil, statusAt } from '../../lib/countdown';
import { formatDate } from '../../lib/format';

interface CountdownsProps {
  readonly status: StatusInfo;
  readonly clients: readonly ClientRecord[];
  readonly now: number;
}

/**
 * Time left for the CA, the server cert and each active client (coloured by src/shared/renewal.ts),
 * soonest first after the two fixed rows. On the shared clock (lib/useNow.ts), like the Clients
 * table: days are counted here from notAfter, not taken from main's status (as old as its last event).
 */
export function Countdowns({ status, clients, now }: CountdownsProps) {
  const active = clients
    .filter((c) => statusAt(c, now) === 'active')
    .sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter));
  return (
    <section className="card card-span" data-testid="countdowns">
      <header className="card-head">
        <h3>Countdowns</h3>
        <span className="muted small">
          amber once 2/3 of a certificate’s lifetime has passed, red at 90 %
        </span>
      </header>
      <table className="table table-compact">
        <thead>
          <tr>
            <th>Certificate</th>
            <th>Expires</th>
            <th>Left</th>
          </tr>
        </thead>
        <tbody>
          {status.ca ? (
            <tr>
              <td>CA · {status.ca.subject}</td>
              <td>{formatDate(status.ca.notAfter)}</td>
              <td>
                <Countdown
                  notBefore={status.ca.notBefore}
                  notAfter={status.ca.notAfter}
                  days={daysUntil(status.ca.notAfter, now)}
                  now={now}
                />
              </td>
            </tr>
          ) : null}
          {status.server ? (
            <tr>
              <td>Server · {status.server.sans.join(', ')}</td>
              <td>{formatDate(status.server.notAfter)}</td>
              <td>
                <Countdown
                  notBefore={status.server.notBefore}
                  notAfter={status.server.notAfter}
                  days={daysUntil(status.server.notAfter, now)}
                  now={now}
                />
              </td>
            </tr>
          ) : null}
          {active.map((c) => (
            <tr key={c.serial}>
              <td>Client · {c.name}</td>
              <td>{formatDate(c.notAfter)}</td>
              <td>
                <Countdown
                  notBefore={c.notBefore}
                  notAfter={c.notAfter}
                  days={daysUntil(c.notAfter, now)}
                  now={now}
                  testId={`countdown-client-${c.serial}`}
                />
              </td>
            </tr>
          ))}
          {active.length === 0 ? (
            <tr>
              <td colSpan={3} className="muted">
                No active client certificates.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </section>
  );
}

import { useState } from 'react';
import { call } from '../../api';
import { useAction } from '../../lib/useAction';
import { useNow } from '../../lib/useNow';
import { useClientsStore } from '../../stores/clients';
import { useConnectionsStore } from '../../stores/connections';
import { useStatusStore } from '../../stores/status';
import { askConfirm } from '../../stores/ui';
import { CaCard, ServerCard } from './CertCards';
import { Countdowns } from './Countdowns';
import { GatewayCard } from './GatewayCard';
import { RenewalBanner } from './RenewalBanner';
import { RolloverCard } from './RolloverCard';
import { Timeline } from './Timeline';

export function Dashboard() {
  const status = useStatusStore((s) => s.status);
  const setStatus = useStatusStore((s) => s.setStatus);
  const clients = useClientsStore((s) => s.clients);
  const connections = useConnectionsStore((s) => s.connections.length);
  const now = useNow(30_000);
  const rotate = useAction();
  const gateway = useAction();
  const [rotated, setRotated] = useState<{ readonly from: string; readonly to: string } | null>(null);
  if (!status) return null;

  const onRotate = async () => {
    const from = status.server?.serial;
    if (from === undefined) return;
    setRotated(null);
    const ok = await askConfirm({
      title: 'Rotate the server certificate?',
      body: `A new server key and certificate replace serial ${from} for the same hosts. New connections use it at once; existing connections are not dropped.`,
      okLabel: 'Rotate',
      danger: false,
    });
    if (!ok) return;
    const next = await rotate.run(() => call('server.rotate', {}));
    if (!next) return;
    setStatus(next);
    if (next.server) setRotated({ from, to: next.server.serial });
  };
  const onStart = async () => {
    const next = await gateway.run(() => call('gateway.start', {}));
    if (next) setStatus(next);
  };
  const onStop = async () => {
    const ok = await askConfirm({
      title: 'Stop the gateway?',
      body: `All ${connections} live connection${connections === 1 ? '' : 's'} will be closed and new ones refused until it is started again.`,
      okLabel: 'Stop gateway',
    });
    if (!ok) return;
    const next = await gateway.run(() => call('gateway.stop', {}));
    if (next) setStatus(next);
  };

  return (
    <div className="page" data-testid="dashboard">
      <header className="page-head">
        <h1>Dashboard</h1>
        <span className="muted small mono" title="State directory">
          {status.stateDir}
        </span>
      </header>
      {rotated ? (
        <div className="notice notice-ok" role="status" data-testid="server-rotated">
          <span>
            Server certificate rotated: serial <span className="mono">{rotated.from}</span> →{' '}
            <span className="mono">{rotated.to}</span>.
          </span>
          <button
            type="button"
            className="btn-icon"
            aria-label="Dismiss the rotation notice"
            onClick={() => setRotated(null)}
          >
            ×
          </button>
        </div>
      ) : null}
      {status.server ? (
        <RenewalBanner server={status.server} failure={status.serverRenewalFailure} now={now} />
      ) : null}
      <div className="grid">
        {status.ca ? <CaCard ca={status.ca} crl={status.crl} now={now} /> : null}
        {status.server ? (
          <ServerCard
            server={status.server}
            now={now}
            rotating={rotate.pending}
            onRotate={() => void onRotate()}
          />
        ) : null}
        <GatewayCard
          state={status.gateway.state}
          config={status.gateway.config}
          connections={connections}
          upstream={status.upstreamHealth}
          now={now}
          busy={gateway.pending}
          onStart={() => void onStart()}
          onStop={() => void onStop()}
        />
        <RolloverCard />
      </div>
      <section className="card card-span">
        <header className="card-head">
          <h3>Rotation timeline</h3>
          <span className="muted small">
            {status.clients.active} active · {status.clients.expired} expired · {status.clients.revoked}{' '}
            revoked
          </span>
        </header>
        <Timeline status={status} clients={clients} now={now} />
      </section>
      <Countdowns status={status} clients={clients} now={now} />
    </div>
  );
}

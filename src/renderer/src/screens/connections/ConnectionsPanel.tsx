import { useCallback } from 'react';
import type { ConnectionInfo } from '../../../../shared/model';
import { call } from '../../api';
import { useAction } from '../../lib/useAction';
import { useNow } from '../../lib/useNow';
import { useConnectionsStore } from '../../stores/connections';
import { useStatusStore } from '../../stores/status';
import { askConfirm } from '../../stores/ui';
import { ConnectionsChart } from './ConnectionsChart';
import { ConnectionsTable } from './ConnectionsTable';

/**
 * Live connections, fed only by the connections store (so a bench can mount it with synthetic data).
 */
export function ConnectionsPanel() {
  const connections = useConnectionsStore((s) => s.connections);
  const max = useStatusStore((s) => s.status?.gateway.config.maxConnections);
  const now = useNow(5_000);
  const { run } = useAction();

  const onKill = useCallback(
    async (c: ConnectionInfo) => {
      const ok = await askConfirm({
        title: `Kill the connection from ${c.cn}?`,
        body: `The connection from ${c.remoteAddress} (serial ${c.serial}) is closed now. The client may reconnect: revoke its certificate to keep it out.`,
        okLabel: 'Kill connection',
      });
      if (ok) await run(() => call('connections.kill', { id: c.id }));
    },
    [run],
  );
  const kill = useCallback((c: ConnectionInfo) => void onKill(c), [onKill]);

  return (
    <div className="page" data-testid="connections">
      <header className="page-head">
        <h1>Connections</h1>
        <span className="muted" data-testid="connections-count">
          {connections.length}
          {max !== undefined ? ` / ${max}` : ''} live
        </span>
      </header>
      <section className="card card-span">
        <header className="card-head">
          <h3>Last 10 minutes</h3>
          <span className="muted small">per 10 s</span>
        </header>
        <ConnectionsChart />
      </section>
      <ConnectionsTable connections={connections} now={now} onKill={kill} />
    </div>
  );
}

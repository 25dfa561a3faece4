import { useCallback, useMemo, useState } from 'react';
import type { ConnectionInfo } from '../../../../shared/model';
import { call } from '../../api';
import { useAction } from '../../lib/useAction';
import { useNow } from '../../lib/useNow';
import { useAuditStore } from '../../stores/audit';
import { useConnectionsStore } from '../../stores/connections';
import { useStatusStore } from '../../stores/status';
import { askConfirm } from '../../stores/ui';
import { ConnectionsChart } from './ConnectionsChart';
import { ConnectionsTable } from './ConnectionsTable';
import {
  filterConnections,
  formatAddress,
  nextSort,
  sortConnections,
  type SortKey,
  type SortSpec,
} from './view';
import './connections.css';

/**
 * Live connections, fed only by the connections store (so a bench can mount it with synthetic data):
 * sorted, filtered and optionally grouped by certificate here; killed one at a time or all of one
 * certificate; each a click away from its certificate's audit trail.
 */
export function ConnectionsPanel() {
  const connections = useConnectionsStore((s) => s.connections);
  const max = useStatusStore((s) => s.status?.gateway.config.maxConnections);
  const now = useNow(5_000);
  const { run } = useAction();
  const [sort, setSort] = useState<SortSpec>({ key: 'since', dir: 'desc' });
  const [text, setText] = useState('');
  const [grouped, setGrouped] = useState(false);
  const shown = useMemo(
    () => sortConnections(filterConnections(connections, text), sort),
    [connections, text, sort],
  );

  const onKill = useCallback(
    async (c: ConnectionInfo) => {
      const ok = await askConfirm({
        title: `Kill the connection ${c.cn} ${formatAddress(c)}?`,
        body: `The connection from ${formatAddress(c)} (serial ${c.serial}) is closed now. The client may reconnect: revoke its certificate to keep it out.`,
        okLabel: 'Kill connection',
      });
      if (ok) await run(() => call('connections.kill', { id: c.id }));
    },
    [run],
  );
  const kill = useCallback((c: ConnectionInfo) => void onKill(c), [onKill]);
  const killAll = useCallback(
    (serial: string, cn: string, count: number) =>
      void (async () => {
        const ok = await askConfirm({
          title: `Kill all ${count} connection${count === 1 ? '' : 's'} of ${cn}?`,
          body: `Every live connection of the certificate ${serial} is closed now. The client may reconnect: revoke its certificate to keep it out.`,
          okLabel: `Kill all for ${cn}`,
        });
        if (ok) await run(() => call('connections.kill', { serial }));
      })(),
    [run],
  );
  const audit = useCallback(
    (c: ConnectionInfo) => useAuditStore.getState().showFor({ serial: c.serial }),
    [],
  );
  const onSort = useCallback((key: SortKey) => setSort((s) => nextSort(s, key)), []);

  return (
    <div className="page" data-testid="connections">
      <header className="page-head">
        <h1>Connections</h1>
        <span className="muted" data-testid="connections-count">
          {connections.length}
          {max !== undefined ? ` / ${max}` : ''} live
        </span>
      </header>
      <section className="card card-span" aria-labelledby="connections-chart-title">
        <header className="card-head">
          <h3 id="connections-chart-title">Last 10 minutes</h3>
          <span className="muted small">per 10 s</span>
        </header>
        <ConnectionsChart />
      </section>
      <div className="toolbar" role="search">
        <input
          className="search"
          type="search"
          placeholder="Filter: CN, serial, address:port, TLS"
          aria-label="Filter connections"
          data-testid="connections-filter"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <label className="inline-label">
          <input
            type="checkbox"
            data-testid="connections-group"
            checked={grouped}
            onChange={(e) => setGrouped(e.target.checked)}
          />
          Group by certificate
        </label>
        {text.trim() !== '' ? (
          <span className="muted small" data-testid="connections-shown" role="status">
            {shown.length} of {connections.length} shown
          </span>
        ) : null}
      </div>
      <ConnectionsTable
        connections={shown}
        liveTotal={connections.length}
        now={now}
        sort={sort}
        grouped={grouped}
        onSort={onSort}
        onKill={kill}
        onKillAll={killAll}
        onAudit={audit}
      />
    </div>
  );
}

import { Fragment, memo } from 'react';
import type { ConnectionInfo } from '../../../../shared/model';
import { formatAge, formatBytes, formatTime, shortSerial } from '../../lib/format';
import { formatAddress, groupByCertificate, type SortKey, type SortSpec } from './view';

interface RowProps {
  readonly c: ConnectionInfo;
  readonly now: number;
  readonly onKill: (c: ConnectionInfo) => void;
  readonly onAudit: (c: ConnectionInfo) => void;
}

function sameRow(a: RowProps, b: RowProps): boolean {
  const x = a.c;
  const y = b.c;
  return (
    a.now === b.now &&
    a.onKill === b.onKill &&
    a.onAudit === b.onAudit &&
    x.id === y.id &&
    x.cn === y.cn &&
    x.serial === y.serial &&
    x.remoteAddress === y.remoteAddress &&
    x.remotePort === y.remotePort &&
    x.tlsVersion === y.tlsVersion &&
    x.cipher === y.cipher &&
    x.since === y.since &&
    x.bytesIn === y.bytesIn &&
    x.bytesOut === y.bytesOut &&
    x.requests === y.requests
  );
}

/**
 * One live connection. Every `connections.changed` event brings fresh objects, so rows compare by
 * value: only the rows whose counters moved re-render. Its buttons name their object (issue 10:
 * 25 buttons named "Kill").
 */
const ConnectionRow = memo(function ConnectionRow({ c, now, onKill, onAudit }: RowProps) {
  const address = formatAddress(c);
  return (
    <tr data-testid={`connection-row-${c.id}`} data-serial={c.serial} data-address={address}>
      <th scope="row" className="strong">
        {c.cn}
        <div className="muted mono small conn-nowrap" title={c.serial}>
          {shortSerial(c.serial)}
        </div>
      </th>
      <td className="mono conn-nowrap" data-testid="connection-address">
        {address}
      </td>
      <td className="small" data-testid="connection-tls">
        {c.tlsVersion ?? ''}
        {c.cipher ? <div className="muted mono conn-cipher">{c.cipher}</div> : null}
      </td>
      <td title={c.since}>
        {formatTime(c.since)}
        <div className="muted small">{formatAge(c.since, now)}</div>
      </td>
      <td className="num">
        {formatBytes(c.bytesIn)}
        <div className="muted small">{formatBytes(c.bytesOut)}</div>
      </td>
      <td className="num">{c.requests}</td>
      <td className="conn-actions">
        <button
          type="button"
          className="btn btn-small"
          data-testid={`connection-audit-${c.id}`}
          aria-label={`Audit for ${c.cn}`}
          onClick={() => onAudit(c)}
        >
          Audit
        </button>
        <button
          type="button"
          className="btn btn-small btn-danger-outline"
          data-testid={`connection-kill-${c.id}`}
          aria-label={`Kill connection ${c.cn} ${address}`}
          onClick={() => onKill(c)}
        >
          Kill
        </button>
      </td>
    </tr>
  );
}, sameRow);

const COLUMNS: readonly { readonly key: SortKey; readonly label: string; readonly num?: boolean }[] = [
  { key: 'cn', label: 'Client' },
  { key: 'address', label: 'Source' },
  { key: 'tls', label: 'TLS' },
  { key: 'since', label: 'Since' },
  { key: 'bytes', label: 'Bytes in / out', num: true },
  { key: 'requests', label: 'Requests', num: true },
];
const SPAN = COLUMNS.length + 1;

interface ConnectionsTableProps {
  /** Already filtered and sorted. */
  readonly connections: readonly ConnectionInfo[];
  /** How many live connections there are before the filter (for the empty line). */
  readonly liveTotal: number;
  readonly now: number;
  readonly sort: SortSpec;
  readonly grouped: boolean;
  readonly onSort: (key: SortKey) => void;
  readonly onKill: (c: ConnectionInfo) => void;
  readonly onKillAll: (serial: string, cn: string, count: number) => void;
  readonly onAudit: (c: ConnectionInfo) => void;
}

export function ConnectionsTable({
  connections,
  liveTotal,
  now,
  sort,
  grouped,
  onSort,
  onKill,
  onKillAll,
  onAudit,
}: ConnectionsTableProps) {
  const rows = (list: readonly ConnectionInfo[]) =>
    list.map((c) => <ConnectionRow key={c.id} c={c} now={now} onKill={onKill} onAudit={onAudit} />);
  return (
    <table className="table table-compact conn-table" data-testid="connections-table">
      <caption className="sr-only">
        Live connections{grouped ? ', grouped by certificate' : ''}, sorted by{' '}
        {COLUMNS.find((col) => col.key === sort.key)?.label ?? sort.key}{' '}
        {sort.dir === 'asc' ? 'ascending' : 'descending'}
      </caption>
      <thead>
        <tr>
          {COLUMNS.map((col) => {
            const on = sort.key === col.key;
            return (
              <th
                key={col.key}
                scope="col"
                className={col.num ? 'num' : undefined}
                aria-sort={on ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined}
              >
                <button
                  type="button"
                  className="th-sort"
                  data-testid={`connections-sort-${col.key}`}
                  onClick={() => onSort(col.key)}
                >
                  {col.label}
                  <span aria-hidden="true" className="sort-mark">
                    {on ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}
                  </span>
                </button>
              </th>
            );
          })}
          <th scope="col">
            <span className="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {grouped
          ? groupByCertificate(connections).map((g) => (
              <Fragment key={g.serial}>
                <tr className="group-row" data-testid={`connections-group-${g.serial}`}>
                  <th scope="rowgroup" colSpan={SPAN - 1}>
                    {g.cn} <span className="muted mono">{shortSerial(g.serial)}</span>{' '}
                    <span className="muted">
                      · {g.connections.length} connection{g.connections.length === 1 ? '' : 's'}
                    </span>
                  </th>
                  <td className="conn-actions">
                    <button
                      type="button"
                      className="btn btn-small btn-danger-outline"
                      data-testid={`connections-kill-all-${g.serial}`}
                      onClick={() => onKillAll(g.serial, g.cn, g.connections.length)}
                    >
                      Kill all for {g.cn}
                    </button>
                  </td>
                </tr>
                {rows(g.connections)}
              </Fragment>
            ))
          : rows(connections)}
        {connections.length === 0 ? (
          <tr>
            <td colSpan={SPAN} className="empty">
              {liveTotal === 0 ? 'No live connections.' : 'No live connections match the filter.'}
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}

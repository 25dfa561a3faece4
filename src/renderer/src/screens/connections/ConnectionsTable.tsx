import { memo } from 'react';
import type { ConnectionInfo } from '../../../../shared/model';
import { formatAge, formatBytes, formatTime, shortSerial } from '../../lib/format';

interface RowProps {
  readonly c: ConnectionInfo;
  readonly now: number;
  readonly onKill: (c: ConnectionInfo) => void;
}

function sameRow(a: RowProps, b: RowProps): boolean {
  const x = a.c;
  const y = b.c;
  return (
    a.now === b.now &&
    a.onKill === b.onKill &&
    x.id === y.id &&
    x.cn === y.cn &&
    x.serial === y.serial &&
    x.remoteAddress === y.remoteAddress &&
    x.since === y.since &&
    x.bytesIn === y.bytesIn &&
    x.bytesOut === y.bytesOut &&
    x.requests === y.requests
  );
}

/**
 * One live connection. Every `connections.changed` event brings fresh objects, so rows compare by
 * value: only the rows whose counters moved re-render.
 */
const ConnectionRow = memo(function ConnectionRow({ c, now, onKill }: RowProps) {
  return (
    <tr data-testid={`connection-row-${c.id}`} data-serial={c.serial}>
      <td className="strong">{c.cn}</td>
      <td className="mono" title={c.serial}>
        {shortSerial(c.serial)}
      </td>
      <td className="mono">{c.remoteAddress}</td>
      <td title={c.since}>
        {formatTime(c.since)} <span className="muted">({formatAge(c.since, now)})</span>
      </td>
      <td className="num">{formatBytes(c.bytesIn)}</td>
      <td className="num">{formatBytes(c.bytesOut)}</td>
      <td className="num">{c.requests}</td>
      <td>
        <button
          type="button"
          className="btn btn-small btn-danger-outline"
          data-testid={`connection-kill-${c.id}`}
          onClick={() => onKill(c)}
        >
          Kill
        </button>
      </td>
    </tr>
  );
}, sameRow);

interface ConnectionsTableProps {
  readonly connections: readonly ConnectionInfo[];
  readonly now: number;
  readonly onKill: (c: ConnectionInfo) => void;
}

export function ConnectionsTable({ connections, now, onKill }: ConnectionsTableProps) {
  return (
    <table className="table" data-testid="connections-table">
      <thead>
        <tr>
          <th>CN</th>
          <th>Serial</th>
          <th>Remote address</th>
          <th>Since</th>
          <th className="num">Bytes in</th>
          <th className="num">Bytes out</th>
          <th className="num">Requests</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {connections.map((c) => (
          <ConnectionRow key={c.id} c={c} now={now} onKill={onKill} />
        ))}
        {connections.length === 0 ? (
          <tr>
            <td colSpan={8} className="empty">
              No live connections.
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}

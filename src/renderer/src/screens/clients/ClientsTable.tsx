import {
  createColumnHelper,
  createSortedRowModel,
  rowSortingFeature,
  sortFn_alphanumeric,
  sortFn_basic,
  tableFeatures,
  useTable,
  type SortingState,
} from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import type { ClientRecord, ClientStatus } from '../../../../shared/model';
import { Countdown } from '../../components/Countdown';
import { daysUntil, renewalAt, statusAt } from '../../lib/countdown';
import { formatDateTime } from '../../lib/format';
import { currentNow, useNow } from '../../lib/useNow';
import { useAuditStore } from '../../stores/audit';
import { RenewalBadge, StatusBadge } from './badges';
import { matchesClientFilter } from './serial';
import './clients.css';

const features = tableFeatures({
  rowSortingFeature,
  sortedRowModel: createSortedRowModel(),
  sortFns: { alphanumeric: sortFn_alphanumeric, basic: sortFn_basic },
});

const helper = createColumnHelper<typeof features, ClientRecord>();

export interface ClientActions {
  readonly onDetails: (c: ClientRecord) => void;
  readonly onRenew: (c: ClientRecord) => void;
  readonly onReissue: (c: ClientRecord) => void;
  readonly onRevoke: (c: ClientRecord) => void;
}

interface ClientsTableProps extends ClientActions {
  readonly clients: readonly ClientRecord[];
  readonly now: number;
}

const STATUS_FILTERS: readonly ('all' | ClientStatus)[] = [
  'all',
  'active',
  'superseded',
  'expired',
  'revoked',
];

/** Sorts renewal states by urgency, revoked/superseded (no renewal) last. */
const RENEWAL_ORDER = { expired: 0, overdue: 1, due: 2, ok: 3 } as const;

/**
 * The client registry: sortable by any column, filtered by name or serial (any spelling) and status.
 * Status and renewal state are read on the shared clock, so a certificate that expires while the
 * screen is open turns EXPIRED (and loses its Revoke button) without a reload.
 */
export function ClientsTable({ clients, now, onDetails, onRenew, onReissue, onRevoke }: ClientsTableProps) {
  const [sorting, setSorting] = useState<SortingState>([{ id: 'notAfter', desc: false }]);
  const [query, setQuery] = useState('');
  const [statusFilter, setStatusFilter] = useState<'all' | ClientStatus>('all');

  const columns = useMemo(
    () =>
      helper.columns([
        helper.accessor('name', {
          header: 'Name',
          sortFn: 'alphanumeric',
          cell: (info) => {
            const c = info.row.original;
            return (
              <button
                type="button"
                className="link client-name"
                data-testid={`client-name-${c.serial}`}
                onClick={() => onDetails(c)}
              >
                {c.name}
              </button>
            );
          },
        }),
        helper.accessor('serial', {
          header: 'Serial',
          sortFn: 'alphanumeric',
          // One click from the row to "everything about this certificate" in the Audit panel.
          cell: (info) => {
            const c = info.row.original;
            return (
              <button
                type="button"
                className="link mono serial-cell"
                data-testid={`client-audit-${c.serial}`}
                aria-label={`Audit for ${c.name}, serial ${c.serial}`}
                title={`${c.serial}: audit records of this certificate`}
                onClick={() => useAuditStore.getState().showFor({ serial: c.serial, cn: c.name })}
              >
                {c.serial}
              </button>
            );
          },
        }),
        helper.accessor((c) => Date.parse(c.notBefore), {
          id: 'notBefore',
          header: 'Issued',
          sortFn: 'basic',
          cell: (info) => formatDateTime(info.row.original.notBefore),
        }),
        helper.accessor((c) => Date.parse(c.notAfter), {
          id: 'notAfter',
          header: 'Expires',
          sortFn: 'basic',
          cell: (info) => <ExpiresCell c={info.row.original} />,
        }),
        helper.accessor(
          (c) => {
            const r = renewalAt(c, currentNow());
            return r === null ? 9 : RENEWAL_ORDER[r];
          },
          {
            id: 'renewal',
            header: 'Renewal',
            sortFn: 'basic',
            cell: (info) => <RenewalCell c={info.row.original} />,
          },
        ),
        helper.accessor((c) => statusAt(c, currentNow()), {
          id: 'status',
          header: 'Status',
          sortFn: 'alphanumeric',
          cell: (info) => <StatusCell c={info.row.original} />,
        }),
        helper.display({
          id: 'actions',
          header: () => <span className="sr-only">Actions</span>,
          cell: (info) => (
            <RowActions
              c={info.row.original}
              onDetails={onDetails}
              onRenew={onRenew}
              onReissue={onReissue}
              onRevoke={onRevoke}
            />
          ),
        }),
      ]),
    // Not `now`: new columns would remount every cell on each tick (and lose the focused button).
    [onDetails, onRenew, onReissue, onRevoke],
  );

  const data = useMemo(
    () =>
      clients.filter(
        (c) => matchesClientFilter(c, query) && (statusFilter === 'all' || statusAt(c, now) === statusFilter),
      ),
    [clients, query, statusFilter, now],
  );
  const table = useTable({
    features,
    columns,
    data,
    getRowId: (row) => row.serial,
    state: { sorting },
    onSortingChange: setSorting,
  });
  const rows = table.getRowModel().rows;

  return (
    <div className="table-wrap">
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="Filter by name or serial"
          aria-label="Filter clients by name or serial"
          data-testid="clients-filter"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <div className="segmented" role="group" aria-label="Status">
          {STATUS_FILTERS.map((s) => (
            <button
              key={s}
              type="button"
              className={statusFilter === s ? 'seg seg-on' : 'seg'}
              aria-pressed={statusFilter === s}
              data-testid={`clients-status-${s}`}
              onClick={() => setStatusFilter(s)}
            >
              {s}
            </button>
          ))}
        </div>
        <span className="muted small" data-testid="clients-count" role="status">
          {data.length} of {clients.length}
        </span>
      </div>
      <table className="table clients-table" data-testid="clients-table">
        <caption className="sr-only">Client certificates</caption>
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const canSort = header.column.getCanSort();
                return (
                  <th
                    key={header.id}
                    scope="col"
                    aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}
                  >
                    {header.isPlaceholder ? null : canSort ? (
                      <button
                        type="button"
                        className="th-sort"
                        data-testid={`clients-sort-${header.column.id}`}
                        onClick={header.column.getToggleSortingHandler()}
                      >
                        <table.FlexRender header={header} />
                        <span className="sort-mark" aria-hidden="true">
                          {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''}
                        </span>
                      </button>
                    ) : (
                      <table.FlexRender header={header} />
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr
              key={row.id}
              data-testid={`client-row-${row.original.serial}`}
              data-status={statusAt(row.original, now)}
              data-renewal={renewalAt(row.original, now) ?? ''}
            >
              {row.getAllCells().map((cell) => (
                <td key={cell.id} className={cell.column.id === 'actions' ? 'row-actions-cell' : undefined}>
                  <table.FlexRender cell={cell} />
                </td>
              ))}
            </tr>
          ))}
          {rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length} className="empty">
                {clients.length === 0
                  ? 'No client certificates yet. Issue the first one.'
                  : 'No client matches the filter.'}
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}

/** Cells read the shared clock themselves, so the columns stay the same objects from tick to tick. */
function ExpiresCell({ c }: { readonly c: ClientRecord }) {
  const now = useNow();
  return (
    <span className="expires">
      {formatDateTime(c.notAfter)}
      {statusAt(c, now) === 'active' ? (
        <Countdown
          notBefore={c.notBefore}
          notAfter={c.notAfter}
          days={daysUntil(c.notAfter, now)}
          now={now}
        />
      ) : null}
    </span>
  );
}

function RenewalCell({ c }: { readonly c: ClientRecord }) {
  const r = renewalAt(c, useNow());
  return r === null ? <span className="muted">—</span> : <RenewalBadge state={r} />;
}

function StatusCell({ c }: { readonly c: ClientRecord }) {
  return <StatusBadge record={c} now={useNow()} />;
}

/**
 * Each button's accessible name carries its object ("Revoke alice@ops"), so a screen reader's list of
 * buttons is not seven "Revoke"s. Renew only where a renewal can succeed; Revoke only while valid.
 */
function RowActions({
  c,
  onDetails,
  onRenew,
  onReissue,
  onRevoke,
}: ClientActions & {
  readonly c: ClientRecord;
}) {
  const status = statusAt(c, useNow());
  return (
    <div className="row-actions">
      <button
        type="button"
        className="btn btn-small"
        data-testid={`client-details-${c.serial}`}
        aria-label={`Details for ${c.name}`}
        onClick={() => onDetails(c)}
      >
        Details
      </button>
      {status === 'active' && c.renewable !== false ? (
        <button
          type="button"
          className="btn btn-small"
          data-testid={`client-renew-${c.serial}`}
          aria-label={`Renew ${c.name}`}
          onClick={() => onRenew(c)}
        >
          Renew
        </button>
      ) : null}
      {status !== 'superseded' ? (
        <button
          type="button"
          className="btn btn-small"
          data-testid={`client-reissue-${c.serial}`}
          aria-label={`Re-issue ${c.name}`}
          onClick={() => onReissue(c)}
        >
          Re-issue
        </button>
      ) : null}
      {/* Valid certificates only: a superseded one still works until it expires; an expired one never will. */}
      {status === 'active' || status === 'superseded' ? (
        <button
          type="button"
          className="btn btn-small btn-danger-outline"
          data-testid={`client-revoke-${c.serial}`}
          aria-label={`Revoke ${c.name}`}
          onClick={() => onRevoke(c)}
        >
          Revoke
        </button>
      ) : null}
    </div>
  );
}

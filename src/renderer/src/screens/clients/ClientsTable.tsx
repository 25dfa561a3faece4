import {
  columnFilteringFeature,
  createColumnHelper,
  createFilteredRowModel,
  createSortedRowModel,
  filterFn_equalsString,
  filterFn_includesString,
  globalFilteringFeature,
  rowSortingFeature,
  sortFn_alphanumeric,
  sortFn_basic,
  tableFeatures,
  useTable,
  type ColumnFiltersState,
  type SortingState,
} from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import type { ClientRecord, ClientStatus } from '../../../../shared/model';
import { Countdown } from '../../components/Countdown';
import { daysUntil } from '../../lib/countdown';
import { formatDateTime } from '../../lib/format';

const features = tableFeatures({
  rowSortingFeature,
  columnFilteringFeature,
  globalFilteringFeature,
  sortedRowModel: createSortedRowModel(),
  filteredRowModel: createFilteredRowModel(),
  sortFns: { alphanumeric: sortFn_alphanumeric, basic: sortFn_basic },
  filterFns: { includesString: filterFn_includesString, equalsString: filterFn_equalsString },
});

const helper = createColumnHelper<typeof features, ClientRecord>();

interface ClientsTableProps {
  readonly clients: readonly ClientRecord[];
  readonly now: number;
  readonly onRevoke: (serial: string) => void;
}

const STATUS_FILTERS: readonly ('all' | ClientStatus)[] = [
  'all',
  'active',
  'superseded',
  'expired',
  'revoked',
];

/** The client registry: sortable by any column, filterable by text (name or serial) and status. */
export function ClientsTable({ clients, now, onRevoke }: ClientsTableProps) {
  const [sorting, setSorting] = useState<SortingState>([{ id: 'notAfter', desc: false }]);
  const [globalFilter, setGlobalFilter] = useState('');
  const [columnFilters, setColumnFilters] = useState<ColumnFiltersState>([]);
  const statusFilter = (columnFilters.find((f) => f.id === 'status')?.value as string | undefined) ?? 'all';

  const columns = useMemo(
    () =>
      helper.columns([
        helper.accessor('name', { header: 'Name', sortFn: 'alphanumeric', filterFn: 'includesString' }),
        helper.accessor('serial', {
          header: 'Serial',
          sortFn: 'alphanumeric',
          filterFn: 'includesString',
          cell: (info) => <span className="mono">{info.getValue()}</span>,
        }),
        helper.accessor((c) => Date.parse(c.notBefore), {
          id: 'notBefore',
          header: 'Issued',
          sortFn: 'basic',
          enableGlobalFilter: false,
          cell: (info) => formatDateTime(info.row.original.notBefore),
        }),
        helper.accessor((c) => Date.parse(c.notAfter), {
          id: 'notAfter',
          header: 'Expires',
          sortFn: 'basic',
          enableGlobalFilter: false,
          cell: (info) => {
            const c = info.row.original;
            return (
              <span className="expires">
                {formatDateTime(c.notAfter)}
                {c.status === 'active' ? (
                  <Countdown
                    notBefore={c.notBefore}
                    notAfter={c.notAfter}
                    days={daysUntil(c.notAfter, now)}
                    now={now}
                  />
                ) : null}
              </span>
            );
          },
        }),
        helper.accessor('status', {
          header: 'Status',
          sortFn: 'alphanumeric',
          filterFn: 'equalsString',
          enableGlobalFilter: false,
          cell: (info) => {
            const c = info.row.original;
            return (
              <span
                className={`status status-${c.status}`}
                title={
                  c.reason
                    ? `reason: ${c.reason}`
                    : c.supersededBy
                      ? `renewed or re-issued as ${c.supersededBy}; valid until it expires`
                      : undefined
                }
              >
                {c.status}
              </span>
            );
          },
        }),
        helper.display({
          id: 'actions',
          header: '',
          // A superseded certificate is still valid, so it can still be revoked.
          cell: (info) =>
            info.row.original.status === 'active' || info.row.original.status === 'superseded' ? (
              <button
                type="button"
                className="btn btn-small btn-danger-outline"
                data-testid={`client-revoke-${info.row.original.serial}`}
                onClick={() => onRevoke(info.row.original.serial)}
              >
                Revoke
              </button>
            ) : null,
        }),
      ]),
    [now, onRevoke],
  );

  const data = clients as ClientRecord[];
  const table = useTable({
    features,
    columns,
    data,
    getRowId: (row) => row.serial,
    state: { sorting, globalFilter, columnFilters },
    onSortingChange: setSorting,
    onGlobalFilterChange: setGlobalFilter,
    onColumnFiltersChange: setColumnFilters,
    globalFilterFn: 'includesString',
  });
  const rows = table.getRowModel().rows;

  return (
    <div className="table-wrap">
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="Filter by name or serial"
          aria-label="Filter clients"
          data-testid="clients-filter"
          value={globalFilter}
          onChange={(e) => setGlobalFilter(e.target.value)}
        />
        <div className="segmented" role="group" aria-label="Status">
          {STATUS_FILTERS.map((s) => (
            <button
              key={s}
              type="button"
              className={statusFilter === s ? 'seg seg-on' : 'seg'}
              data-testid={`clients-status-${s}`}
              onClick={() => setColumnFilters(s === 'all' ? [] : [{ id: 'status', value: s }])}
            >
              {s}
            </button>
          ))}
        </div>
        <span className="muted small">
          {rows.length} of {clients.length}
        </span>
      </div>
      <table className="table" data-testid="clients-table">
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const canSort = header.column.getCanSort();
                return (
                  <th
                    key={header.id}
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
              data-status={row.original.status}
            >
              {row.getAllCells().map((cell) => (
                <td key={cell.id}>
                  <table.FlexRender cell={cell} />
                </td>
              ))}
            </tr>
          ))}
          {rows.length === 0 ? (
            <tr>
              <td colSpan={6} className="empty">
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

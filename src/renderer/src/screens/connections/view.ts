import type { ConnectionInfo } from '../../../../shared/model';

/**
 * How the Connections table shows live connections (issue 10: they could not be told apart): source
 * address:port, sorting by any column, a text filter, and grouping by certificate. Pure, so the
 * bench and the unit test drive it without a DOM.
 */

export type SortKey =
  'cn' | 'serial' | 'address' | 'tls' | 'since' | 'bytes' | 'bytesIn' | 'bytesOut' | 'requests';
export type SortDir = 'asc' | 'desc';
export interface SortSpec {
  readonly key: SortKey;
  readonly dir: SortDir;
}

/** `127.0.0.1:51234`, `[::1]:51234`; an IPv4-mapped IPv6 address as the IPv4 it is. */
export function formatAddress(c: Pick<ConnectionInfo, 'remoteAddress' | 'remotePort'>): string {
  const addr = c.remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return c.remotePort === undefined ? host : `${host}:${c.remotePort}`;
}

/** `TLSv1.3 TLS_AES_256_GCM_SHA384`, or what of it is known. */
export function formatTls(c: Pick<ConnectionInfo, 'tlsVersion' | 'cipher'>): string {
  return [c.tlsVersion, c.cipher].filter((x) => x !== undefined && x !== '').join(' ');
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Addresses sort by their numbers (10.0.0.9 before 10.0.0.10), then by port. */
function addressKey(c: ConnectionInfo): string {
  const addr = c.remoteAddress.replace(/^::ffff:/i, '');
  const parts = /^\d+\.\d+\.\d+\.\d+$/.test(addr) ? addr.split('.').map((n) => n.padStart(3, '0')) : [addr];
  return `${parts.join('.')}:${String(c.remotePort ?? 0).padStart(5, '0')}`;
}

function compare(a: ConnectionInfo, b: ConnectionInfo, key: SortKey): number {
  switch (key) {
    case 'cn':
      return collator.compare(a.cn, b.cn);
    case 'serial':
      return a.serial.toLowerCase().localeCompare(b.serial.toLowerCase());
    case 'address':
      return addressKey(a).localeCompare(addressKey(b));
    case 'tls':
      return collator.compare(formatTls(a), formatTls(b));
    case 'since':
      return Date.parse(a.since) - Date.parse(b.since);
    case 'bytes':
      return a.bytesIn + a.bytesOut - (b.bytesIn + b.bytesOut);
    case 'bytesIn':
      return a.bytesIn - b.bytesIn;
    case 'bytesOut':
      return a.bytesOut - b.bytesOut;
    case 'requests':
      return a.requests - b.requests;
    default: {
      const never: never = key;
      return String(never).length;
    }
  }
}

/** Sorted copy; ties keep the order of their id, so rows do not jump between updates. */
export function sortConnections(list: readonly ConnectionInfo[], sort: SortSpec): ConnectionInfo[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  return [...list].sort((a, b) => sign * compare(a, b, sort.key) || a.id.localeCompare(b.id));
}

/**
 * Connections whose CN, serial (with or without colons), address:port, TLS version or cipher contain
 * every word of `text`, ignoring case.
 */
export function filterConnections(list: readonly ConnectionInfo[], text: string): ConnectionInfo[] {
  const words = text
    .trim()
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return [...list];
  return list.filter((c) => {
    const hay = [c.cn, c.serial, formatAddress(c), formatTls(c)].join('\n').toLowerCase();
    return words.every((w) => hay.includes(w) || (w.includes(':') && hay.includes(w.replace(/:/g, ''))));
  });
}

export interface CertificateGroup {
  readonly serial: string;
  readonly cn: string;
  readonly connections: readonly ConnectionInfo[];
}

/** One group per certificate (serial), in the order its first connection has in `sorted`. */
export function groupByCertificate(sorted: readonly ConnectionInfo[]): CertificateGroup[] {
  const groups = new Map<string, { serial: string; cn: string; connections: ConnectionInfo[] }>();
  for (const c of sorted) {
    const key = c.serial.toLowerCase();
    const g = groups.get(key);
    if (g) g.connections.push(c);
    else groups.set(key, { serial: c.serial, cn: c.cn, connections: [c] });
  }
  return [...groups.values()];
}

/** The next sort when a column header is activated: same column flips, another starts ascending. */
export function nextSort(current: SortSpec, key: SortKey): SortSpec {
  if (current.key === key) return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  // Counters and ages read best largest first.
  const numeric = key === 'bytes' || key === 'bytesIn' || key === 'bytesOut' || key === 'requests';
  return { key, dir: numeric ? 'desc' : 'asc' };
}

/**
 * The chart in words, for screen readers and anyone who prefers numbers (issue 10: it read as
 * "Time: --"): open connections now and at the peak, refusals over the window.
 */
export function chartSummary(
  series: { readonly open: readonly number[]; readonly refused: readonly number[] },
  live: number,
): string {
  const peak = Math.max(live, ...series.open.filter((v) => v >= 0));
  const refused = series.refused.reduce((a, b) => a + b, 0);
  return (
    `Last 10 minutes: ${live} open connection${live === 1 ? '' : 's'} now, peak ${peak}; ` +
    `${refused === 0 ? 'no' : refused.toLocaleString()} refused connection${refused === 1 ? '' : 's'}.`
  );
}

import { describe, expect, it } from 'vitest';
import type { ConnectionInfo } from '../../../../shared/model';
import {
  chartSummary,
  filterConnections,
  formatAddress,
  formatTls,
  groupByCertificate,
  nextSort,
  sortConnections,
} from './view';

function conn(id: string, over: Partial<ConnectionInfo>): ConnectionInfo {
  return {
    id,
    cn: 'alice@ops',
    serial: 'aa01',
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    tlsVersion: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    since: '2026-12-01T10:00:00.000Z',
    bytesIn: 0,
    bytesOut: 0,
    requests: 0,
    ...over,
  };
}

const list = [
  conn('a', { remotePort: 51234, requests: 5, bytesIn: 900 }),
  conn('b', { cn: 'bob@ops', serial: 'bb02', remoteAddress: '10.0.0.10', remotePort: 40000, requests: 1 }),
  conn('c', {
    remoteAddress: '::ffff:10.0.0.9',
    remotePort: 40001,
    requests: 9,
    since: '2026-12-01T09:00:00.000Z',
  }),
  conn('d', {
    cn: 'carol',
    serial: 'cc03',
    remoteAddress: '::1',
    remotePort: 443,
    tlsVersion: 'TLSv1.2',
    cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  }),
];

describe('connections view', () => {
  it('shows the source as address:port, IPv6 in brackets, IPv4-mapped as IPv4', () => {
    expect(list.map(formatAddress)).toEqual([
      '127.0.0.1:51234',
      '10.0.0.10:40000',
      '10.0.0.9:40001',
      '[::1]:443',
    ]);
    expect(formatAddress({ remoteAddress: '127.0.0.1' })).toBe('127.0.0.1');
    expect(formatTls(list[3]!)).toBe('TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256');
  });

  it('sorts by any column both ways, addresses by their numbers', () => {
    const ids = (key: Parameters<typeof nextSort>[1], dir: 'asc' | 'desc') =>
      sortConnections(list, { key, dir }).map((c) => c.id);
    expect(ids('address', 'asc')).toEqual(['d', 'c', 'b', 'a']);
    expect(ids('requests', 'desc')).toEqual(['c', 'a', 'b', 'd']);
    expect(ids('cn', 'asc')).toEqual(['a', 'c', 'b', 'd']);
    expect(ids('since', 'asc')[0]).toBe('c');
    expect(ids('tls', 'asc')[0]).toBe('d');
    expect(nextSort({ key: 'cn', dir: 'asc' }, 'cn')).toEqual({ key: 'cn', dir: 'desc' });
    expect(nextSort({ key: 'cn', dir: 'asc' }, 'requests')).toEqual({ key: 'requests', dir: 'desc' });
  });

  it('filters by every word, over CN, serial with or without colons, address:port and TLS', () => {
    const ids = (t: string) => filterConnections(list, t).map((c) => c.id);
    expect(ids('')).toEqual(['a', 'b', 'c', 'd']);
    expect(ids('ALICE')).toEqual(['a', 'c']);
    expect(ids('alice 51234')).toEqual(['a']);
    expect(ids('BB:02')).toEqual(['b']);
    expect(ids('10.0.0.9:40001')).toEqual(['c']);
    expect(ids('tlsv1.2')).toEqual(['d']);
    expect(ids('nobody')).toEqual([]);
  });

  it('groups by certificate in the order of the sorted rows', () => {
    const groups = groupByCertificate(sortConnections(list, { key: 'requests', dir: 'desc' }));
    expect(groups.map((g) => [g.cn, g.connections.map((c) => c.id)])).toEqual([
      ['alice@ops', ['c', 'a']],
      ['bob@ops', ['b']],
      ['carol', ['d']],
    ]);
  });
});

describe('chart summary', () => {
  it('says the chart in words: now, peak, refusals', () => {
    expect(chartSummary({ open: [-1, 2, 7, 3], refused: [0, 4, 0, 8] }, 3)).toBe(
      'Last 10 minutes: 3 open connections now, peak 7; 12 refused connections.',
    );
    expect(chartSummary({ open: [-1, -1], refused: [0, 0] }, 1)).toBe(
      'Last 10 minutes: 1 open connection now, peak 1; no refused connections.',
    );
  });
});

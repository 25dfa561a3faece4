import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../shared/model';
import { EMPTY_AUDIT_FILTER, distinctTypes, filterAudit, mergeAudit } from './audit-filter';

function rec(
  seq: number,
  type: string,
  actor: AuditRecord['actor'],
  time = '2025-01-01T00:00:00Z',
): AuditRecord {
  return { seq, time, type, actor, details: {}, prev: '0'.repeat(64) };
}

const records: AuditRecord[] = [
  rec(1, 'ca.init', { kind: 'operator', name: 'root' }, '2025-01-01T00:00:00Z'),
  rec(
    2,
    'gateway.connection.accepted',
    { kind: 'client', cn: 'alice', serial: 'ab01' },
    '2025-01-01T01:00:00Z',
  ),
  rec(3, 'gateway.connection.refused', { kind: 'client', cn: 'bob', serial: 'cd02' }, '2025-01-01T02:00:00Z'),
  rec(4, 'gateway.request', { kind: 'client', cn: 'alice', serial: 'ab01' }, '2025-01-01T03:00:00Z'),
];

describe('filterAudit', () => {
  it('returns the same array when no filter is set', () => {
    expect(filterAudit(records, EMPTY_AUDIT_FILTER)).toBe(records);
  });
  it('matches type as a substring, case-insensitively', () => {
    const r = filterAudit(records, { ...EMPTY_AUDIT_FILTER, type: 'Gateway.Connection' });
    expect(r.map((x) => x.seq)).toEqual([2, 3]);
  });
  it('matches CN on the client actor only', () => {
    expect(filterAudit(records, { ...EMPTY_AUDIT_FILTER, cn: 'ali' }).map((x) => x.seq)).toEqual([2, 4]);
    expect(filterAudit(records, { ...EMPTY_AUDIT_FILTER, cn: 'root' })).toEqual([]);
  });
  it('matches serial as a prefix, ignoring colons and case', () => {
    expect(filterAudit(records, { ...EMPTY_AUDIT_FILTER, serial: 'CD:0' }).map((x) => x.seq)).toEqual([3]);
  });
  it('keeps an inclusive time range', () => {
    const from = Date.parse('2025-01-01T01:00:00Z');
    const to = Date.parse('2025-01-01T02:00:00Z');
    expect(filterAudit(records, { ...EMPTY_AUDIT_FILTER, from, to }).map((x) => x.seq)).toEqual([2, 3]);
    expect(filterAudit(records, { ...EMPTY_AUDIT_FILTER, from }).map((x) => x.seq)).toEqual([2, 3, 4]);
  });
  it('combines filters', () => {
    const r = filterAudit(records, { ...EMPTY_AUDIT_FILTER, type: 'request', cn: 'alice', serial: 'ab' });
    expect(r.map((x) => x.seq)).toEqual([4]);
  });
  it('stays fast at 100,000 records', () => {
    const many: AuditRecord[] = [];
    for (let i = 0; i < 100_000; i++) {
      many.push(
        rec(i, i % 3 ? 'gateway.request' : 'gateway.connection.refused', {
          kind: 'client',
          cn: `c${i % 50}`,
          serial: 'ff',
        }),
      );
    }
    const t0 = performance.now();
    const r = filterAudit(many, { ...EMPTY_AUDIT_FILTER, type: 'refused', cn: 'c1' });
    expect(performance.now() - t0).toBeLessThan(200);
    expect(r.length).toBeGreaterThan(0);
  });
});

describe('distinctTypes / mergeAudit', () => {
  it('lists sorted distinct types', () => {
    expect(distinctTypes(records)).toEqual([
      'ca.init',
      'gateway.connection.accepted',
      'gateway.connection.refused',
      'gateway.request',
    ]);
  });
  it('appends only records newer than the last one held, in seq order', () => {
    const merged = mergeAudit(records.slice(0, 2), [records[3]!, records[1]!, records[2]!]);
    expect(merged?.map((x) => x.seq)).toEqual([1, 2, 3, 4]);
    expect(mergeAudit(records, [records[0]!])).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import type { AuditFilter, AuditRecord } from '../../../shared/model';
import {
  EMPTY_AUDIT_DRAFT,
  actorSuggestions,
  filterKey,
  isEmptyDraft,
  matchLive,
  parseDraft,
  typeSuggestions,
} from './audit-filter';
import { rec } from './audit.fixture';

const alice = { kind: 'client', cn: 'alice', serial: 'ab01' } as const;
const root = { kind: 'operator', name: 'root' } as const;

describe('parseDraft', () => {
  it('turns an empty toolbar into an empty filter', () => {
    expect(parseDraft(EMPTY_AUDIT_DRAFT)).toEqual({ ok: true, filter: {} });
    expect(isEmptyDraft({ ...EMPTY_AUDIT_DRAFT, cn: '   ' })).toBe(true);
  });
  it('normalizes the way main does: trimmed, serial as bare lowercase hex, times as ISO', () => {
    const r = parseDraft({
      ...EMPTY_AUDIT_DRAFT,
      type: ' gateway.connection ',
      serial: 'serial=AB:01',
      from: Date.parse('2025-01-01T01:00:00Z'),
    });
    expect(r).toEqual({
      ok: true,
      filter: { type: 'gateway.connection', serial: 'ab01', from: '2025-01-01T01:00:00.000Z' },
    });
    expect(parseDraft({ ...EMPTY_AUDIT_DRAFT, serial: '0xFF' })).toEqual({
      ok: true,
      filter: { serial: 'ff' },
    });
  });
  it('names the field that main would refuse', () => {
    const bad = parseDraft({ ...EMPTY_AUDIT_DRAFT, serial: 'xyz' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.field).toBe('serial');
    const type = parseDraft({ ...EMPTY_AUDIT_DRAFT, type: 'has space' });
    expect(!type.ok && type.field).toBe('type');
    const range = parseDraft({ ...EMPTY_AUDIT_DRAFT, from: 2000, to: 1000 });
    expect(!range.ok && range.field).toBe('to');
  });
  it('keys equal filters alike', () => {
    const a = parseDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'alice ' });
    const b = parseDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'alice' });
    expect(a.ok && b.ok && filterKey(a.filter) === filterKey(b.filter)).toBe(true);
    expect(filterKey({ cn: 'alice' })).not.toBe(filterKey({ actor: 'alice' }));
  });
});

describe('matchLive', () => {
  const m = (f: AuditFilter, r: AuditRecord) => matchLive(f, r);
  const accepted = rec(2, 'gateway.connection.accepted', alice, { time: '2025-01-01T01:00:00.000Z' });
  const issued = rec(3, 'client.issued', root, {
    cn: 'bob',
    serial: 'cd02',
    details: { notAfter: '2025-02-01T00:00:00Z', note: { reason: 'Rotation' } },
  });

  it('matches everything with an empty filter', () => {
    expect(m({}, accepted)).toBe('yes');
  });
  it('matches the type as a prefix, by characters and case, as main does', () => {
    expect(m({ type: 'gateway.connection' }, accepted)).toBe('yes');
    expect(m({ type: 'gateway.connection.accepted' }, accepted)).toBe('yes');
    expect(m({ type: 'gateway.conn' }, accepted)).toBe('yes');
    expect(m({ type: 'gateway.connection.refused' }, accepted)).toBe('no');
    expect(m({ type: 'Gateway.Connection' }, accepted)).toBe('no');
    expect(
      m({ type: 'gateway.connection.refused' }, rec(9, 'gateway.connection.refused.suppressed', alice)),
    ).toBe('yes');
  });
  it('matches CN (ASCII case ignored) and serial of the certificate a record is about', () => {
    expect(m({ cn: 'alice' }, accepted)).toBe('yes');
    expect(m({ cn: 'ALICE' }, accepted)).toBe('yes');
    expect(m({ cn: 'bob' }, issued)).toBe('yes'); // an operator action about bob's certificate
    expect(m({ cn: 'ali' }, accepted)).toBe('no');
    expect(m({ cn: 'ÄLICE' }, rec(5, 'gateway.request', { kind: 'client', cn: 'älice', serial: 'ff' }))).toBe(
      'unsure',
    );
    expect(m({ serial: 'cd02' }, issued)).toBe('yes');
    expect(m({ serial: 'cd02' }, accepted)).toBe('no');
    expect(m({ cn: 'x' }, rec(4, 'gateway.started', { kind: 'system' }))).toBe('no');
  });
  it('matches the renewal of a certificate by the renewed serial too (the record is about its successor)', () => {
    const renewed = rec(6, 'client.renewed', root, {
      cn: 'bob',
      serial: 'ee03',
      details: { renewedFrom: 'cd02' },
    });
    expect(m({ serial: 'cd02' }, renewed)).toBe('yes');
    expect(m({ serial: 'ee03' }, renewed)).toBe('yes');
    expect(m({ serial: 'cd02' }, rec(7, 'client.issued', root, { details: { renewedFrom: 'cd02' } }))).toBe(
      'no',
    );
  });
  it('matches the actor exactly: an operator name or system; clients go by their CN', () => {
    expect(m({ actor: 'root' }, issued)).toBe('yes');
    expect(m({ actor: 'alice' }, accepted)).toBe('no');
    expect(m({ actor: 'system' }, rec(4, 'gateway.started', { kind: 'system' }))).toBe('yes');
    expect(m({ actor: 'system' }, rec(4, 'x', { kind: 'operator', name: 'root' }))).toBe('no');
    expect(m({ actor: 'bob' }, issued)).toBe('no');
    expect(m({ actor: 'ROOT' }, issued)).toBe('no');
  });
  it('keeps an inclusive time range, comparing instants', () => {
    const at = '2025-01-01T01:00:00.000Z';
    expect(m({ from: at, to: at }, accepted)).toBe('yes');
    expect(m({ from: '2025-01-01T01:00:00.001Z' }, accepted)).toBe('no');
    expect(m({ to: '2025-01-01T00:59:59.999Z' }, accepted)).toBe('no');
    expect(m({ from: '2025-01-01T02:00:00+02:00' }, accepted)).toBe('yes');
  });
  it('finds text in type, actor, CN, serial and the details’ JSON, ASCII case ignored', () => {
    expect(m({ text: 'ISSUED' }, issued)).toBe('yes');
    expect(m({ text: 'root' }, issued)).toBe('yes');
    expect(m({ text: 'cd0' }, issued)).toBe('yes');
    expect(m({ text: '2025-02' }, issued)).toBe('yes');
    expect(m({ text: '"reason":"rotation"' }, issued)).toBe('yes'); // keys and nesting, as main stores them
    expect(m({ text: 'system' }, rec(4, 'gateway.started', { kind: 'system' }))).toBe('no');
    expect(m({ text: 'nowhere' }, issued)).toBe('no');
    expect(m({ text: 'Rötation' }, issued)).toBe('unsure'); // SQLite folds ASCII only; ours might differ
  });
  it('combines fields: any no wins, then any unsure', () => {
    expect(m({ type: 'client', cn: 'bob', actor: 'root' }, issued)).toBe('yes');
    expect(m({ type: 'client', cn: 'alice' }, issued)).toBe('no');
    expect(m({ type: 'client', text: 'Ö' }, issued)).toBe('unsure');
    expect(m({ type: 'gateway', text: 'Ö' }, issued)).toBe('no');
  });
});

describe('suggestions', () => {
  it('offers the known types plus any seen, sorted', () => {
    const types = typeSuggestions([rec(1, 'custom.thing', root)]);
    expect(types).toContain('gateway.connection');
    expect(types).toContain('custom.thing');
    expect([...types].sort()).toEqual(types);
  });
  it('offers system and the operators seen', () => {
    expect(actorSuggestions([rec(1, 'client.issued', root), rec(2, 'gateway.request', alice)])).toEqual([
      'root',
      'system',
    ]);
  });
});

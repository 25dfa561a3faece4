import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntryInput } from './record';
import { appendAudit, exportAudit, queryAudit } from './index';
import { openTestDb, tx, type TestDb } from './audit.testutil';

let t: TestDb;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const TYPES = [
  'gateway.connection.accepted',
  'gateway.connection.refused',
  'gateway.request',
  'client.issued',
];

/** 1000 records, one a minute: type cycles, 10 clients, operators on client.issued. */
function gen(i: number): AuditEntryInput {
  const type = TYPES[i % 4]!;
  const client = `client-${i % 10}`;
  const serial = (0xa0 + (i % 10)).toString(16);
  return {
    type,
    actor:
      type === 'client.issued'
        ? { kind: 'operator', name: i % 8 === 3 ? 'bob' : 'alice' }
        : { kind: 'client', cn: client, serial },
    cn: client,
    serial,
    details: { i, path: i === 500 ? '/needle%_x' : '/p' },
    time: new Date(T0 + i * 60_000),
  };
}

beforeEach(async () => {
  t = await openTestDb();
  tx(t.db, () =>
    appendAudit(
      t.db,
      Array.from({ length: 1000 }, (_, i) => gen(i)),
    ),
  );
  tx(t.db, () => appendAudit(t.db, [{ type: 'gateway.stopped', actor: { kind: 'system' }, details: {} }]));
});
afterEach(() => t.close());

const seqsOf = (f: Parameters<typeof queryAudit>[1], page = {}) =>
  queryAudit(t.db, f, page).records.map((r) => r.seq);

describe('queryAudit', () => {
  it('pages newest first by seq with a keyset cursor and totals from the head', () => {
    const p1 = queryAudit(t.db, {}, { limit: 3 });
    expect(p1.records.map((r) => r.seq)).toEqual([1001, 1000, 999]);
    expect(p1).toMatchObject({ total: 1001, nextCursor: 999 });
    expect(seqsOf({}, { before: 999, limit: 2 })).toEqual([998, 997]);
    expect(queryAudit(t.db, {}, { before: 3, limit: 5 })).toMatchObject({ nextCursor: null });
    expect(seqsOf({}, { before: 3, limit: 5 })).toEqual([2, 1]);
    expect(queryAudit(t.db, {}).records).toHaveLength(200);
    expect(() => queryAudit(t.db, {}, { limit: 1001 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('matches a type by prefix, merging types in seq order', () => {
    const p = queryAudit(t.db, { type: 'gateway.connection' }, { limit: 4 });
    expect(p.total).toBe(500);
    expect(p.records.map((r) => r.seq)).toEqual([998, 997, 994, 993]);
    expect(seqsOf({ type: 'gateway.connection' }, { before: 993, limit: 2 })).toEqual([990, 989]);
    expect(queryAudit(t.db, { type: 'gateway' }).total).toBe(751);
    expect(queryAudit(t.db, { type: 'gateway.request' }).total).toBe(250);
    expect(queryAudit(t.db, { type: 'nothing' })).toEqual({ records: [], total: 0, nextCursor: null });
  });

  it('filters by CN (any case), serial, actor and time, combined', () => {
    expect(queryAudit(t.db, { cn: 'CLIENT-3' }).total).toBe(100);
    expect(seqsOf({ cn: 'client-3' }, { limit: 2 })).toEqual([994, 984]);
    expect(queryAudit(t.db, { serial: 'a3' }).total).toBe(100);
    expect(queryAudit(t.db, { actor: 'bob' }).total).toBe(125);
    expect(queryAudit(t.db, { actor: 'system' }).records.map((r) => r.seq)).toEqual([1001]);
    // Clients are found by CN; the actor filter names operators (and the system).
    expect(queryAudit(t.db, { actor: 'client-3' }).total).toBe(0);
    const from = new Date(T0 + 100 * 60_000).toISOString();
    const to = '2030-01-01T03:19:00+01:00'; // = 02:19Z, minute 139
    const p = queryAudit(t.db, { from, to }, { limit: 5 });
    expect(p.total).toBe(40);
    expect(p.records.map((r) => r.seq)).toEqual([140, 139, 138, 137, 136]);
    expect(queryAudit(t.db, { from, to, cn: 'client-3', type: 'gateway' }).records.map((r) => r.seq)).toEqual(
      [134, 114],
    );
    expect(() => queryAudit(t.db, { from: 'yesterday' })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('finds text anywhere, with LIKE wildcards taken literally', () => {
    expect(queryAudit(t.db, { text: 'needle%_' }).records.map((r) => r.seq)).toEqual([501]);
    expect(queryAudit(t.db, { text: '%' }).total).toBe(1);
    expect(queryAudit(t.db, { text: 'BOB' }).total).toBe(125);
    expect(queryAudit(t.db, { text: 'connection.refused', cn: 'client-1' }).total).toBe(50);
  });
});

describe('exportAudit', () => {
  it('writes JSON Lines that are the record lines, oldest first, 0600', async () => {
    const out = path.join(t.dir, 'audit.jsonl');
    expect(await exportAudit(t.db, { cn: 'client-3' }, 'jsonl', out)).toEqual({ records: 100 });
    const lines = (await readFile(out, 'utf8')).split('\n').slice(0, -1);
    expect(lines).toHaveLength(100);
    const first = JSON.parse(lines[0]!) as { seq: number; prev: string };
    expect(first.seq).toBe(4);
    const rec = queryAudit(t.db, { cn: 'client-3' }, { limit: 1000 }).records.at(-1)!;
    expect(createHash('sha256').update(lines[0]!).digest('hex')).toBe(rec.hash);
    if (process.platform !== 'win32') expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(await exportAudit(t.db, {}, 'jsonl', out)).toEqual({ records: 1001 });
  });

  it('writes RFC 4180 CSV with formulas defused', async () => {
    tx(t.db, () =>
      appendAudit(t.db, [
        {
          type: 'x',
          actor: { kind: 'operator', name: '=HYPERLINK("http://evil")' },
          cn: '+cmd',
          details: { q: 'a,"b"' },
        },
      ]),
    );
    const out = path.join(t.dir, 'audit.csv');
    expect(await exportAudit(t.db, { type: 'x' }, 'csv', out)).toEqual({ records: 1 });
    const [header, row, end] = (await readFile(out, 'utf8')).split('\r\n');
    expect(header).toBe('seq,time,type,actor,cn,serial,details,prev,hash');
    expect(row).toMatch(
      /^1002,[^,]+,x,"'=HYPERLINK\(""http:\/\/evil""\)",'\+cmd,,"\{""q"":""a,\\""b\\""""\}",[0-9a-f]{64},[0-9a-f]{64}$/,
    );
    expect(end).toBe('');
  });
});

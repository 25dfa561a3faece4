import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, archiveAudit, queryAudit, verifyAudit } from './index';
import { makeCa, openTestDb, tx, type TestCa, type TestDb } from './audit.testutil';

let ca: TestCa;
let t: TestDb;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (min: number) => new Date(T0 + min * 60_000);

beforeAll(async () => {
  ca = await makeCa('ecdsa-p256');
});
beforeEach(async () => {
  t = await openTestDb();
  // 300 records a minute apart, a checkpoint every 50.
  for (let b = 0; b < 6; b++) {
    const batch = Array.from({ length: 50 }, (_, j) => ({
      type: 'gateway.request',
      actor: { kind: 'system' } as const,
      details: { i: b * 50 + j },
      time: at(b * 50 + j),
    }));
    tx(t.db, () => appendAudit(t.db, batch, { signer: ca.signer, now: at(b * 50 + 49) }));
  }
});
afterEach(() => t.close());

const file = (n: string) => path.join(t.dir, n);

async function archiveTwice(): Promise<[string, string]> {
  const a = await archiveAudit(t.db, {
    before: at(100),
    outFile: file('a.jsonl.gz'),
    signer: ca.signer,
    now: at(400),
  });
  expect(a).toEqual({ records: 102, firstSeq: 1, lastSeq: 102, file: file('a.jsonl.gz') });
  const b = await archiveAudit(t.db, {
    before: at(200),
    outFile: file('b.jsonl.gz'),
    signer: ca.signer,
    now: at(401),
  });
  expect(b).toMatchObject({ firstSeq: 103, lastSeq: 204 });
  return [file('a.jsonl.gz'), file('b.jsonl.gz')];
}

describe('archiveAudit', () => {
  it('returns null when nothing is older', async () => {
    expect(await archiveAudit(t.db, { before: at(0), outFile: file('x.gz'), signer: ca.signer })).toBeNull();
  });

  it('moves a prefix to signed archives that verify with the database, and without them via the anchor', async () => {
    const files = await archiveTwice();
    const lines = gunzipSync(await readFile(files[0]))
      .toString('utf8')
      .split('\n');
    expect(lines).toHaveLength(104); // 102 records, the trailer, the final newline
    expect(JSON.parse(lines[102]!)).toMatchObject({
      archive: { firstSeq: 1, lastSeq: 102, firstPrev: '0'.repeat(64) },
    });
    expect(queryAudit(t.db, {}, { limit: 1 }).records[0]).toMatchObject({ type: 'audit.checkpoint' });
    expect(queryAudit(t.db, { type: 'audit.archived' }).total).toBe(2);
    // Type totals come from per-type counts; archiving takes the moved records out of them.
    for (const type of ['gateway.request', 'audit.checkpoint']) {
      const counted = t.db.prepare('SELECT count(*) AS n FROM audit WHERE type = ?').get(type) as {
        n: number;
      };
      expect({ type, total: queryAudit(t.db, { type }).total }).toEqual({ type, total: counted.n });
    }

    const full = await verifyAudit(t.db, ca.certPem, { archives: [files[1], files[0]], now: at(402) });
    expect(full).toMatchObject({ ok: true, records: 310, archivedBefore: 205, unsignedTail: 0 });
    const dbOnly = await verifyAudit(t.db, ca.certPem, { now: at(402) });
    expect(dbOnly).toMatchObject({ ok: true, records: 106, archivedBefore: 205 });
    expect(dbOnly.summary).toMatch(/records before seq 205 are archived \(not checked here\)$/);

    // The database starts at the anchor; appends continue, checkpoints still sign.
    tx(t.db, () =>
      appendAudit(t.db, [{ type: 'x', actor: { kind: 'system' }, details: {} }], { signer: ca.signer }),
    );
    expect((await verifyAudit(t.db, ca.certPem, { archives: files })).ok).toBe(true);
  });

  it('catches a tampered archive line, a missing archive and a forged anchor', async () => {
    const [a, b] = await archiveTwice();
    const text = gunzipSync(await readFile(a))
      .toString('utf8')
      .replace('{"i":7}', '{"i":8}');
    const tampered = file('tampered.jsonl.gz');
    await writeFile(tampered, gzipSync(text));
    expect((await verifyAudit(t.db, ca.certPem, { archives: [tampered, b] })).firstBad).toEqual({
      seq: 9,
      problem: `archive ${tampered}: edited: its prev does not match the hash of seq 8 (one of the two was changed)`,
    });
    expect((await verifyAudit(t.db, ca.certPem, { archives: [b] })).firstBad).toEqual({
      seq: 1,
      problem: 'seqs 1-102 are missing: no archive given holds them',
    });
    expect((await verifyAudit(t.db, ca.certPem, { archives: [a] })).firstBad?.problem).toMatch(
      /the archives end at seq 102 but the database continues from seq 204/,
    );
    const cut = file('cut.jsonl.gz');
    await writeFile(
      cut,
      gzipSync(
        gunzipSync(await readFile(a))
          .toString('utf8')
          .split('\n')
          .slice(0, 50)
          .join('\n'),
      ),
    );
    expect((await verifyAudit(t.db, ca.certPem, { archives: [cut, b] })).firstBad?.problem).toMatch(
      /no signed trailer/,
    );

    t.db.prepare('UPDATE audit_anchor SET seq = seq - 1').run();
    expect((await verifyAudit(t.db, ca.certPem)).firstBad?.problem).toMatch(
      /anchor’s signature does not verify/,
    );
  });

  it('refuses to archive a tampered prefix, leaving no file', async () => {
    t.db.prepare(`UPDATE audit SET details = '{}' WHERE seq = 30`).run();
    await expect(
      archiveAudit(t.db, { before: at(100), outFile: file('a.jsonl.gz'), signer: ca.signer }),
    ).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
    await expect(readFile(file('a.jsonl.gz'))).rejects.toMatchObject({ code: 'ENOENT' });
    await rm(file('a.jsonl.gz'), { force: true });
  });
});

describe('a large log', () => {
  it('appends and verifies 200,000 records in constant memory', async () => {
    const big = await openTestDb();
    try {
      const rss0 = process.memoryUsage().rss;
      for (let b = 0; b < 200; b++) {
        const batch = Array.from({ length: 1000 }, (_, j) => ({
          type: 'gateway.request',
          actor: { kind: 'client', cn: `c${j % 50}`, serial: 'ab' } as const,
          cn: `c${j % 50}`,
          serial: 'ab',
          details: { status: 200, bytes: j, path: '/api/v1/items' },
        }));
        tx(big.db, () => appendAudit(big.db, batch, b % 20 === 19 ? { signer: ca.signer } : {}));
      }
      const v = await verifyAudit(big.db, ca.certPem);
      expect(v).toMatchObject({ ok: true, records: 200_010, unsignedTail: 0 });
      expect(process.memoryUsage().rss - rss0).toBeLessThan(400 * 1024 * 1024);
    } finally {
      await big.close();
    }
  });
});

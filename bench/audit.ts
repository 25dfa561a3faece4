import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { AuditFilter } from '../src/shared/model';
import {
  AUDIT_SCHEMA_SQL,
  appendAudit,
  exportAudit,
  queryAudit,
  verifyAudit,
  type AuditEntryInput,
} from '../src/main/audit';
import { createCa, exportPrivateKeyPkcs8Der, randomSerial } from '../src/main/pki';
import { caAuditSigner } from '../src/main/service/signer';
import { fmt, median, timeIt } from './stats';

const TYPES = [
  'gateway.request',
  'gateway.request',
  'gateway.request',
  'gateway.request',
  'gateway.request',
  'gateway.request',
  'gateway.connection.accepted',
  'gateway.connection.closed',
  'gateway.connection.refused',
  'client.issued',
];

/** A gateway-shaped log: mostly requests from 1,000 clients, a few operator actions. */
function entry(i: number, t0: number): AuditEntryInput {
  const type = TYPES[i % TYPES.length] as string;
  const c = (i * 7919) % 1000;
  const serial = (0x100000 + c).toString(16);
  return {
    type,
    actor:
      type === 'client.issued'
        ? { kind: 'operator', name: `op${i % 5}` }
        : { kind: 'client', cn: `client-${c}`, serial },
    cn: `client-${c}`,
    serial,
    details: { status: 200, bytes: i % 65_536, path: `/api/items/${i % 977}`, ms: i % 50 },
    time: new Date(t0 + i * 10),
  };
}

async function peakRss<T>(fn: () => Promise<T>): Promise<[T, number]> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    return [await fn(), peak];
  } finally {
    clearInterval(timer);
  }
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

/** Audit at scale (DESIGN.md §9): append rate, first page and count per filter, export, verification. */
export async function benchAudit(log: (line: string) => void): Promise<void> {
  const n = Number(process.env['AUDIT_BENCH_RECORDS'] ?? 1_000_000);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-audit-bench-'));
  const db = new DatabaseSync(path.join(tmp, 'state.db'));
  try {
    db.exec('PRAGMA journal_mode=WAL');
    // The cn and serial indexes take inserts at ~1,000 hot leaf pages each; SQLite's default 2 MB
    // page cache thrashes on them (about 4,500 records/s at 1M records). The app's opener sets it too.
    db.exec(`PRAGMA cache_size=-${Number(process.env['AUDIT_BENCH_CACHE_KB'] ?? 65_536)}`);
    db.exec('PRAGMA wal_autocheckpoint=10000'); // as the app opens it (src/main/db/state-db.ts)
    db.exec(AUDIT_SCHEMA_SQL);
    const { cert, keys } = await createCa({
      algorithm: 'ecdsa-p256',
      commonName: 'Bench CA',
      now: new Date(),
      serial: randomSerial(),
    });
    const signer = caAuditSigner(await exportPrivateKeyPkcs8Der(keys.privateKey), cert.certPem);

    const t0 = Date.now() - n * 10;
    const batch = 2_000;
    const appendBatch = (i: number) => {
      const entries = Array.from({ length: Math.min(batch, n - i) }, (_, j) => entry(i + j, t0));
      db.exec('BEGIN IMMEDIATE');
      // A checkpoint every 10 batches (20,000 records), as the gateway sink would.
      appendAudit(db, entries, (i / batch) % 10 === 9 ? { signer } : {});
      db.exec('COMMIT');
    };
    // The append rate as the app writes: every index in place, synchronous=FULL (one fsync per batch).
    db.exec('PRAGMA synchronous=FULL');
    const measured = Math.min(n, 1_000_000);
    let appendMs = 0;
    let lastTenth = 0;
    for (let i = 0; i < measured; i += batch) {
      const [, ms] = await timeIt(async () => appendBatch(i));
      appendMs += ms;
      if (i >= measured * 0.9) lastTenth += ms;
    }
    log(
      `append ${measured.toLocaleString('en-US')} records (batches of ${batch}, synchronous=FULL, all indexes): ` +
        `${Math.round(measured / (appendMs / 1000)).toLocaleString('en-US')} records/s overall, ` +
        `${Math.round((measured * 0.1) / (lastTenth / 1000)).toLocaleString('en-US')} records/s over the last 10%`,
    );
    if (n > measured) {
      // The rest only builds the table for the query and verify figures: without the indexes that take
      // random inserts (rebuilt after, sorted, in one go) and without fsyncs, or 10M records take an hour.
      db.exec('PRAGMA synchronous=OFF');
      const indexes = db
        .prepare(
          "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name IN ('audit_cn', 'audit_serial', 'audit_actor')",
        )
        .all() as { sql: string }[];
      for (const { sql } of indexes) db.exec(`DROP INDEX ${/CREATE INDEX (\w+)/.exec(sql)?.[1] ?? ''}`);
      const [, fillMs] = await timeIt(async () => {
        for (let i = measured; i < n; i += batch) appendBatch(i);
      });
      const [, indexMs] = await timeIt(async () => {
        for (const { sql } of indexes) db.exec(sql);
      });
      db.exec('PRAGMA synchronous=FULL');
      log(
        `filled to ${n.toLocaleString('en-US')} records in ${fmt(fillMs)}, indexes rebuilt in ${fmt(indexMs)}`,
      );
    }
    const size =
      (await fs.stat(path.join(tmp, 'state.db'))).size +
      (await fs.stat(path.join(tmp, 'state.db-wal')).catch(() => ({ size: 0 }))).size;
    log(`database size: ${mb(size)} (${Math.round(size / n)} bytes/record)`);

    const mid = new Date(t0 + n * 5).toISOString();
    const filters: [string, AuditFilter][] = [
      ['none', {}],
      ['type prefix (gateway.connection, 30%)', { type: 'gateway.connection' }],
      ['type exact (client.issued, 10%)', { type: 'client.issued' }],
      ['cn (0.1%)', { cn: 'client-42' }],
      ['serial (0.1%)', { serial: (0x100000 + 42).toString(16) }],
      ['actor operator (10%)', { actor: 'op4' }],
      ['time (last hour of records)', { from: new Date(t0 + n * 10 - 3_600_000).toISOString() }],
      ['time (1 h in the middle)', { from: mid, to: new Date(Date.parse(mid) + 3_600_000).toISOString() }],
      ['cn + type', { cn: 'client-42', type: 'gateway.connection' }],
      ['text (scan)', { text: 'items/976' }],
    ];
    for (const [name, f] of filters) {
      const firstPage: number[] = [];
      const withCount: number[] = [];
      let total = 0;
      for (let r = 0; r < 5; r++) {
        firstPage.push((await timeIt(async () => queryAudit(db, f, { limit: 200 }).records.length))[1]);
      }
      for (let r = 0; r < 3; r++) {
        const [page, ms] = await timeIt(async () => queryAudit(db, f, { limit: 200 }));
        total = page.total;
        withCount.push(ms);
      }
      const page2 = queryAudit(db, f, { limit: 200 });
      const second =
        page2.nextCursor === null
          ? NaN
          : (await timeIt(async () => queryAudit(db, f, { before: page2.nextCursor!, limit: 200 })))[1];
      log(
        `query ${name}: page+count median ${fmt(median(withCount))} (matches ${total.toLocaleString('en-US')}), ` +
          `next page ${Number.isNaN(second) ? '-' : fmt(second)}`,
      );
      void firstPage;
    }

    const out = path.join(tmp, 'export.jsonl');
    const [exp, expMs] = await timeIt(() => exportAudit(db, { type: 'gateway.connection' }, 'jsonl', out));
    log(`export jsonl (gateway.connection): ${exp.records.toLocaleString('en-US')} records in ${fmt(expMs)}`);

    const rss0 = process.memoryUsage().rss;
    const [[v, verifyMs], peak] = await peakRss(() => timeIt(() => verifyAudit(db, cert.certPem)));
    log(
      `verify: ${v.ok ? 'ok' : `FAILED ${v.summary}`}, ${Math.round(v.records / (verifyMs / 1000)).toLocaleString('en-US')} records/s ` +
        `(${fmt(verifyMs)}), RSS ${mb(rss0)} before, peak ${mb(peak)}`,
    );
  } finally {
    db.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

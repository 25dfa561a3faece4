import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  appendAudit,
  auditRecordAt,
  auditRecordsAfter,
  checkpointDue,
  lastAuditSeq,
  verifyAudit,
} from './index';
import { recordLine, type AuditEntryInput, type AuditRow } from './record';
import { checkpointText } from './signing';
import { makeCa, openTestDb, tx, type TestCa, type TestDb } from './audit.testutil';

let ca: TestCa;
let other: TestCa;
let t: TestDb;
let db: DatabaseSync;
beforeAll(async () => {
  ca = await makeCa('ecdsa-p256');
  other = await makeCa('ecdsa-p256', 'Other CA');
});
beforeEach(async () => {
  t = await openTestDb();
  db = t.db;
});
afterEach(async () => {
  await t.close();
});
afterAll(() => undefined);

const op = { kind: 'operator', name: 'alice' } as const;
const entry = (i: number): AuditEntryInput => ({
  type: 'client.issued',
  actor: op,
  cn: `c${i}`,
  serial: `0A${i.toString(16)}`,
  details: { i },
});

/** n records in batches of 10, each batch closed by a checkpoint, like operator actions. */
function fill(n: number): void {
  for (let i = 1; i <= n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i + 1) }, (_, j) => entry(i + j));
    tx(db, () => appendAudit(db, batch, { signer: ca.signer }));
  }
}

const sql = (s: string, ...p: (string | number)[]) => db.prepare(s).run(...p);
const hashOf = (line: string) => createHash('sha256').update(line).digest('hex');

describe('appendAudit', () => {
  it('chains records from seq 1 and 64 zeros, with lines equal to JSON.stringify in key order', () => {
    const time = new Date('2030-01-02T03:04:05.678Z');
    const [first, second] = tx(db, () =>
      appendAudit(db, [
        { type: 'ca.init', actor: { kind: 'system' }, details: { alg: 'P-256' }, time },
        {
          type: 'gateway.connection.accepted',
          actor: { serial: '0a', kind: 'client', cn: 'bot' },
          cn: 'bot',
          serial: '0A',
          details: { addr: '::1', nested: { z: 1, a: [1, 'x'] } },
        },
      ]),
    );
    expect(first).toMatchObject({
      seq: 1,
      prev: '0'.repeat(64),
      cn: null,
      serial: null,
      actor: { kind: 'system' },
    });
    const line1 = JSON.stringify({
      seq: 1,
      time: '2030-01-02T03:04:05.678Z',
      type: 'ca.init',
      actor: { kind: 'system' },
      cn: null,
      serial: null,
      details: { alg: 'P-256' },
      prev: '0'.repeat(64),
    });
    expect(first!.hash).toBe(hashOf(line1));
    expect(second).toMatchObject({
      seq: 2,
      prev: first!.hash,
      serial: '0a',
      actor: { kind: 'client', cn: 'bot', serial: '0a' },
    });
    const { hash: _h, ...rest } = second!;
    expect(second!.hash).toBe(hashOf(JSON.stringify(rest)));
    const row = db.prepare('SELECT * FROM audit WHERE seq = 2').get() as unknown as AuditRow;
    expect(recordLine(row)).toBe(JSON.stringify(rest));
    expect(db.prepare('SELECT seq, hash FROM audit_head').get()).toEqual({ seq: 2, hash: second!.hash });
    expect(tx(db, () => appendAudit(db, []))).toEqual([]);
    expect(lastAuditSeq(db)).toBe(2);
    expect(auditRecordAt(db, 2)).toEqual(second);
    expect(auditRecordsAfter(db, 0, 1)).toEqual([first]);
  });

  it('rejects input that cannot be recorded faithfully, writing nothing', () => {
    const bad: unknown[] = [
      { type: '', actor: op, details: {} },
      { type: 't', actor: op, details: { n: 1n } },
      { type: 't', actor: op, details: [] },
      { type: 't', actor: op, details: new Date() },
      { type: 't', actor: op, details: {}, time: new Date('nope') },
      { type: 't', actor: { kind: 'root' }, details: {} },
      { type: 't', actor: { kind: 'client', cn: 'x' }, details: {} },
      { type: 't', actor: op, serial: 'zz', details: {} },
    ];
    for (const e of bad) {
      expect(() => tx(db, () => appendAudit(db, [entry(1), e as AuditEntryInput]))).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      );
    }
    expect(lastAuditSeq(db)).toBe(0);
  });

  it('appends a verifiable checkpoint covering the record before it', async () => {
    fill(25);
    const cp = auditRecordAt(db, 11)!;
    expect(cp.type).toBe('audit.checkpoint');
    expect(cp.details).toMatchObject({ covers: { seq: 10, hash: auditRecordAt(db, 10)!.hash } });
    const v = await verifyAudit(db, ca.certPem);
    expect(v).toMatchObject({ ok: true, records: 28, unsignedTail: 0, checkpoint: { seq: 28 } });
    expect(v.summary).toMatch(/^chain intact, 28 records, last signed checkpoint at seq 28 \(\d+ s ago\)$/);
  });

  it('signs with SHA-384 for a P-384 CA, and verifies against that certificate only', async () => {
    const p384 = await makeCa('ecdsa-p384');
    expect(p384.signer.hash).toBe('sha384');
    tx(db, () => appendAudit(db, [entry(1)], { signer: p384.signer }));
    expect((await verifyAudit(db, p384.certPem)).ok).toBe(true);
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 2,
      problem: 'a checkpoint whose signature does not verify against the CA certificate',
    });
  });

  it('says when a checkpoint is due', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const every = { everyRecords: 100, everyMs: 60_000 };
    expect(checkpointDue(db, now, every)).toBe(false);
    tx(db, () => appendAudit(db, [entry(1)], { signer: ca.signer, now }));
    expect(checkpointDue(db, now, every)).toBe(false);
    tx(db, () => appendAudit(db, [entry(2)]));
    expect(checkpointDue(db, now, every)).toBe(false);
    expect(checkpointDue(db, new Date(now.getTime() + 60_000), every)).toBe(true);
    tx(db, () =>
      appendAudit(
        db,
        Array.from({ length: 100 }, (_, i) => entry(i)),
      ),
    );
    expect(checkpointDue(db, now, every)).toBe(true);
  });
});

describe('verifyAudit against an attacker with write access to the database', () => {
  beforeEach(() => fill(100)); // seqs 1-110: every 11th is a checkpoint

  it('accepts the untouched log', async () => {
    expect(await verifyAudit(db, ca.certPem)).toMatchObject({ ok: true, records: 110 });
  });

  it('an edited detail: the stored hash no longer matches', async () => {
    sql(`UPDATE audit SET details = '{"i":500}' WHERE seq = 50`);
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 50,
      problem: 'edited: its content no longer matches its stored hash',
    });
  });

  it('an edit with its hash recomputed: the next link breaks', async () => {
    const row = db.prepare('SELECT * FROM audit WHERE seq = 50').get() as unknown as AuditRow;
    const forged = { ...row, details: '{"i":500}' };
    sql('UPDATE audit SET details = ?, hash = ? WHERE seq = 50', forged.details, hashOf(recordLine(forged)));
    const v = await verifyAudit(db, ca.certPem);
    expect(v.firstBad?.seq).toBe(51);
    expect(v.firstBad?.problem).toMatch(/prev does not match the hash of seq 50/);
    expect(v.summary).toMatch(/^chain broken at seq 51: /);
  });

  it('a consistent rewrite of the whole table: the checkpoint signatures fail', async () => {
    const all = db.prepare('SELECT * FROM audit ORDER BY seq').all() as unknown as AuditRow[];
    let prev = '0'.repeat(64);
    for (const r of all) {
      const details = r.seq === 5 ? '{"i":"rewritten"}' : r.details;
      const line = recordLine({ ...r, details, prev });
      sql(
        'UPDATE audit SET details = ?, prev = ?, hash = ? WHERE seq = ?',
        details,
        prev,
        hashOf(line),
        r.seq,
      );
      prev = hashOf(line);
    }
    sql('UPDATE audit_head SET hash = ?', prev);
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 11,
      problem: 'a checkpoint that does not cover the record before it (seq 10)',
    });
  });

  it('a deleted middle record: a gap', async () => {
    sql('DELETE FROM audit WHERE seq BETWEEN 41 AND 57');
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 41,
      problem: 'seqs 41-57 are missing',
    });
  });

  it('a cut tail: the head remembers, and the next append keeps the gap visible', async () => {
    sql('DELETE FROM audit WHERE seq > 100');
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 101,
      problem: 'records after seq 100 were removed: the head says seq 110',
    });
    const [next] = tx(db, () => appendAudit(db, [entry(999)]));
    expect(next).toMatchObject({ seq: 111 });
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 101,
      problem: 'seqs 101-110 are missing',
    });
  });

  it('a cut tail with the head deleted too: appends refuse to start over', async () => {
    sql('DELETE FROM audit WHERE seq > 100');
    sql('DELETE FROM audit_head');
    expect(() => tx(db, () => appendAudit(db, [entry(1)]))).toThrow(
      expect.objectContaining({ code: 'CORRUPT_STATE' }),
    );
    expect((await verifyAudit(db, ca.certPem)).firstBad?.problem).toMatch(/head is missing/);
  });

  it('an edit of the newest record is caught by its stored hash', async () => {
    sql(`UPDATE audit SET details = '{}' WHERE seq = 110`);
    expect((await verifyAudit(db, ca.certPem)).firstBad?.seq).toBe(110);
  });

  it('rows slipped in past the head', async () => {
    const r = db.prepare('SELECT * FROM audit WHERE seq = 110').get() as unknown as AuditRow;
    const extra = { ...r, seq: 111, details: '{}', prev: r.hash };
    sql(
      'INSERT INTO audit (seq,time,type,actor_kind,actor,actor_serial,cn,serial,details,prev,hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
      ...[
        111,
        extra.time,
        extra.type,
        extra.actor_kind,
        extra.actor,
        extra.actor_serial ?? '',
        extra.cn ?? '',
        extra.serial ?? '',
        '{}',
        r.hash,
        'x',
      ],
    );
    expect((await verifyAudit(db, ca.certPem)).firstBad?.problem).toMatch(/past the audit head/);
    expect(() => tx(db, () => appendAudit(db, [entry(1)]))).toThrow(
      expect.objectContaining({ code: 'CORRUPT_STATE' }),
    );
  });

  it('every checkpoint deleted: gaps; renumbered and rehashed without them: no signed checkpoint', async () => {
    sql(`DELETE FROM audit WHERE type = 'audit.checkpoint'`);
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({ seq: 11, problem: 'seq 11 is missing' });

    const all = db.prepare('SELECT * FROM audit ORDER BY seq').all() as unknown as AuditRow[];
    sql('DELETE FROM audit');
    let prev = '0'.repeat(64);
    const ins = db.prepare(
      'INSERT INTO audit (seq,time,type,actor_kind,actor,actor_serial,cn,serial,details,prev,hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
    );
    all.forEach((r, i) => {
      const h = hashOf(recordLine({ ...r, seq: i + 1, prev }));
      ins.run(
        i + 1,
        r.time,
        r.type,
        r.actor_kind,
        r.actor,
        r.actor_serial,
        r.cn,
        r.serial,
        r.details,
        prev,
        h,
      );
      prev = h;
    });
    sql('UPDATE audit_head SET seq = ?, hash = ?', all.length, prev);
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: null,
      problem: 'no signed checkpoint: the log cannot be told apart from a rewrite',
    });
  });

  it('a checkpoint forged with another key', async () => {
    const [last] = tx(db, () => appendAudit(db, [entry(111)]));
    const signedAt = new Date().toISOString();
    const sig = other.signer.sign(Buffer.from(checkpointText(111, last!.hash, signedAt))).toString('base64');
    const forged = {
      seq: 112,
      time: signedAt,
      type: 'audit.checkpoint',
      actor_kind: 'system',
      actor: '',
      actor_serial: null,
      cn: null,
      serial: null,
      details: JSON.stringify({ covers: { seq: 111, hash: last!.hash }, signedAt, sig }),
      prev: last!.hash,
    };
    const h = hashOf(recordLine(forged));
    sql(
      'INSERT INTO audit (seq,time,type,actor_kind,actor,cn,serial,details,prev,hash) VALUES (?,?,?,?,?,NULL,NULL,?,?,?)',
      ...[112, forged.time, forged.type, 'system', '', forged.details, forged.prev, h],
    );
    sql('UPDATE audit_head SET seq = 112, hash = ?', h);
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 112,
      problem: 'a checkpoint whose signature does not verify against the CA certificate',
    });
    // Nor can a caller append one through the API.
    expect(() =>
      tx(db, () => appendAudit(db, [{ type: 'audit.checkpoint', actor: { kind: 'system' }, details: {} }])),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('refuses to sign a checkpoint over a record another writer edited', async () => {
    // Records of another process (its own connection): the check re-hashes them from their columns.
    const writer = new DatabaseSync(path.join(t.dir, 'state.db'));
    try {
      tx(writer, () => appendAudit(writer, [entry(111), entry(112)])); // not yet signed
    } finally {
      writer.close();
    }
    sql(`UPDATE audit SET details = '{"i":"x"}' WHERE seq = 111`);
    const [, refused] = tx(db, () => appendAudit(db, [entry(1)], { signer: ca.signer }));
    expect(refused).toMatchObject({
      seq: 114,
      type: 'audit.checkpoint.refused',
      details: {
        covers: { seq: 113 },
        firstBad: { seq: 111, problem: 'edited: its content no longer matches its stored hash' },
      },
    });
    expect(refused!.details).not.toHaveProperty('sig');
    expect(checkpointDue(db, new Date(), { everyRecords: 1, everyMs: 60_000 })).toBe(false);
    expect((await verifyAudit(db, ca.certPem)).firstBad?.seq).toBe(111);
    // A checkpoint after the cut is refused too: the gap is in its segment.
    sql('DELETE FROM audit WHERE seq = 111');
    const [cp] = tx(db, () => appendAudit(db, [], { signer: ca.signer }));
    expect(cp).toMatchObject({ type: 'audit.checkpoint.refused', details: { firstBad: { seq: 111 } } });
  });

  it('refuses to sign over its own records rewritten consistently: content, hashes and head', () => {
    tx(db, () => appendAudit(db, [entry(111), entry(112)]));
    // The rewrite a re-hash cannot see: new content, every hash after it recomputed, a new head.
    let prev = (db.prepare('SELECT hash FROM audit WHERE seq = 110').get() as { hash: string }).hash;
    const tail = db
      .prepare('SELECT * FROM audit WHERE seq > 110 ORDER BY seq')
      .all() as unknown as AuditRow[];
    for (const r of tail) {
      const forged = { ...r, prev, details: r.seq === 111 ? '{"i":"forged"}' : r.details };
      const h = hashOf(recordLine(forged));
      sql('UPDATE audit SET details = ?, prev = ?, hash = ? WHERE seq = ?', forged.details, prev, h, r.seq);
      prev = h;
    }
    sql('UPDATE audit_head SET hash = ?', prev);
    const [, refused] = tx(db, () => appendAudit(db, [entry(1)], { signer: ca.signer }));
    expect(refused).toMatchObject({
      type: 'audit.checkpoint.refused',
      details: { firstBad: { seq: 111, problem: 'edited: its hash is not the one written with it' } },
    });
  });

  it('signs its records as written when one is edited behind its hash; verify names the edit', async () => {
    tx(db, () => appendAudit(db, [entry(111), entry(112)]));
    sql(`UPDATE audit SET details = '{"i":"x"}' WHERE seq = 111`);
    const [, cp] = tx(db, () => appendAudit(db, [entry(1)], { signer: ca.signer }));
    expect(cp).toMatchObject({ type: 'audit.checkpoint', details: { covers: { seq: 113 } } });
    expect((await verifyAudit(db, ca.certPem)).firstBad).toEqual({
      seq: 111,
      problem: 'edited: its content no longer matches its stored hash',
    });
  });

  it('does not remember a record of a transaction that rolled back without telling it', () => {
    db.exec('BEGIN IMMEDIATE');
    appendAudit(db, [entry(111)]);
    db.exec('ROLLBACK'); // a transaction of its own, not StateDb.tx
    const writer = new DatabaseSync(path.join(t.dir, 'state.db'));
    try {
      tx(writer, () => appendAudit(writer, [entry(112)])); // seq 111
    } finally {
      writer.close();
    }
    tx(db, () => sql('UPDATE audit_type_count SET n = n')); // a commit with no audit record
    const [, cp] = tx(db, () => appendAudit(db, [entry(113)], { signer: ca.signer }));
    expect(cp).toMatchObject({ type: 'audit.checkpoint', details: { covers: { seq: 112 } } });
  });

  it('does not hold a rolled-back record against the one another writer then put at its seq', () => {
    tx(db, () => appendAudit(db, [entry(111)]));
    expect(() =>
      tx(db, () => {
        appendAudit(db, [entry(112)]);
        throw new Error('the operation failed after its audit record');
      }),
    ).toThrow('the operation failed');
    const writer = new DatabaseSync(path.join(t.dir, 'state.db'));
    try {
      tx(writer, () => appendAudit(writer, [entry(113)])); // seq 112, as the rolled-back one was
    } finally {
      writer.close();
    }
    const [, cp] = tx(db, () => appendAudit(db, [entry(114)], { signer: ca.signer }));
    expect(cp).toMatchObject({ type: 'audit.checkpoint', details: { covers: { seq: 113 } } });
  });
});

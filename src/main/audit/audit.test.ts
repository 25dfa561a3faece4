import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFixture } from '../store/fixture-process';
import { ensureStateDir } from '../store/index';
import { appendAudit, auditPath, readAudit, verifyAudit, type AuditEntryInput } from './index';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mtls-audit-'));
  await ensureStateDir(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const op = { kind: 'operator', name: 'alice' } as const;
const entry = (i: number): AuditEntryInput => ({
  type: 'client.issue',
  actor: op,
  details: { i, cn: `c${i}` },
});

async function append100(): Promise<void> {
  for (let i = 1; i <= 100; i++) await appendAudit(dir, [entry(i)]);
}

async function lines(): Promise<string[]> {
  return (await readFile(auditPath(dir), 'utf8')).split('\n').slice(0, -1);
}

async function writeLines(ls: readonly string[]): Promise<void> {
  await writeFile(auditPath(dir), ls.map((l) => `${l}\n`).join(''));
}

describe('appendAudit', () => {
  it('writes a 0600 hash chain with keys in order, starting at seq 1 and 64 zeros', async () => {
    const time = new Date('2030-01-02T03:04:05.678Z');
    const [first] = await appendAudit(dir, [
      { type: 'ca.init', actor: { kind: 'system' }, details: { alg: 'P-256' }, time },
    ]);
    const more = await appendAudit(dir, [
      { type: 'conn.accepted', actor: { serial: '0a', kind: 'client', cn: 'bot' }, details: { addr: '::1' } },
      { type: 'conn.closed', actor: { kind: 'client', cn: 'bot', serial: '0a' }, details: { bytes: 10 } },
    ]);
    expect(first).toEqual({
      seq: 1,
      time: '2030-01-02T03:04:05.678Z',
      type: 'ca.init',
      actor: { kind: 'system' },
      details: { alg: 'P-256' },
      prev: '0'.repeat(64),
    });
    const ls = await lines();
    expect(ls[0]).toBe(
      '{"seq":1,"time":"2030-01-02T03:04:05.678Z","type":"ca.init","actor":{"kind":"system"},"details":{"alg":"P-256"},"prev":"' +
        '0'.repeat(64) +
        '"}',
    );
    expect(Object.keys(JSON.parse(ls[1]!) as object)).toEqual([
      'seq',
      'time',
      'type',
      'actor',
      'details',
      'prev',
    ]);
    expect(ls[1]).toContain('"actor":{"kind":"client","cn":"bot","serial":"0a"}');
    expect(more.map((r) => r.seq)).toEqual([2, 3]);
    expect(more[0]!.prev).toBe(createHash('sha256').update(ls[0]!).digest('hex'));
    expect(more[1]!.prev).toBe(createHash('sha256').update(ls[1]!).digest('hex'));
    if (process.platform !== 'win32') expect((await stat(auditPath(dir))).mode & 0o777).toBe(0o600);
    expect(await appendAudit(dir, [])).toEqual([]);
  });

  it('rejects input that cannot be recorded faithfully', async () => {
    await expect(appendAudit(dir, [{ type: '', actor: op, details: {} }])).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(appendAudit(dir, [{ type: 't', actor: op, details: { n: 1n } }])).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(
      appendAudit(dir, [{ type: 't', actor: op, details: {}, time: new Date('nope') }]),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await readAudit(dir)).toEqual([]);
  });

  it('refuses to extend a log whose last record is garbage, naming the file', async () => {
    await append100();
    await appendFile(auditPath(dir), 'garbage\n');
    await expect(appendAudit(dir, [entry(101)])).rejects.toMatchObject({
      code: 'CORRUPT_STATE',
      message: expect.stringContaining(auditPath(dir)),
    });
  });
});

describe('readAudit', () => {
  it('reads everything or the last N, and reports a missing log as empty', async () => {
    expect(await readAudit(dir)).toEqual([]);
    expect(await readAudit(dir, { limit: 5 })).toEqual([]);
    await append100();
    const all = await readAudit(dir);
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(all[41]!.details).toEqual({ i: 42, cn: 'c42' });
    expect((await readAudit(dir, { limit: 3 })).map((r) => r.seq)).toEqual([98, 99, 100]);
    expect((await readAudit(dir, { limit: 1000 })).length).toBe(100);
    expect(await readAudit(dir, { limit: 0 })).toEqual([]);
  });

  it('reads the last N across chunk boundaries of a large log', async () => {
    const big = 'x'.repeat(3000);
    for (let i = 0; i < 10; i++) {
      await appendAudit(
        dir,
        Array.from({ length: 50 }, (_, j) => ({ type: 't', actor: op, details: { big, n: i * 50 + j } })),
      );
    }
    const last = await readAudit(dir, { limit: 120 });
    expect(last.map((r) => r.seq)).toEqual(Array.from({ length: 120 }, (_, i) => 381 + i));
    expect((await verifyAudit(dir)).ok).toBe(true);
  });

  it('names the file and line of a corrupt record', async () => {
    await append100();
    const ls = await lines();
    ls[9] = '{"seq":10,';
    await writeLines(ls);
    await expect(readAudit(dir)).rejects.toMatchObject({
      code: 'CORRUPT_STATE',
      message: `audit log ${auditPath(dir)} is corrupt at line 10: not valid JSON`,
    });
  });
});

describe('verifyAudit', () => {
  it('accepts an intact chain of 100 appends (and an absent log)', async () => {
    expect(await verifyAudit(dir)).toEqual({ ok: true, records: 0 });
    await append100();
    expect(await verifyAudit(dir)).toEqual({ ok: true, records: 100 });
  });

  it('detects one edited byte in a middle record’s details', async () => {
    await append100();
    const ls = await lines();
    ls[49] = ls[49]!.replace('"cn":"c50"', '"cn":"c5O"');
    await writeLines(ls);
    expect(await verifyAudit(dir)).toMatchObject({
      ok: false,
      records: 100,
      firstBad: { seq: 50, line: 50 },
    });
  });

  it('detects an edited prev field as the record that carries it', async () => {
    await append100();
    const ls = await lines();
    const { prev } = JSON.parse(ls[29]!) as { prev: string };
    ls[29] = ls[29]!.replace(prev, (prev[0] === '0' ? '1' : '0') + prev.slice(1));
    await writeLines(ls);
    expect(await verifyAudit(dir)).toMatchObject({ ok: false, firstBad: { seq: 30, line: 30 } });
  });

  it('detects a deleted middle line', async () => {
    await append100();
    const ls = await lines();
    ls.splice(59, 1); // seq 60
    await writeLines(ls);
    const v = await verifyAudit(dir);
    expect(v).toMatchObject({ ok: false, records: 99, firstBad: { seq: 61, line: 60 } });
    expect(v.firstBad?.problem).toContain('seq 60 is missing');
  });

  it('detects two swapped lines', async () => {
    await append100();
    const ls = await lines();
    [ls[19], ls[20]] = [ls[20]!, ls[19]!]; // seq 20 and 21
    await writeLines(ls);
    const v = await verifyAudit(dir);
    expect(v).toMatchObject({ ok: false, firstBad: { seq: 21, line: 20 } });
    expect(v.firstBad?.problem).toContain('out of order');
  });

  it('names an unparseable record', async () => {
    await append100();
    const ls = await lines();
    ls[69] = ls[69]!.slice(0, -2);
    await writeLines(ls);
    expect(await verifyAudit(dir)).toMatchObject({
      ok: false,
      firstBad: { seq: 70, line: 70, problem: 'not valid JSON' },
    });
  });
});

describe('torn trailing line', () => {
  it('is ignored by readAudit and verifyAudit and removed by the next append', async () => {
    await append100();
    const whole = await readFile(auditPath(dir), 'utf8');
    await appendFile(auditPath(dir), '{"seq":101,"time":"2030-01-0');
    expect((await readAudit(dir)).length).toBe(100);
    expect((await readAudit(dir, { limit: 2 })).map((r) => r.seq)).toEqual([99, 100]);
    expect(await verifyAudit(dir)).toEqual({ ok: true, records: 100 });
    const [rec] = await appendAudit(dir, [entry(101)]);
    expect(rec!.seq).toBe(101);
    const after = await readFile(auditPath(dir), 'utf8');
    expect(after.startsWith(whole)).toBe(true);
    expect(after.slice(whole.length)).toBe(`${JSON.stringify(rec)}\n`);
    expect(await verifyAudit(dir)).toEqual({ ok: true, records: 101 });
  });

  it('a log that is only a torn line starts over at seq 1', async () => {
    await writeFile(auditPath(dir), '{"seq":1,"ti');
    const [rec] = await appendAudit(dir, [entry(1)]);
    expect(rec).toMatchObject({ seq: 1, prev: '0'.repeat(64) });
    expect(await verifyAudit(dir)).toEqual({ ok: true, records: 1 });
  });
});

describe('concurrent appenders', () => {
  it('two processes appending 50 each under withStateLock give 100 records and an intact chain', async () => {
    const fixture = path.join(__dirname, 'append.fixture.ts');
    const a = startFixture(fixture, [dir, '50', 'a']);
    const b = startFixture(fixture, [dir, '50', 'b']);
    expect([await a.exited, await b.exited]).toEqual([0, 0]);
    expect(await verifyAudit(dir)).toEqual({ ok: true, records: 100 });
    const recs = await readAudit(dir);
    expect(recs.filter((r) => r.actor.kind === 'operator' && r.actor.name === 'a').length).toBe(50);
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });
});

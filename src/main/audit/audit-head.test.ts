import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureStateDir } from '../store/index';
import { appendAudit, auditPath, verifyAudit } from './index';

describe('the audit head catches what the chain alone cannot', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'audit-head-'));
    await ensureStateDir(dir);
    for (let i = 0; i < 10; i++) {
      await appendAudit(dir, [
        { type: 'client.issued', actor: { kind: 'operator', name: 'op' }, details: { i } },
      ]);
    }
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const lines = async () => (await readFile(auditPath(dir), 'utf8')).split('\n').filter((l) => l !== '');

  it('accepts an untouched log', async () => {
    expect(await verifyAudit(dir)).toEqual({ ok: true, records: 10 });
  });

  it('detects records cut off the end', async () => {
    await writeFile(auditPath(dir), (await lines()).slice(0, 8).join('\n') + '\n');
    const r = await verifyAudit(dir);
    expect(r.ok).toBe(false);
    expect(r.firstBad?.problem).toMatch(/records after seq 8 were removed/);
  });

  it('detects an edit of the last record', async () => {
    const all = await lines();
    all[9] = (all[9] as string).replace('"i":9', '"i":99');
    await writeFile(auditPath(dir), all.join('\n') + '\n');
    const r = await verifyAudit(dir);
    expect(r.ok).toBe(false);
    expect(r.firstBad?.seq).toBe(10);
  });
});

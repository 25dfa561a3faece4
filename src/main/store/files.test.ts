import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isConsoleError } from '../errors';
import { startFixture } from './fixture-process';
import { atomicWriteFile, ensureStateDir, readFileIfExists, readJsonFile } from './index';

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mtls-store-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const posix = process.platform !== 'win32';

describe('ensureStateDir', () => {
  it.runIf(posix)('creates the dir 0700 and tightens a looser existing one', async () => {
    const dir = path.join(tmp, 'a', 'state');
    await ensureStateDir(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await chmod(dir, 0o755);
    await ensureStateDir(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('refuses a path that is a file', async () => {
    const f = path.join(tmp, 'file');
    await writeFile(f, 'x');
    await expect(ensureStateDir(f)).rejects.toMatchObject({ code: 'IO' });
  });
});

describe('atomicWriteFile', () => {
  it.runIf(posix)(
    'writes a 0600 file in a 0700 dir, honours an explicit mode, leaves no temp files',
    async () => {
      const dir = path.join(tmp, 'state');
      await ensureStateDir(dir);
      const f = path.join(dir, 'x.json');
      await atomicWriteFile(f, '{"a":1}');
      await atomicWriteFile(f, new TextEncoder().encode('{"a":2}'));
      expect(await readFile(f, 'utf8')).toBe('{"a":2}');
      expect((await stat(f)).mode & 0o777).toBe(0o600);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      await atomicWriteFile(path.join(dir, 'pub.crt'), 'cert', 0o644);
      expect((await stat(path.join(dir, 'pub.crt'))).mode & 0o777).toBe(0o644);
      expect((await readdir(dir)).sort()).toEqual(['pub.crt', 'x.json']);
    },
  );

  it('removes its temp file when the rename fails', async () => {
    const target = path.join(tmp, 'is-a-dir');
    await mkdir(path.join(target, 'child'), { recursive: true });
    const err: unknown = await atomicWriteFile(target, 'x').catch((e: unknown) => e);
    expect(isConsoleError(err) && err.code === 'IO' && err.message.includes(target)).toBe(true);
    expect(await readdir(tmp)).toEqual(['is-a-dir']);
  });

  it('a concurrent reader only ever sees a whole old or whole new version', async () => {
    const f = path.join(tmp, 'v.txt');
    await writeFile(f, '<0>0<0>');
    const writer = startFixture(path.join(__dirname, 'atomic-writer.fixture.ts'), [f, '300']);
    expect(await writer.nextLine()).toBe('started');
    let finished = false;
    void writer.exited.then(() => (finished = true));
    let reads = 0;
    const seen = new Set<number>();
    while (!finished) {
      const text = await readFile(f, 'utf8');
      const m = /^<(\d+)>(\d+)<(\d+)>$/.exec(text);
      expect(m, `torn read of length ${text.length}`).not.toBeNull();
      const i = Number(m![1]);
      expect(Number(m![3])).toBe(i);
      if (i > 0) {
        expect(m![2]).toBe(String(i % 10).repeat(100_000 + (i % 7) * 10_000));
        seen.add(i);
      }
      reads++;
    }
    expect(await writer.exited).toBe(0);
    expect(reads).toBeGreaterThan(10);
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe('readFileIfExists / readJsonFile', () => {
  const schema = z.object({ name: z.string(), n: z.number().int() });

  it('returns null for an absent file and the parsed value for a valid one', async () => {
    const f = path.join(tmp, 'c.json');
    expect(await readFileIfExists(f)).toBeNull();
    expect(await readJsonFile(f, schema)).toBeNull();
    await writeFile(f, JSON.stringify({ name: 'x', n: 3 }));
    expect((await readFileIfExists(f))?.toString()).toBe('{"name":"x","n":3}');
    expect(await readJsonFile(f, schema)).toEqual({ name: 'x', n: 3 });
  });

  it('names the file and the problem for bad JSON and for a schema mismatch', async () => {
    const f = path.join(tmp, 'bad.json');
    await writeFile(f, '{"name": "x", ');
    await expect(readJsonFile(f, schema)).rejects.toMatchObject({
      code: 'CORRUPT_STATE',
      message: expect.stringMatching(new RegExp(`^state file ${f} is corrupt: invalid JSON`)),
    });
    await writeFile(f, JSON.stringify({ name: 'x', n: 1.5 }));
    await expect(readJsonFile(f, schema)).rejects.toMatchObject({
      code: 'CORRUPT_STATE',
      message: expect.stringMatching(new RegExp(`^state file ${f} is corrupt: n: `)),
    });
  });

  it('reports a read failure other than absence as IO', async () => {
    await expect(readFileIfExists(tmp)).rejects.toMatchObject({ code: 'IO' });
  });
});

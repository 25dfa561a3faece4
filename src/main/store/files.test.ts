import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isConsoleError } from '../errors';
import { startFixture } from './fixture-process';
import { atomicWriteFile } from './index';

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mtls-store-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const posix = process.platform !== 'win32';

describe('atomicWriteFile', () => {
  it.runIf(posix)(
    'writes a 0600 file in a 0700 dir, honours an explicit mode, leaves no temp files',
    async () => {
      const dir = path.join(tmp, 'state');
      await mkdir(dir, { mode: 0o700 });
      await chmod(dir, 0o700);
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

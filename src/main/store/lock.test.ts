import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startFixture, type FixtureProcess } from './fixture-process';
import { atomicWriteFile, readJsonFile, withStateLock } from './index';

const HOLD = path.join(__dirname, 'lock-hold.fixture.ts');
const COUNTER = path.join(__dirname, 'lock-counter.fixture.ts');
const counterSchema = z.object({ n: z.number().int() });

let dir: string;
const children: FixtureProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mtls-lock-'));
});
afterEach(async () => {
  for (const c of children.splice(0))
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function start(file: string, args: readonly string[]): FixtureProcess {
  const f = startFixture(file, args);
  children.push(f);
  return f;
}

async function readCounter(): Promise<number> {
  return (await readJsonFile(path.join(dir, 'counter.json'), counterSchema))?.n ?? 0;
}

async function incrementInProcess(): Promise<void> {
  await withStateLock(dir, async () => {
    const n = await readCounter();
    await tick();
    await atomicWriteFile(path.join(dir, 'counter.json'), JSON.stringify({ n: n + 1 }));
  });
}

/** A pid that certainly belongs to no process: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  await once(c, 'exit');
  return c.pid!;
}

describe('withStateLock', () => {
  it('serializes concurrent callers inside one process', async () => {
    await Promise.all(Array.from({ length: 50 }, () => incrementInProcess()));
    expect(await readCounter()).toBe(50);
    expect(await readdir(dir)).toEqual(['counter.json']);
  });

  it('returns fn’s value, releases on a throw, and passes the error through', async () => {
    expect(await withStateLock(dir, async () => 42)).toBe(42);
    await expect(
      withStateLock(dir, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await withStateLock(dir, async () => 'again', { timeoutMs: 1000 })).toBe('again');
  });

  it('two processes doing 200 read-increment-write cycles each end at 400', async () => {
    const a = start(COUNTER, [dir, '200']);
    const b = start(COUNTER, [dir, '200']);
    expect([await a.exited, await b.exited]).toEqual([0, 0]);
    expect(await readCounter()).toBe(400);
  });

  it('a holder killed with SIGKILL does not block the next acquirer', async () => {
    for (let round = 0; round < 10; round++) {
      const holder = start(HOLD, [dir]);
      expect(await holder.nextLine()).toBe('locked');
      holder.child.kill('SIGKILL');
      // Not awaiting the exit on purpose: the killed child may still be an unreaped zombie here.
      expect(await withStateLock(dir, async () => round, { timeoutMs: 10_000 })).toBe(round);
      expect(await holder.exited).toBe('SIGKILL');
    }
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('exactly one of several racing processes steals a dead holder’s lock at a time', async () => {
    const holder = start(HOLD, [dir]);
    expect(await holder.nextLine()).toBe('locked');
    const racers = [0, 1, 2, 3].map(() => start(COUNTER, [dir, '50']));
    holder.child.kill('SIGKILL');
    await Promise.all(Array.from({ length: 20 }, () => incrementInProcess()));
    expect(await Promise.all(racers.map((r) => r.exited))).toEqual([0, 0, 0, 0]);
    expect(await readCounter()).toBe(220);
  });

  it('never steals from a live holder; times out naming its pid, then acquires once it releases', async () => {
    const holder = start(HOLD, [dir]);
    expect(await holder.nextLine()).toBe('locked');
    await expect(withStateLock(dir, async () => 'stolen', { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'IO',
      message: `state dir ${dir} is locked by pid ${holder.pid}; gave up after 0.3 s`,
    });
    expect(JSON.parse(await readFile(path.join(dir, '.lock'), 'utf8'))).toMatchObject({ pid: holder.pid });
    const acquired = withStateLock(dir, async () => 'mine', { timeoutMs: 10_000 });
    holder.child.stdin.write('release\n');
    expect(await holder.nextLine()).toBe('released');
    expect(await acquired).toBe('mine');
  });

  it('clears a lock whose stealer was killed mid-steal, and temp files of dead processes', async () => {
    const [owner, stealer, writer] = [await deadPid(), await deadPid(), await deadPid()];
    const host = os.hostname();
    const lock = (pid: number): string =>
      JSON.stringify({ pid, hostname: host, acquiredAt: new Date().toISOString(), token: `t${pid}` });
    await writeFile(path.join(dir, '.lock'), lock(owner));
    await writeFile(path.join(dir, `.lock.steal.${owner}`), lock(stealer));
    await writeFile(path.join(dir, `.counter.json.tmp-${writer}-0123456789ab`), 'half');
    expect(await withStateLock(dir, async () => 'ok', { timeoutMs: 10_000 })).toBe('ok');
    expect(await readdir(dir)).toEqual([]);
  });

  it('a timeout while queued behind this process names this process', async () => {
    let release: () => void = () => undefined;
    const first = withStateLock(dir, () => new Promise<void>((r) => (release = r)));
    await expect(withStateLock(dir, async () => 1, { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining(`locked by pid ${process.pid} (this process)`),
    });
    const third = withStateLock(dir, async () => 3);
    release();
    await first;
    expect(await third).toBe(3);
  });
});

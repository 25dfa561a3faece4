// Read-increment-write of <dir>/counter.json under the lock, N times: a lost update shows as a short count.
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { z } from 'zod';
import { atomicWriteFile, readJsonFile, withStateLock } from './index';

const [dir, times] = process.argv.slice(2);
if (!dir || !times) throw new Error('usage: lock-counter.fixture.ts <stateDir> <times>');
const file = path.join(dir, 'counter.json');
const schema = z.object({ n: z.number().int() });

async function main(): Promise<void> {
  for (let i = 0; i < Number(times); i++) {
    await withStateLock(dir!, async () => {
      const cur = (await readJsonFile(file, schema))?.n ?? 0;
      await tick(); // widen the read-write window so a broken lock would lose updates
      await atomicWriteFile(file, JSON.stringify({ n: cur + 1 }));
    });
  }
  process.stdout.write('done\n');
}
main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});

// Holds the state lock until a line arrives on stdin (or forever), so tests can kill or release a holder.
import { createInterface } from 'node:readline';
import { withStateLock } from './index';

const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: lock-hold.fixture.ts <stateDir>');

void withStateLock(dir, async () => {
  process.stdout.write('locked\n');
  await new Promise<void>((resolve) =>
    createInterface({ input: process.stdin }).once('line', () => resolve()),
  );
}).then(() => {
  process.stdout.write('released\n');
  process.exit(0);
});

// Appends N audit records one at a time under the state lock, as a CLI process would.
import { withStateLock } from '../store/index';
import { appendAudit } from './index';

const [dir, times, name] = process.argv.slice(2);
if (!dir || !times || !name) throw new Error('usage: append.fixture.ts <stateDir> <times> <name>');

async function main(): Promise<void> {
  for (let i = 0; i < Number(times); i++) {
    await withStateLock(dir!, () =>
      appendAudit(dir!, [{ type: 'test.append', actor: { kind: 'operator', name: name! }, details: { i } }]),
    );
  }
  process.stdout.write('done\n');
}
main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});

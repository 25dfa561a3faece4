// Rewrites one file many times with distinct, self-checking contents for the torn-read test.
import { atomicWriteFile } from './index';

const [file, times] = process.argv.slice(2);
if (!file || !times) throw new Error('usage: atomic-writer.fixture.ts <file> <times>');

function versionContent(i: number): string {
  const tag = `<${i}>`;
  return tag + String(i % 10).repeat(100_000 + (i % 7) * 10_000) + tag;
}

async function main(): Promise<void> {
  process.stdout.write('started\n');
  for (let i = 1; i <= Number(times); i++) await atomicWriteFile(file!, versionContent(i));
  process.stdout.write('done\n');
}
void main();

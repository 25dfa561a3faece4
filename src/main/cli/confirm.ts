import readline from 'node:readline';
import { ConsoleError } from '../errors';
import { promptHidden } from './prompt';
import { readSecretFile } from './passphrase';

/** Asks a yes/no question on the terminal; anything but "yes" is a no. */
export function confirmOnTerminal(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    rl.question(`${question} Type "yes" to go on: `, (answer) => {
      rl.close();
      resolve(answer.trim().toLowerCase() === 'yes');
    });
    rl.on('SIGINT', () => {
      rl.close();
      resolve(false);
    });
  });
}

export function hasTerminal(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/**
 * The CA backup's own passphrase: from a file (0600, like every secret file) or a prompt, never an
 * argument. A new backup's passphrase is asked twice.
 */
export async function backupPassphrase(opts: { file?: string; confirm: boolean }): Promise<string> {
  if (opts.file !== undefined) return readSecretFile(opts.file, 'backup passphrase file');
  if (!hasTerminal()) {
    throw new ConsoleError(
      'INVALID_INPUT',
      'a backup passphrase is needed: pass --backup-passphrase-file FILE (no terminal to prompt on)',
    );
  }
  const first = await promptHidden('Backup passphrase: ');
  if (opts.confirm && (await promptHidden('Repeat the backup passphrase: ')) !== first) {
    throw new ConsoleError('INVALID_INPUT', 'the backup passphrases do not match');
  }
  if (first === '') throw new ConsoleError('INVALID_INPUT', 'the backup passphrase is empty');
  return first;
}

import fs from 'node:fs/promises';
import { ConsoleError } from '../errors';
import { promptHidden } from './prompt';

/**
 * The passphrase comes from a file (flag or environment) or a prompt on a terminal, never from an
 * argument: arguments show up in `ps` and shell history (DESIGN.md §6).
 */
export function passphraseSource(opts: { file?: string; confirm: boolean }): () => Promise<string> {
  return async () => {
    const file = opts.file ?? process.env.MTLS_CONSOLE_PASSPHRASE_FILE;
    if (file) return readSecretFile(file, 'passphrase file');
    if (!process.stdin.isTTY) {
      throw new ConsoleError(
        'INVALID_INPUT',
        'a passphrase is needed: pass --passphrase-file FILE or set MTLS_CONSOLE_PASSPHRASE_FILE (no terminal to prompt on)',
      );
    }
    const first = await promptHidden('CA passphrase: ');
    if (opts.confirm) {
      const again = await promptHidden('Repeat the passphrase: ');
      if (again !== first) throw new ConsoleError('INVALID_INPUT', 'the passphrases do not match');
    }
    if (first === '') throw new ConsoleError('INVALID_INPUT', 'the passphrase is empty');
    return first;
  };
}

/** Reads a one-line secret; a trailing newline (from `echo x > file`) is not part of it. */
export async function readSecretFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    const st = await fs.stat(file);
    // As ssh does with keys: a secret others can read is no secret, so refuse rather than use it.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new ConsoleError(
        'INVALID_INPUT',
        `${what} ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    }
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof ConsoleError) throw e;
    throw new ConsoleError(
      'INVALID_INPUT',
      `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new ConsoleError('INVALID_INPUT', `${what} ${file} is empty`);
  return secret;
}

import { parseArgs } from 'node:util';
import { isConsoleError } from '../errors';
import { ConsoleService, createVaultResolver, defaultStateDir } from '../service';
import { COMMANDS, type Values } from './commands';
import { GLOBAL_OPTIONS, commandHelp, mainHelp, usageError } from './usage';
import { passphraseSource } from './passphrase';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const VALUE_FLAGS = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, o]) => o.type === 'string')
    .map(([n]) => `--${n}`),
);

/** Runs one CLI invocation; returns the exit code (0 ok, 1 run-time failure, 2 bad usage or input). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let service: ConsoleService | null = null;
  try {
    const commandIndex = findCommand(argv);
    if (commandIndex < 0) {
      if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
        io.out(mainHelp(COMMANDS).trimEnd());
        return argv.length === 0 ? 2 : 0;
      }
      throw usageError('no command given; run `mtls-console --help`');
    }
    const name = argv[commandIndex];
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw usageError(`unknown command "${name}"; run \`mtls-console --help\``);
    const rest = [...argv.slice(0, commandIndex), ...argv.slice(commandIndex + 1)];
    let values: Values;
    let positionals: string[] = [];
    try {
      const options = Object.fromEntries(
        Object.entries({ ...command.options, ...GLOBAL_OPTIONS }).map(([n, o]) => [
          n,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
        ]),
      );
      const parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: true });
      values = parsed.values as Values;
      positionals = parsed.positionals;
    } catch (e) {
      throw usageError(`${command.name}: ${(e as Error).message.split('\n')[0]}`);
    }
    let [sub, ...extra] = positionals;
    // Two-word sub-commands (`ca rollover start`) are declared with their space.
    const pair = sub !== undefined && extra[0] !== undefined ? `${sub} ${extra[0]}` : '';
    if (pair !== '' && command.subcommands?.includes(pair)) [sub, ...extra] = [pair, ...extra.slice(1)];
    if (sub !== undefined && !command.subcommands?.includes(sub)) {
      throw usageError(`${command.name}: unexpected argument "${sub}"`);
    }
    if (extra.length > 0) throw usageError(`${command.name}: unexpected argument "${extra[0]}"`);
    if (values.help) {
      io.out(commandHelp(command).trimEnd());
      return 0;
    }
    const stateDir =
      (typeof values['state-dir'] === 'string' ? values['state-dir'] : undefined) ??
      process.env.MTLS_CONSOLE_STATE_DIR ??
      defaultStateDir();
    const passphraseFile =
      typeof values['passphrase-file'] === 'string' ? values['passphrase-file'] : undefined;
    service = new ConsoleService({
      stateDir,
      vaults: createVaultResolver({
        passphrase: passphraseSource({
          ...(passphraseFile !== undefined ? { file: passphraseFile } : {}),
          // A command that creates a vault asks for its passphrase twice.
          confirm: command.name === 'init' || command.name === 'restore-ca',
        }),
      }),
    });
    await command.run({ values, ...(sub !== undefined ? { sub } : {}), service, out: io.out, err: io.err });
    return 0;
  } catch (e) {
    if (isConsoleError(e)) {
      io.err(`mtls-console: ${e.message}`);
      return e.code === 'INVALID_INPUT' ? 2 : 1;
    }
    io.err(`mtls-console: internal error: ${(e as Error)?.message ?? String(e)}`);
    return 1;
  } finally {
    await service?.close();
  }
}

function findCommand(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (VALUE_FLAGS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return i;
  }
  return -1;
}

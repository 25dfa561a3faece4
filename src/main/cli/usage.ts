import { ConsoleError } from '../errors';

/** Bad usage: exit code 2 with one line on stderr (DESIGN.md §10). */
export function usageError(message: string): ConsoleError {
  return new ConsoleError('INVALID_INPUT', message);
}

export type OptionSpec = {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  value?: string;
  /** May be given more than once (collected into a list). */
  multiple?: boolean;
};

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Sub-commands taken as a first positional word (e.g. `audit archive`). */
  readonly subcommands?: readonly string[];
}

export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'state-dir': {
    type: 'string',
    value: 'DIR',
    description: 'state directory (env MTLS_CONSOLE_STATE_DIR; default: the app data dir)',
  },
  'passphrase-file': {
    type: 'string',
    value: 'FILE',
    description: 'file holding the CA passphrase (env MTLS_CONSOLE_PASSPHRASE_FILE; else a prompt)',
  },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

export function commandHelp(spec: CommandSpec): string {
  const sub = spec.subcommands ? ` [${spec.subcommands.join('|')}]` : '';
  const lines = [`Usage: mtls-console ${spec.name}${sub} [options]`, '', spec.summary, '', 'Options:'];
  const all = { ...spec.options, ...GLOBAL_OPTIONS };
  for (const [name, opt] of Object.entries(all)) {
    const flag = `--${name}${opt.value ? ` ${opt.value}` : ''}`;
    lines.push(`  ${flag.padEnd(30)} ${opt.description}`);
  }
  return lines.join('\n') + '\n';
}

export function mainHelp(commands: readonly CommandSpec[]): string {
  const lines = [
    'mtls-console: a private CA, a revocation store and an mTLS gateway for a loopback API',
    '',
    'Usage: mtls-console <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(16)} ${c.summary}`),
    '',
    'Global options:',
    ...Object.entries(GLOBAL_OPTIONS).map(
      ([n, o]) => `  ${`--${n}${o.value ? ` ${o.value}` : ''}`.padEnd(30)} ${o.description}`,
    ),
    '',
    'Run `mtls-console <command> --help` for a command’s options.',
    'Exit codes: 0 success, 1 failure at run time, 2 bad usage or invalid input.',
  ];
  return lines.join('\n') + '\n';
}

import type { CommandContext } from './commands';
import type { OptionSpec } from './usage';
import { ConsoleError } from '../errors';

export const serveCommandOptions: Readonly<Record<string, OptionSpec>> = {
  listen: { type: 'string', value: 'HOST:PORT', description: 'listen address (default 127.0.0.1:19821)' },
  upstream: { type: 'string', value: 'URL', description: 'upstream API (default http://127.0.0.1:18970)' },
  'max-connections': { type: 'string', value: 'N', description: 'concurrent connections (default 50)' },
};

export async function runServe(_ctx: CommandContext): Promise<void> {
  throw new ConsoleError('GATEWAY', 'serve is not available yet');
}

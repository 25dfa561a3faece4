import fs from 'node:fs/promises';
import path from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ConsoleError } from '../errors';
import { createVaultResolver } from '../service';
import { outsideStateDir } from '../service/export-path';
import type { CommandContext } from '../cli/commands';
import { readSecretFile } from '../cli/passphrase';
import { usageError, type OptionSpec } from '../cli/usage';
import { MCP_PERMISSIONS, type McpPermission } from '../../shared/model';
import { version } from '../../../package.json';
import { McpFrontDoor } from './server';

export const mcpCommandOptions: Readonly<Record<string, OptionSpec>> = {
  allow: {
    type: 'string',
    value: 'LIST',
    multiple: true,
    description: `also allow these tools, comma-separated: ${MCP_PERMISSIONS.join(', ')} (default: read-only)`,
  },
  'bundle-dir': {
    type: 'string',
    value: 'DIR',
    description: 'where issued bundles are written, outside the state dir (required by issue and renew)',
  },
};

/** `--allow issue,revoke` (or repeated): each word checked, duplicates dropped, in a fixed order. */
export function parseAllow(values: readonly string[]): McpPermission[] {
  const words = values
    .flatMap((v) => v.split(','))
    .map((w) => w.trim())
    .filter((w) => w !== '');
  for (const w of words) {
    if (!(MCP_PERMISSIONS as readonly string[]).includes(w)) {
      throw usageError(`--allow: unknown tool group "${w}" (choose from ${MCP_PERMISSIONS.join(', ')})`);
    }
  }
  return MCP_PERMISSIONS.filter((p) => words.includes(p));
}

/**
 * `mcp`: an MCP server on stdin/stdout for the agent host that launched it (issue 11), until stdin
 * closes or SIGINT/SIGTERM. stdout carries only MCP messages; everything for people goes to stderr.
 * Refuses to start, with one line, when what it was allowed to do could not work: no CA, a vault whose
 * passphrase was not given (stdin is the MCP channel, so there is no prompt), a bundle folder missing
 * or inside the state dir.
 */
export async function runMcp({ values, service, err }: CommandContext): Promise<void> {
  const allow = parseAllow(Array.isArray(values.allow) ? values.allow : []);
  const rawDir = typeof values['bundle-dir'] === 'string' ? values['bundle-dir'] : undefined;
  const needsDir = allow.filter((p) => p !== 'revoke');
  if (needsDir.length > 0 && rawDir === undefined) {
    throw usageError(`--allow ${needsDir.join(',')} writes bundles: name their folder with --bundle-dir DIR`);
  }
  const stateDir = service.paths.dir;
  let bundleDir: string | null = null;
  if (rawDir !== undefined) {
    bundleDir = await outsideStateDir(stateDir, path.resolve(rawDir));
    const st = await fs.stat(bundleDir).catch(() => null);
    if (st && !st.isDirectory()) throw usageError(`--bundle-dir: ${bundleDir} is not a directory`);
  }

  const status = await service.status();
  if (!status.initialized) {
    throw new ConsoleError('NOT_INITIALIZED', `no CA in ${stateDir}; run \`mtls-console init --hosts …\``);
  }
  const vaults = createVaultResolver();
  if (allow.length > 0) {
    if (status.vault.backend === 'safeStorage') {
      throw usageError(
        `--allow ${allow.join(',')}: this CA's key is sealed by the desktop app's OS keychain, which the CLI cannot open; only the read-only tools can be served`,
      );
    }
    const file =
      (typeof values['passphrase-file'] === 'string' ? values['passphrase-file'] : undefined) ??
      process.env.MTLS_CONSOLE_PASSPHRASE_FILE;
    if (file === undefined || file === '') {
      throw usageError(
        `--allow ${allow.join(',')} needs the CA passphrase: pass --passphrase-file FILE or set MTLS_CONSOLE_PASSPHRASE_FILE (stdin is the MCP channel, so there is no prompt)`,
      );
    }
    const passphrase = await readSecretFile(file, 'passphrase file');
    // Proven now, by the operator who started the server (audited as vault.unlocked), so a wrong
    // passphrase stops it here instead of failing an agent's first issuance.
    await service.handle('vault.unlock', { passphrase });
    vaults.setPassphrase(passphrase);
  }

  const door = new McpFrontDoor({
    stateDir,
    vaults,
    allow,
    bundleDir,
    version,
    log: (line) => err(`mtls-console mcp: ${line}`),
  });
  const transport = new StdioServerTransport();
  transport.onerror = (e) => err(`mtls-console mcp: ${e.message}`);
  let stop: (reason: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  const onEnd = () => stop('stdin closed');
  const onSigint = () => stop('SIGINT');
  const onSigterm = () => stop('SIGTERM');
  process.stdin.once('end', onEnd);
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  await door.server.connect(transport);
  err(
    `mtls-console mcp: serving ${stateDir} over stdio; ` +
      (allow.length === 0
        ? 'read-only (mtls.status, mtls.list_clients, mtls.audit)'
        : `allowed: ${allow.join(', ')}${bundleDir ? `; bundles go to ${bundleDir}` : ''}`),
  );
  const reason = await stopped;
  process.stdin.off('end', onEnd);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  await door.shutdown(reason);
  // Nothing more will be read; let the process end.
  process.stdin.destroy();
}

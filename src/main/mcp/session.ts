import { ConsoleService, type VaultResolver } from '../service';
import type { McpPermission } from '../../shared/model';

/** At most this much of a client's self-chosen name goes into the audit actor. */
const MAX_CLIENT_NAME = 64;

/**
 * The client's name as its calls are recorded: `mcp:<name>` with an operator actor (DESIGN.md §9).
 * The name is the client's own claim (its `initialize` clientInfo), so it is kept short and printable:
 * it says which agent host called, not who is behind it; the operator who started the server is
 * recorded by its `vault.unlocked` record and by the process.
 */
export function mcpClientName(name: string | undefined): string {
  const clean = (name ?? '')
    .replace(/[^A-Za-z0-9._@ -]/g, '_')
    .trim()
    .slice(0, MAX_CLIENT_NAME);
  return clean === '' ? 'unknown' : clean;
}

export interface SessionOptions {
  readonly stateDir: string;
  readonly vaults: VaultResolver;
  readonly client: { readonly name: string; readonly version: string };
  readonly allow: readonly McpPermission[];
  readonly bundleDir: string | null;
}

/**
 * One MCP client's session: a console service of its own whose every record names `mcp:<client>`, and
 * this server's entry in the state database (what `status` shows) from connect to stop.
 */
export class McpSession {
  private constructor(
    readonly service: ConsoleService,
    readonly client: string,
    private readonly registration: string,
  ) {}

  static async open(opts: SessionOptions): Promise<McpSession> {
    const client = mcpClientName(opts.client.name);
    const service = new ConsoleService({
      stateDir: opts.stateDir,
      vaults: opts.vaults,
      operator: `mcp:${client}`,
    });
    try {
      const id = await service.mcpServerStarted(
        { client, allow: opts.allow, bundleDir: opts.bundleDir, since: new Date() },
        { pid: process.pid, clientVersion: opts.client.version.slice(0, MAX_CLIENT_NAME) },
      );
      return new McpSession(service, client, id);
    } catch (e) {
      await service.close();
      throw e;
    }
  }

  async close(details: Record<string, unknown>): Promise<void> {
    try {
      await this.service.mcpServerStopped(this.registration, details);
    } finally {
      await this.service.close();
    }
  }
}

import { z } from 'zod';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { isConsoleError } from '../errors';
import type { VaultResolver } from '../service';
import type { ErrorCode as ConsoleErrorCode } from '../../shared/errors';
import type { McpPermission } from '../../shared/model';
import { McpSession } from './session';
import { TOOLS, type McpSelf, type McpTool, type ToolOutcome } from './tools';

export interface FrontDoorOptions {
  readonly stateDir: string;
  /** Read-only servers get a resolver without a passphrase, so nothing can ever ask for one. */
  readonly vaults: VaultResolver;
  readonly allow: readonly McpPermission[];
  readonly bundleDir: string | null;
  readonly version: string;
  /** One line on stderr: stdout is the MCP channel. */
  readonly log: (line: string) => void;
}

/** Refusal and error messages carry client input (a bad serial); keep records and replies small. */
const MAX_MESSAGE = 300;
const clip = (s: string, max = MAX_MESSAGE) => (s.length > max ? `${s.slice(0, max)}…` : s);

const BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));
/** The JSON Schema each tool advertises: its zod schema's input side (before transforms). */
const INPUT_SCHEMAS = new Map(TOOLS.map((t) => [t.name, z.toJSONSchema(t.inputSchema, { io: 'input' })]));

function enableHint(p: McpPermission): string {
  return p === 'revoke' ? '--allow revoke' : `--allow ${p} --bundle-dir DIR`;
}

function errorResult(code: ConsoleErrorCode, message: string): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${code}: ${message}` }],
    structuredContent: { error: { code, message } },
  };
}

function okResult(result: Record<string, unknown>): CallToolResult {
  // The text block repeats the structured result for clients that only read text (MCP 2025-06-18 §tools).
  return { content: [{ type: 'text', text: JSON.stringify(result, null, 2) }], structuredContent: result };
}

/**
 * `mtls-console mcp` on the SDK's low-level `Server`: McpServer checks arguments before a handler
 * runs and hides disabled tools, so a refused call would never reach us to be audited. Here every
 * `tools/call` (refused ones too) gets exactly one `mcp.call*` record naming `mcp:<client>`.
 *
 * Tools not allowed stay listed, marked disabled with the flag that enables them, and are refused
 * when called: an agent (and the person reading its transcript) learns what exists and what the
 * operator must do, instead of guessing why a documented tool is missing.
 */
export class McpFrontDoor {
  readonly server: Server;
  private readonly allowed: ReadonlySet<McpPermission>;
  private session: Promise<McpSession> | null = null;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly stats = { calls: 0, refused: 0, failed: 0 };
  private closing = false;

  constructor(private readonly opts: FrontDoorOptions) {
    this.allowed = new Set(opts.allow);
    this.server = new Server(
      { name: 'mtls-console', version: opts.version },
      {
        capabilities: { tools: { listChanged: false } },
        instructions:
          'Manages the mTLS CA of mtls-console: status, client certificates and the audit log. ' +
          (opts.allow.length === 0
            ? 'This server is read-only.'
            : `This server may also ${opts.allow.join(', ')}; issued bundles go to ${opts.bundleDir ?? '(none)'} and are never returned.`) +
          ' Every call is recorded in the audit log.',
      },
    );
    this.server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: TOOLS.map((t) => this.describe(t)),
    }));
    this.server.setRequestHandler(CallToolRequestSchema, (req) =>
      this.track(this.call(req.params.name, req.params.arguments)),
    );
    // Show this server in `status` as soon as its client connects, not at its first call.
    this.server.oninitialized = () => {
      void this.ensureSession().catch((e: unknown) => opts.log(`cannot record the session: ${message(e)}`));
    };
  }

  private self(client: string): McpSelf {
    return { client, allow: [...this.allowed], bundleDir: this.opts.bundleDir };
  }

  private describe(t: McpTool): Tool {
    const disabled = t.needs !== null && !this.allowed.has(t.needs);
    return {
      name: t.name,
      title: t.title,
      description: disabled
        ? `[disabled on this server: the operator starts it with ${enableHint(t.needs)}] ${t.description}`
        : t.description,
      inputSchema: INPUT_SCHEMAS.get(t.name) as Tool['inputSchema'],
      annotations: t.annotations,
    };
  }

  private ensureSession(): Promise<McpSession> {
    if (!this.session) {
      const info = this.server.getClientVersion();
      this.session = McpSession.open({
        stateDir: this.opts.stateDir,
        vaults: this.opts.vaults,
        client: { name: info?.name ?? '', version: info?.version ?? '' },
        allow: [...this.allowed],
        bundleDir: this.opts.bundleDir,
      });
      // A failed open (a busy database) is tried again by the next call.
      this.session.catch(() => (this.session = null));
    }
    return this.session;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  private async call(name: string, args: unknown): Promise<CallToolResult> {
    this.stats.calls++;
    if (this.closing) return errorResult('INTERNAL', 'the server is shutting down');
    let session: McpSession;
    try {
      session = await this.ensureSession();
    } catch (e) {
      this.opts.log(`${name}: cannot record the call, so it was not run: ${message(e)}`);
      return errorResult(
        'IO',
        `the call could not be recorded in the audit log, so it was not run: ${message(e)}`,
      );
    }
    const { service, client } = session;
    const refuse = async (
      reason: 'unknown-tool' | 'not-allowed' | 'invalid-input',
      code: ConsoleErrorCode,
      text: string,
      extra: Record<string, unknown> = {},
    ): Promise<CallToolResult> => {
      this.stats.refused++;
      this.opts.log(`${client}: ${clip(name, 64)} refused: ${text}`);
      await service
        .recordEvent('mcp.call.refused', { tool: clip(name, 64), reason, message: clip(text), ...extra })
        .catch((e: unknown) => this.opts.log(`cannot record the refusal: ${message(e)}`));
      return errorResult(code, clip(text));
    };

    const tool = BY_NAME.get(name);
    if (!tool) {
      await refuse('unknown-tool', 'NOT_FOUND', `unknown tool "${clip(name, 64)}"`);
      throw new McpError(ErrorCode.InvalidParams, `unknown tool "${clip(name, 64)}"; see tools/list`);
    }
    if (tool.needs !== null && !this.allowed.has(tool.needs)) {
      return refuse(
        'not-allowed',
        'FORBIDDEN',
        `${tool.name} is disabled on this server; the operator must start it with ${enableHint(tool.needs)}`,
      );
    }
    const parsed = tool.parse(args);
    if (!parsed.ok) {
      const keys = typeof args === 'object' && args !== null ? Object.keys(args).slice(0, 16) : [];
      return refuse('invalid-input', 'INVALID_INPUT', `${tool.name}: ${parsed.message}`, {
        arguments: keys.map((k) => clip(k, 64)),
      });
    }

    let outcome: ToolOutcome;
    try {
      outcome = await parsed.run({ service, self: this.self(client) });
    } catch (e) {
      this.stats.failed++;
      const code: ConsoleErrorCode = isConsoleError(e) ? e.code : 'INTERNAL';
      const text = isConsoleError(e) ? e.message : 'internal error';
      this.opts.log(`${client}: ${tool.name} failed: ${message(e)}`);
      await service
        .recordEvent('mcp.call.failed', { tool: tool.name, code, message: clip(text) })
        .catch((err: unknown) => this.opts.log(`cannot record the failure: ${message(err)}`));
      return errorResult(code, clip(text));
    }
    try {
      await service.recordEvent('mcp.call', { tool: tool.name, ...outcome.details }, outcome.about ?? {});
    } catch (e) {
      this.opts.log(`cannot record ${tool.name}: ${message(e)}`);
      // A change already carries its own records (client.issued …) in its transaction; a read has none,
      // so a read that cannot be recorded is not answered.
      if (tool.needs === null) {
        return errorResult('IO', `the call could not be recorded in the audit log: ${message(e)}`);
      }
    }
    if (tool.needs !== null) this.opts.log(`${client}: ${tool.name} ${summary(outcome.result)}`);
    return okResult(outcome.result);
  }

  /** Stops taking calls, lets those running finish, then records the stop and leaves `status`. */
  async shutdown(reason: string): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inflight]);
    await this.server.close().catch(() => undefined);
    const session = await this.session?.catch(() => null);
    await session?.close({ reason, ...this.stats });
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** One line about a change, for the operator's log: names, serials and paths, never key material. */
function summary(r: Record<string, unknown>): string {
  const serial = typeof r.serial === 'string' ? r.serial : '';
  const name = typeof r.name === 'string' ? r.name : '';
  return `ok: ${name} (serial ${serial})`;
}

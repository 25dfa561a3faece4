import { z } from 'zod';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { ConsoleError, isConsoleError } from '../errors';
import type { ConsoleService } from '../service';
import { CLOCK_SKEW_MS } from '../pki/certs';
import { auditQueryInputSchema, issueInputSchema, revokeInputSchema } from '../../shared/contract';
import { DAY_MS, MAX_CLIENT_TTL_MS } from '../../shared/validation';
import type { ClientStatus, IssueResult, McpPermission } from '../../shared/model';

/**
 * The MCP tools (issue 11), after the Nefia seed's `nefia.mtls.*`: each is a thin call onto the console
 * service, its input schema is our zod contract (the same schemas the app's IPC checks), and its result
 * is the structured value the CLI prints with --json. None of them ever returns key material.
 */

/** This server, as the status tool reports it. */
export interface McpSelf {
  readonly client: string;
  readonly allow: readonly McpPermission[];
  readonly bundleDir: string | null;
}

export interface ToolContext {
  /** The session's service: every record it writes names `mcp:<client>` as the actor. */
  readonly service: ConsoleService;
  readonly self: McpSelf;
}

export interface ToolOutcome {
  readonly result: Record<string, unknown>;
  /** What the `mcp.call` audit record says about the call besides its tool name. */
  readonly details?: Record<string, unknown>;
  /** The certificate the call acted on, so `audit --serial` finds the call too. */
  readonly about?: { readonly cn?: string; readonly serial?: string };
}

export type Parsed =
  | { readonly ok: true; readonly run: (ctx: ToolContext) => Promise<ToolOutcome> }
  | { readonly ok: false; readonly message: string };

export interface McpTool {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** The `--allow` word this tool needs; null for the read-only tools, which are always there. */
  readonly needs: McpPermission | null;
  readonly inputSchema: z.ZodType;
  readonly annotations: ToolAnnotations;
  parse(args: unknown): Parsed;
}

function tool<S extends z.ZodType>(def: {
  name: string;
  title: string;
  description: string;
  needs: McpPermission | null;
  input: S;
  annotations: Omit<ToolAnnotations, 'title'>;
  run: (ctx: ToolContext, input: z.output<S>) => Promise<ToolOutcome>;
}): McpTool {
  return {
    name: def.name,
    title: def.title,
    description: def.description,
    needs: def.needs,
    inputSchema: def.input,
    annotations: { title: def.title, openWorldHint: false, ...def.annotations },
    parse(args) {
      const r = def.input.safeParse(args ?? {});
      if (r.success) return { ok: true, run: (ctx) => def.run(ctx, r.data) };
      const issue = r.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      return { ok: false, message: `${where}${issue?.message ?? 'invalid arguments'}` };
    },
  };
}

const CLIENT_STATUSES = [
  'active',
  'superseded',
  'expired',
  'revoked',
] as const satisfies readonly ClientStatus[];

/** The bundle folder the operator configured; the tools that need it are only enabled with it. */
function bundleDir(ctx: ToolContext): string {
  if (ctx.self.bundleDir === null) throw new ConsoleError('FORBIDDEN', 'no --bundle-dir was configured');
  return ctx.self.bundleDir;
}

/** An issuance's result for the agent: serial, dates, file paths and the curl line; never a key. */
function issued(r: IssueResult): Record<string, unknown> {
  return {
    serial: r.serial,
    name: r.name,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    fingerprintSha256: r.fingerprintSha256,
    files: r.files,
    curl: r.curl,
  };
}

// Only the name and the lifetime come from the agent: the folder is the operator's, and neither a
// .p12 password nor --force passes through a model's context.
const issueInput = issueInputSchema.pick({ name: true, duration: true }).extend({
  name: issueInputSchema.shape.name.describe('client name, used as the certificate CN and file name'),
  duration: issueInputSchema.shape.duration
    .optional()
    .describe('validity, e.g. 30m, 24h, 7d, 1h30m (default 24h, at most 90d)'),
});

const revokeInput = revokeInputSchema.extend({
  serial: revokeInputSchema.shape.serial.describe('the certificate serial number (hex, colons allowed)'),
  reason: revokeInputSchema.shape.reason.optional().describe('default unspecified'),
});

const renewInput = revokeInputSchema.pick({ serial: true }).extend({
  serial: revokeInputSchema.shape.serial.describe('serial of the certificate to renew (hex, colons allowed)'),
});

const listInput = z
  .object({
    status: z.enum(CLIENT_STATUSES).optional().describe('only certificates in this state'),
    name: issueInputSchema.shape.name.optional().describe('only certificates with this name (CN)'),
    limit: z.number().int().min(1).max(1000).optional().describe('at most this many, newest first (200)'),
  })
  .strict();

/** The default page for agents: their context is smaller than a terminal's scrollback. */
const AGENT_AUDIT_PAGE = 50;

export const TOOLS: readonly McpTool[] = [
  tool({
    name: 'mtls.status',
    title: 'mTLS CA status',
    description:
      'The CA and server certificates (subject, validity, days left), client counts, the CRL, the gateway ' +
      'settings and state, and what this MCP server may do (its allow-list and bundle folder).',
    needs: null,
    input: z.object({}).strict(),
    annotations: { readOnlyHint: true },
    async run(ctx) {
      const status = await ctx.service.status();
      return { result: { ...status, mcp: ctx.self } };
    },
  }),
  tool({
    name: 'mtls.list_clients',
    title: 'List client certificates',
    description:
      'Client certificates issued by this CA, newest first: serial, name (CN), validity, fingerprint and ' +
      'status (active, expired or revoked, with the revocation time and reason).',
    needs: null,
    input: listInput,
    annotations: { readOnlyHint: true },
    async run(ctx, input) {
      const all = await ctx.service.listClients();
      const matching = all
        .filter(
          (c) =>
            (input.status === undefined || c.status === input.status) &&
            (input.name === undefined || c.name === input.name),
        )
        .reverse();
      const limit = input.limit ?? 200;
      return {
        result: {
          clients: matching.slice(0, limit),
          total: matching.length,
          truncated: matching.length > limit,
        },
        details: {
          filter: {
            ...(input.status ? { status: input.status } : {}),
            ...(input.name ? { name: input.name } : {}),
          },
        },
      };
    },
  }),
  tool({
    name: 'mtls.audit',
    title: 'Query the audit log',
    description:
      'Audit records, newest first, filtered on the server: type (a prefix: "client." finds issued and ' +
      `revoked), cn, serial, actor (e.g. "mcp:<client>"), from/to (ISO 8601) and text. ${AGENT_AUDIT_PAGE} per ` +
      'page unless limit says otherwise (at most 1000); pass nextCursor back as before for the next page.',
    needs: null,
    input: auditQueryInputSchema,
    annotations: { readOnlyHint: true },
    async run(ctx, input) {
      const page = await ctx.service.auditQuery({ ...input, limit: input.limit ?? AGENT_AUDIT_PAGE });
      return {
        result: { records: page.records, total: page.total, nextCursor: page.nextCursor },
        details: {
          filter: input.filter ?? {},
          ...(input.before !== undefined ? { before: input.before } : {}),
        },
      };
    },
  }),
  tool({
    name: 'mtls.issue_client',
    title: 'Issue a client certificate',
    description:
      'Issues a client certificate (CN = name) for an agent or operator, valid for duration (default 24h, ' +
      "at most 90d, never past the CA's expiry). The bundle (NAME.crt, NAME.key with mode 0600, ca.crt) is " +
      "written to the operator's bundle folder; the result carries the serial, the file paths and a curl " +
      'command line that uses them, never the key. Refused when that folder already holds a bundle of the name ' +
      '(use mtls.renew_client).',
    needs: 'issue',
    input: issueInput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    async run(ctx, input) {
      const durationMs = input.duration ?? DAY_MS;
      const outDir = bundleDir(ctx);
      let r: IssueResult;
      try {
        r = await ctx.service.issueClient({ name: input.name, durationMs, outDir, force: false });
      } catch (e) {
        // The service's message names the CLI's --force, which an agent does not have.
        if (isConsoleError(e) && e.code === 'ALREADY_EXISTS') {
          throw new ConsoleError(
            'ALREADY_EXISTS',
            `a bundle for ${input.name} already exists in ${outDir}; renew its certificate with mtls.renew_client`,
          );
        }
        throw e;
      }
      return {
        result: issued(r),
        details: { durationMs, files: r.files },
        about: { cn: r.name, serial: r.serial },
      };
    },
  }),
  tool({
    name: 'mtls.revoke',
    title: 'Revoke a client certificate',
    description:
      'Revokes a client certificate by serial and publishes a new signed CRL. A running gateway refuses it ' +
      'at once and closes its live connections. Revoking a revoked certificate changes nothing (alreadyRevoked).',
    needs: 'revoke',
    input: revokeInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    async run(ctx, input) {
      const r = await ctx.service.revoke({ serial: input.serial, reason: input.reason ?? 'unspecified' });
      return {
        result: { ...r },
        details: { reason: r.reason, alreadyRevoked: r.alreadyRevoked },
        about: { cn: r.name, serial: r.serial },
      };
    },
  }),
  tool({
    name: 'mtls.renew_client',
    title: 'Renew a client certificate',
    description:
      'Re-issues the given certificate: a new key and certificate for the same name with the same lifetime ' +
      "(issue-client --reissue). Its bundle replaces the name's files in the operator's bundle folder; the old " +
      'certificate stays valid until it expires and is shown as superseded. A revoked certificate is not ' +
      're-issued. (A client renews its own certificate, keeping its key, over mTLS: POST ' +
      '/.well-known/mtls-console/renew on the gateway.) The result carries the new serial, the file paths and a ' +
      'curl line, never the key.',
    needs: 'renew',
    input: renewInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
    async run(ctx, input) {
      const old = (await ctx.service.listClients()).find((c) => c.serial === input.serial);
      if (!old) {
        throw new ConsoleError(
          'NOT_FOUND',
          `no certificate with serial ${input.serial} was issued by this CA`,
        );
      }
      if (old.status === 'revoked') {
        // Renewing would undo the revocation under another serial.
        throw new ConsoleError(
          'INVALID_INPUT',
          `certificate ${old.serial} (${old.name}) is revoked; a revoked certificate is not renewed`,
        );
      }
      // The lifetime it was issued with: notBefore is backdated for clock skew, so that minute is not
      // part of it (else every renewal would add one).
      const lifetime = Date.parse(old.notAfter) - Date.parse(old.notBefore) - CLOCK_SKEW_MS;
      const durationMs = Math.min(Math.max(lifetime, 60_000), MAX_CLIENT_TTL_MS);
      const r = await ctx.service.issueClient({
        name: old.name,
        durationMs,
        outDir: bundleDir(ctx),
        reissue: true,
      });
      return {
        result: { ...issued(r), renewedFrom: { serial: old.serial, notAfter: old.notAfter } },
        details: { renewedFrom: old.serial, durationMs, files: r.files },
        about: { cn: r.name, serial: r.serial },
      };
    },
  }),
];

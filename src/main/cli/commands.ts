import path from 'node:path';
import { z } from 'zod';
import { ConsoleError } from '../errors';
import { pemToDer } from '../pki';
import type { ConsoleService } from '../service';
import type { CommandSpec } from './usage';
import { usageError } from './usage';
import { readSecretFile } from './passphrase';
import { formatList, formatStatus, formatAudit } from './format';
import {
  algorithmSchema,
  clientNameSchema,
  durationSchema,
  hostsSchema,
  revocationReasonSchema,
  serialSchema,
  formatDuration,
} from '../../shared/validation';
import { runServe, serveCommandOptions } from './serve';
import { auditFilterSchema } from '../../shared/contract';

const isoDateSchema = z.iso
  .datetime({ offset: true, message: 'expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z' })
  .or(z.iso.date());

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  readonly values: Values;
  /** The sub-command word, for commands that have them (`audit archive`). */
  readonly sub?: string;
  readonly service: ConsoleService;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface Command extends CommandSpec {
  run(ctx: CommandContext): Promise<void>;
}

/** Validates one flag with a shared schema, naming the flag in the one-line error. */
export function parseFlag<T extends z.ZodType>(flag: string, schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    // An object of several flags (the audit filter) names the flag that failed.
    const name = typeof issue?.path[0] === 'string' ? issue.path[0] : flag;
    throw usageError(`--${name}: ${issue?.message ?? 'invalid value'}`);
  }
  return result.data;
}

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function requireStr(values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined) throw usageError(`--${name} is required`);
  return v;
}

function positiveInt(flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw usageError(`--${flag}: expected a whole number from 1 to ${max}, got "${text}"`);
  }
  return Number(text);
}

const json = { type: 'boolean', description: 'print JSON' } as const;

export const COMMANDS: readonly Command[] = [
  {
    name: 'init',
    summary: 'create the root CA (10 years) and the gateway server certificate',
    options: {
      hosts: { type: 'string', value: 'H1,H2', description: 'server DNS names and IP addresses (required)' },
      algorithm: {
        type: 'string',
        value: 'ALG',
        description: 'ecdsa-p256 (default) | ecdsa-p384 | rsa-4096',
      },
      'ca-name': { type: 'string', value: 'CN', description: 'CA common name (default: mtls-console CA)' },
      'server-days': {
        type: 'string',
        value: 'N',
        description: 'server certificate validity in days (default 90)',
      },
      json,
    },
    async run({ values, service, out }) {
      const hosts = parseFlag(
        'hosts',
        hostsSchema,
        requireStr(values, 'hosts')
          .split(',')
          .map((h) => h.trim())
          .filter((h) => h !== ''),
      );
      const algorithm = parseFlag('algorithm', algorithmSchema, str(values, 'algorithm') ?? 'ecdsa-p256');
      const caName = str(values, 'ca-name') ?? 'mtls-console CA';
      if (caName.trim() === '' || caName.length > 64) throw usageError('--ca-name: 1 to 64 characters');
      const serverDays = positiveInt('server-days', str(values, 'server-days'), 3650) ?? 90;
      const status = await service.init({
        algorithm,
        caName: caName.trim(),
        hosts,
        serverDays,
        vault: { backend: 'passphrase' },
      });
      out(values.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    },
  },
  {
    name: 'issue-client',
    summary: 'issue a client certificate and export its bundle',
    options: {
      name: { type: 'string', value: 'NAME', description: 'client name, used as CN (required)' },
      duration: {
        type: 'string',
        value: 'D',
        description: 'validity, e.g. 30m, 24h, 7d, 1h30m (default 24h, max 90d)',
      },
      'out-dir': {
        type: 'string',
        value: 'DIR',
        description: 'where to write the bundle (default ./mtls-client-certs)',
      },
      'p12-password-file': {
        type: 'string',
        value: 'FILE',
        description: 'also write NAME.p12 with this password',
      },
      force: { type: 'boolean', description: 'overwrite existing bundle files' },
      json,
    },
    async run({ values, service, out }) {
      const name = parseFlag('name', clientNameSchema, requireStr(values, 'name'));
      const durationMs = parseFlag('duration', durationSchema, str(values, 'duration') ?? '24h');
      const outDir = path.resolve(str(values, 'out-dir') ?? 'mtls-client-certs');
      const p12File = str(values, 'p12-password-file');
      const p12Password =
        p12File === undefined ? undefined : await readSecretFile(p12File, 'p12 password file');
      const result = await service.issueClient({
        name,
        durationMs,
        outDir,
        ...(p12Password !== undefined ? { p12Password } : {}),
        force: values.force === true,
      });
      if (values.json) {
        const { curl: _curl, ...rest } = result;
        out(JSON.stringify(rest, null, 2));
        return;
      }
      const validMs = Date.parse(result.notAfter) - Date.parse(result.notBefore);
      // The CA never signs past its own expiry: say when the certificate really ends.
      const clamped = validMs < durationMs - 60_000;
      out(
        [
          clamped
            ? `issued ${result.name} (serial ${result.serial}), valid until ${result.notAfter}: clamped to the CA's expiry (${formatDuration(durationMs)} was asked)`
            : `issued ${result.name} (serial ${result.serial}), valid for ${formatDuration(durationMs)} until ${result.notAfter}`,
          ...Object.values(result.files).map((f) => `  wrote ${f}`),
          `try: ${result.curl}`,
        ].join('\n'),
      );
    },
  },
  {
    name: 'list',
    summary: 'list issued client certificates',
    options: { json },
    async run({ values, service, out }) {
      const clients = await service.listClients();
      const rows = clients.map((c) => ({
        serial: c.serial,
        name: c.name,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        status: c.status,
      }));
      out(values.json ? JSON.stringify(rows, null, 2) : formatList(clients));
    },
  },
  {
    name: 'revoke',
    summary: 'revoke a client certificate by serial and publish a new CRL',
    options: {
      serial: {
        type: 'string',
        value: 'HEX',
        description: 'serial number, any case, colons allowed (required)',
      },
      reason: {
        type: 'string',
        value: 'R',
        description:
          'unspecified (default) | keyCompromise | affiliationChanged | superseded | cessationOfOperation',
      },
      json,
    },
    async run({ values, service, out }) {
      const serial = parseFlag('serial', serialSchema, requireStr(values, 'serial'));
      const reason = parseFlag('reason', revocationReasonSchema, str(values, 'reason') ?? 'unspecified');
      const result = await service.revoke({ serial, reason });
      if (values.json) {
        out(JSON.stringify(result, null, 2));
      } else if (result.alreadyRevoked) {
        out(
          `${result.serial} (${result.name}) was already revoked at ${result.revokedAt} (${result.reason})`,
        );
      } else {
        out(`revoked ${result.serial} (${result.name}): ${result.reason}; CRL published`);
      }
    },
  },
  {
    name: 'status',
    summary: 'show the CA, the server certificate, client counts and gateway settings',
    options: { json },
    async run({ values, service, out }) {
      const status = await service.status();
      if (!status.initialized && !values.json) {
        throw new ConsoleError(
          'NOT_INITIALIZED',
          `no CA in ${status.stateDir}; run \`mtls-console init --hosts …\``,
        );
      }
      out(values.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    },
  },
  {
    name: 'crl',
    summary: 'print or write the current signed CRL',
    options: {
      out: { type: 'string', value: 'FILE', description: 'write to FILE instead of stdout' },
      der: { type: 'boolean', description: 'DER instead of PEM' },
      refresh: {
        type: 'boolean',
        description: 'sign a fresh CRL first (needs the passphrase; run it from cron if no serve is running)',
      },
    },
    async run({ values, service, out, err }) {
      if (values.refresh) {
        const r = await service.refreshCrl();
        err(`CRL ${r.crlNumber} published: ${r.entries} revoked, valid until ${r.nextUpdate}`);
      }
      const pem = await service.crlPem();
      const data: string | Buffer = values.der ? pemToDer(pem, 'X509 CRL') : pem;
      const file = str(values, 'out');
      if (file) {
        await service.writeExport(path.resolve(file), data);
        return;
      }
      if (typeof data === 'string') out(data.trimEnd());
      else process.stdout.write(data);
    },
  },
  {
    name: 'audit',
    summary: 'show, filter, export, verify or archive the audit log',
    subcommands: ['archive'],
    options: {
      type: { type: 'string', value: 'PREFIX', description: 'records whose type starts with PREFIX' },
      cn: { type: 'string', value: 'NAME', description: 'records about this client name' },
      serial: { type: 'string', value: 'HEX', description: 'records about this serial' },
      actor: { type: 'string', value: 'NAME', description: 'records by this operator' },
      from: { type: 'string', value: 'TIME', description: 'records at or after TIME (ISO 8601)' },
      to: { type: 'string', value: 'TIME', description: 'records at or before TIME (ISO 8601)' },
      text: { type: 'string', value: 'TEXT', description: 'records mentioning TEXT anywhere' },
      limit: { type: 'string', value: 'N', description: 'the newest N matching records (default 100)' },
      out: {
        type: 'string',
        value: 'FILE',
        description:
          'stream every matching record to FILE (JSON Lines; .csv for CSV); with `archive`: the archive file',
      },
      verify: {
        type: 'boolean',
        description: 'check the hash chain and its signed checkpoints; non-zero exit naming what is wrong',
      },
      archive: {
        type: 'string',
        value: 'FILE',
        multiple: true,
        description: 'with --verify: also check these archives (repeat the flag)',
      },
      before: { type: 'string', value: 'DATE', description: 'with `archive`: move records older than DATE' },
      json,
    },
    async run({ values, sub, service, out, err }) {
      if (sub === 'archive') {
        const before = parseFlag('before', isoDateSchema, requireStr(values, 'before'));
        const file = path.resolve(requireStr(values, 'out'));
        const result = await service.auditArchive(new Date(before), file);
        if (values.json) out(JSON.stringify(result ?? { records: 0 }, null, 2));
        else if (!result) err(`no audit records older than ${before}; nothing archived`);
        else out(`archived ${result.records} records to ${result.file}`);
        return;
      }
      if (values.verify) {
        const archives = Array.isArray(values.archive) ? values.archive.map((a) => path.resolve(a)) : [];
        const result = await service.auditVerify({ archives });
        if (values.json) out(JSON.stringify(result, null, 2));
        if (!result.ok)
          throw new ConsoleError('CORRUPT_STATE', `audit verification failed: ${result.summary}`);
        if (!values.json) out(result.summary);
        return;
      }
      const filter = parseFlag('filter', auditFilterSchema, {
        ...(str(values, 'type') !== undefined ? { type: str(values, 'type') } : {}),
        ...(str(values, 'cn') !== undefined ? { cn: str(values, 'cn') } : {}),
        ...(str(values, 'serial') !== undefined ? { serial: str(values, 'serial') } : {}),
        ...(str(values, 'actor') !== undefined ? { actor: str(values, 'actor') } : {}),
        ...(str(values, 'from') !== undefined ? { from: str(values, 'from') } : {}),
        ...(str(values, 'to') !== undefined ? { to: str(values, 'to') } : {}),
        ...(str(values, 'text') !== undefined ? { text: str(values, 'text') } : {}),
      });
      const file = str(values, 'out');
      if (file !== undefined) {
        const target = path.resolve(file);
        const r = await service.auditExportTo(target, target.endsWith('.csv') ? 'csv' : 'jsonl', filter);
        err(`exported ${r.records} records to ${r.path}`);
        return;
      }
      const limit = positiveInt('limit', str(values, 'limit'), 1000) ?? 100;
      const page = await service.auditQuery({ filter, limit });
      // Oldest first on a terminal, like a log; --json gives the page as the API does.
      out(values.json ? JSON.stringify(page, null, 2) : formatAudit([...page.records].reverse()));
    },
  },
  {
    name: 'audit-settings',
    summary: 'show or change audit retention and what the gateway does when records cannot be written',
    options: {
      'retention-days': {
        type: 'string',
        value: 'N',
        description: 'archive records older than N days automatically (0: keep all; default 30)',
      },
      'fail-open': { type: 'boolean', description: 'keep proxying when records cannot be written' },
      'fail-closed': { type: 'boolean', description: 'stop taking requests until they can (the default)' },
      json,
    },
    async run({ values, service, out }) {
      if (values['fail-open'] && values['fail-closed'])
        throw usageError('choose --fail-open or --fail-closed');
      const days = str(values, 'retention-days');
      if (days !== undefined && !/^\d+$/.test(days))
        throw usageError('--retention-days: a whole number of days');
      const change = {
        ...(days !== undefined ? { retentionDays: Number(days) } : {}),
        ...(values['fail-open'] ? { failOpen: true } : {}),
        ...(values['fail-closed'] ? { failOpen: false } : {}),
      };
      const settings =
        Object.keys(change).length > 0 ? await service.configureAudit(change) : await service.auditSettings();
      out(
        values.json
          ? JSON.stringify(settings, null, 2)
          : `retention: ${settings.retentionDays === 0 ? 'keep everything' : `${settings.retentionDays} days`}; gateway records: ${settings.failOpen ? 'fail-open' : 'fail-closed'}`,
      );
    },
  },
  {
    name: 'rotate-server',
    summary: 'issue a new server certificate; a running gateway serves it on new connections',
    options: {
      days: { type: 'string', value: 'N', description: 'validity in days (default: as at init, 90)' },
      json,
    },
    async run({ values, service, out }) {
      const days = positiveInt('days', str(values, 'days'), 3650);
      const result = await service.rotateServer(days === undefined ? {} : { days });
      out(
        values.json
          ? JSON.stringify(result, null, 2)
          : `server certificate rotated: serial ${result.serial}, until ${result.notAfter}`,
      );
    },
  },
  {
    name: 'serve',
    summary: 'run the mTLS gateway in the foreground',
    options: serveCommandOptions,
    run: runServe,
  },
];

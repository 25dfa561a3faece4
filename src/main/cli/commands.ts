import path from 'node:path';
import type { z } from 'zod';
import { ConsoleError } from '../errors';
import { atomicWriteFile } from '../store';
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

export type Values = Record<string, string | boolean | undefined>;

export interface CommandContext {
  readonly values: Values;
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
    throw usageError(`--${flag}: ${issue?.message ?? 'invalid value'}`);
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
      out(
        [
          `issued ${result.name} (serial ${result.serial}), valid for ${formatDuration(durationMs)} until ${result.notAfter}`,
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
        await atomicWriteFile(path.resolve(file), data, 0o644);
        return;
      }
      if (typeof data === 'string') out(data.trimEnd());
      else process.stdout.write(data);
    },
  },
  {
    name: 'audit',
    summary: 'show the audit log, or check its hash chain',
    options: {
      limit: { type: 'string', value: 'N', description: 'only the last N records' },
      verify: {
        type: 'boolean',
        description: 'check the hash chain; non-zero exit naming the first bad record',
      },
      json,
    },
    async run({ values, service, out }) {
      if (values.verify) {
        const result = await service.auditVerify();
        if (values.json) out(JSON.stringify(result, null, 2));
        if (!result.ok) {
          const bad = result.firstBad;
          throw new ConsoleError(
            'CORRUPT_STATE',
            `audit chain broken at line ${bad?.line ?? '?'} (seq ${bad?.seq ?? '?'}): ${bad?.problem ?? 'unknown'}`,
          );
        }
        if (!values.json) out(`audit chain intact: ${result.records} records`);
        return;
      }
      const limit = positiveInt('limit', str(values, 'limit'), 1_000_000);
      const records = await service.auditQuery(limit === undefined ? {} : { limit });
      out(values.json ? JSON.stringify(records, null, 2) : formatAudit(records));
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

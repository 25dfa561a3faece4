import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConsoleError } from '../errors';
import { CsrError, MAX_BACKUP_BYTES, MAX_CSR_BYTES, parseCsr, pemToDer, type CheckedCsr } from '../pki';
import type { ConsoleService } from '../service';
import type { CommandSpec } from './usage';
import { usageError } from './usage';
import { readSecretFile } from './passphrase';
import { backupPassphrase, confirmOnTerminal, hasTerminal } from './confirm';
import { formatList, formatStatus, formatAudit } from './format';
import {
  algorithmSchema,
  clientNameSchema,
  durationSchema,
  hostsSchema,
  revocationReasonSchema,
  serialSchema,
  formatDuration,
  isLoopbackHost,
  parseHostPort,
} from '../../shared/validation';
import { distributionChange, distributionOptions, runServe, serveCommandOptions } from './serve';
import { DEFAULT_DISTRIBUTION_LISTEN } from '../service/state';
import { mcpCommandOptions, runMcp } from '../mcp/command';
import { renewCommandOptions, runRenew } from './renew';
import { caCommand, rolloverLine } from './ca-rollover';
import { auditFilterSchema, renewMaxSchema } from '../../shared/contract';
import {
  accessRuleSchema,
  decide,
  describeRule,
  groupNameSchema,
  policyMethodSchema,
  ruleIdSchema,
} from '../../shared/policy';
import { upstreamTarget } from '../../shared/request-target';
import {
  upstreamCredentialInputSchema,
  upstreamCredentialNameSchema,
  upstreamCredentialValueSchema,
} from '../../shared/credentials';

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

/** `a, b,c` → ['a', 'b', 'c']: the flags that take lists. */
function commaList(text: string): string[] {
  return text
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
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

/** Reads a small input file whole, refusing what is not a regular file or is larger than `max`. */
async function readInputFile(flag: string, file: string, max: number): Promise<Buffer> {
  const st = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    throw usageError(`--${flag}: cannot read ${file}: ${e.code ?? e.message}`);
  });
  if (!st.isFile()) throw usageError(`--${flag}: ${file} is not a file`);
  if (st.size > max) throw usageError(`--${flag}: ${file} is larger than ${max} bytes`);
  return fs.readFile(file);
}

/** A CSR checked before anything else runs: a bad one is refused with one line, nothing touched. */
async function readCsr(file: string): Promise<CheckedCsr> {
  const data = await readInputFile('csr', file, MAX_CSR_BYTES);
  try {
    return parseCsr(data);
  } catch (e) {
    if (e instanceof CsrError) throw usageError(`--csr ${file}: ${e.message}`);
    throw e;
  }
}

function issuedText(
  result: { name: string; serial: string; notBefore: string; notAfter: string; curl: string },
  files: readonly string[],
  durationMs: number,
  from = '',
): string {
  const validMs = Date.parse(result.notAfter) - Date.parse(result.notBefore);
  // The CA never signs past its own expiry: say when the certificate really ends.
  const clamped = validMs < durationMs - 60_000;
  return [
    clamped
      ? `issued ${result.name} (serial ${result.serial})${from}, valid until ${result.notAfter}: clamped to the CA's expiry (${formatDuration(durationMs)} was asked)`
      : `issued ${result.name} (serial ${result.serial})${from}, valid for ${formatDuration(durationMs)} until ${result.notAfter}`,
    ...files.map((f) => `  wrote ${f}`),
    `try: ${result.curl}`,
  ].join('\n');
}

/** Renewal policy and re-issue flags of issue-client (issue 9); contradictions are usage errors. */
function issuePolicyFlags(values: Values): {
  renewable?: boolean;
  renewMaxMs?: number;
  reissue?: boolean;
  revokePrevious?: boolean;
} {
  const renewMax = str(values, 'renew-max');
  if (values['not-renewable'] && renewMax !== undefined) {
    throw usageError('--renew-max: a certificate that is not renewable has no maximum renewal lifetime');
  }
  if (values['revoke-previous'] && !values.reissue) throw usageError('--revoke-previous goes with --reissue');
  return {
    ...(values['not-renewable'] ? { renewable: false } : {}),
    ...(renewMax !== undefined ? { renewMaxMs: parseFlag('renew-max', renewMaxSchema, renewMax) } : {}),
    ...(values.reissue ? { reissue: true } : {}),
    ...(values['revoke-previous'] ? { revokePrevious: true } : {}),
  };
}

function replacedText(replaced: readonly { serial: string; revoked: boolean }[]): string {
  if (replaced.length === 0) return 'no earlier certificate of this name was still valid';
  return replaced
    .map((r) =>
      r.revoked
        ? `revoked ${r.serial} (superseded); CRL published`
        : `${r.serial} is superseded: still valid until it expires, no longer renewed`,
    )
    .join('\n');
}

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
      const hosts = parseFlag('hosts', hostsSchema, commaList(requireStr(values, 'hosts')));
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
      csr: {
        type: 'string',
        value: 'FILE',
        description: 'sign this PKCS#10 CSR (PEM or DER) instead of making a key; the bundle has no key',
      },
      group: {
        type: 'string',
        value: 'GROUP',
        multiple: true,
        description: 'a group (OU) access rules can match; may be given more than once',
      },
      'not-renewable': {
        type: 'boolean',
        description: 'its holder may not renew it over the gateway (mtls-console renew)',
      },
      'renew-max': {
        type: 'string',
        value: 'D',
        description: 'renewals may extend it up to D from now, e.g. 30d, 180d (default 90d)',
      },
      reissue: {
        type: 'boolean',
        description:
          "a new certificate and key for a name that exists: replaces that name's bundle files; the earlier certificates show as superseded",
      },
      'revoke-previous': {
        type: 'boolean',
        description: "with --reissue: revoke the name's earlier valid certificates (reason superseded)",
      },
      force: { type: 'boolean', description: 'overwrite existing bundle files' },
      json,
    },
    async run({ values, service, out }) {
      const name = parseFlag('name', clientNameSchema, requireStr(values, 'name'));
      const groups = (Array.isArray(values.group) ? values.group : []).map((g) =>
        parseFlag('group', groupNameSchema, g),
      );
      const durationMs = parseFlag('duration', durationSchema, str(values, 'duration') ?? '24h');
      const outDir = path.resolve(str(values, 'out-dir') ?? 'mtls-client-certs');
      const policy = issuePolicyFlags(values);
      const p12File = str(values, 'p12-password-file');
      const csrFile = str(values, 'csr');
      if (csrFile !== undefined) {
        if (p12File !== undefined) {
          throw usageError(
            '--csr: no .p12 can be made, the private key stays with the CSR (drop --p12-password-file)',
          );
        }
        const csr = await readCsr(csrFile);
        const result = await service.issueClientFromCsr({
          name,
          durationMs,
          outDir,
          csr,
          force: values.force === true,
          ...(groups.length > 0 ? { groups } : {}),
          ...policy,
        });
        if (values.json) {
          const { curl: _curl, ...rest } = result;
          out(JSON.stringify({ ...rest, keyType: csr.keyType }, null, 2));
          return;
        }
        out(issuedText(result, Object.values(result.files), durationMs, ` for the CSR's ${csr.keyType} key`));
        if (result.replaced) out(replacedText(result.replaced));
        return;
      }
      const p12Password =
        p12File === undefined ? undefined : await readSecretFile(p12File, 'p12 password file');
      const result = await service.issueClient({
        name,
        durationMs,
        outDir,
        ...(p12Password !== undefined ? { p12Password } : {}),
        force: values.force === true,
        ...(groups.length > 0 ? { groups } : {}),
        ...policy,
      });
      if (values.json) {
        const { curl: _curl, ...rest } = result;
        out(JSON.stringify(rest, null, 2));
        return;
      }
      out(issuedText(result, Object.values(result.files), durationMs));
      if (result.replaced) out(replacedText(result.replaced));
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
        renewal: c.renewal,
        ...(c.revokedAt !== undefined ? { revokedAt: c.revokedAt, reason: c.reason } : {}),
        ...(c.supersededBy !== undefined ? { supersededBy: c.supersededBy } : {}),
        ...(c.supersedes !== undefined ? { supersedes: c.supersedes } : {}),
        ...(c.groups !== undefined ? { groups: c.groups } : {}),
        renewable: c.renewable,
        ...(c.renewUntil !== undefined ? { renewUntil: c.renewUntil } : {}),
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
      if (values.json || !status.initialized) {
        out(values.json ? JSON.stringify(status, null, 2) : formatStatus(status));
        return;
      }
      const rollover = rolloverLine(await service.rolloverStatus());
      out(formatStatus(status) + (rollover ? `\n${rollover}` : ''));
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
      ca: {
        type: 'string',
        value: 'N',
        description: 'the CRL of CA N (see `ca rollover status`; default: the issuing CA)',
      },
    },
    async run({ values, service, out, err }) {
      if (values.refresh) {
        const r = await service.refreshCrl();
        err(`CRL ${r.crlNumber} published: ${r.entries} revoked, valid until ${r.nextUpdate}`);
      }
      const caId = positiveInt('ca', str(values, 'ca'), 999_999);
      const pem = await service.crlPem(caId);
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
    name: 'export',
    summary: 'write the CA certificate, CA chain, CRL or (confirmed) the server certificate and key',
    options: {
      'out-dir': {
        type: 'string',
        value: 'DIR',
        description: 'folder to write to, outside the state dir (required)',
      },
      ca: { type: 'boolean', description: 'ca.crt: the CA certificate' },
      chain: { type: 'boolean', description: 'ca-chain.crt: every CA certificate the gateway trusts' },
      crl: { type: 'boolean', description: 'crl.pem: the current signed CRL' },
      der: { type: 'boolean', description: 'with --crl: crl.der (DER) instead of PEM' },
      server: {
        type: 'boolean',
        description: 'server.crt and server.key (0600, unencrypted) for a proxy such as nginx; audited',
      },
      'yes-export-server-key': {
        type: 'boolean',
        description: 'confirm --server without a prompt (needed when there is no terminal)',
      },
      json,
    },
    async run({ values, service, out, err }) {
      const outDir = path.resolve(requireStr(values, 'out-dir'));
      if (values.der && !values.crl) throw usageError('--der goes with --crl');
      if (!values.ca && !values.chain && !values.crl && !values.server) {
        throw usageError('nothing to export: choose --ca, --chain, --crl or --server');
      }
      let confirmed: 'flag' | 'prompt' | undefined;
      if (values.server) {
        if (values['yes-export-server-key']) confirmed = 'flag';
        else if (hasTerminal()) {
          const yes = await confirmOnTerminal(
            `This writes the gateway's private key, unencrypted, to ${path.join(outDir, 'server.key')}.`,
          );
          if (!yes)
            throw new ConsoleError(
              'INVALID_INPUT',
              'export of the server key not confirmed; nothing written',
            );
          confirmed = 'prompt';
        } else {
          throw usageError('--server writes the private key: confirm with --yes-export-server-key');
        }
      }
      const result = await service.exportMaterial({
        outDir,
        ...(values.ca ? { ca: true } : {}),
        ...(values.chain ? { chain: true } : {}),
        ...(values.crl ? { crl: values.der ? ('der' as const) : ('pem' as const) } : {}),
        ...(values.server ? { server: true } : {}),
        ...(confirmed ? { serverKeyConfirmed: confirmed } : {}),
      });
      if (values.json) {
        out(JSON.stringify(result, null, 2));
        return;
      }
      out(result.files.map((f) => `wrote ${f.path} (${f.mode})`).join('\n'));
      if (values.server) err('the server key export was recorded in the audit log; keep that folder private');
    },
  },
  {
    name: 'backup-ca',
    summary: 'back up the CA key (encrypted PKCS#8) and certificate under a passphrase of its own',
    options: {
      out: {
        type: 'string',
        value: 'FILE',
        description: 'the backup file to create (required; never overwritten)',
      },
      'backup-passphrase-file': {
        type: 'string',
        value: 'FILE',
        description: 'file (0600) holding the backup passphrase, at least 12 characters (else a prompt)',
      },
      json,
    },
    async run({ values, service, out }) {
      const outFile = path.resolve(requireStr(values, 'out'));
      const file = str(values, 'backup-passphrase-file');
      const passphrase = await backupPassphrase({ ...(file !== undefined ? { file } : {}), confirm: true });
      const result = await service.backupCa({ outFile, passphrase });
      out(
        values.json
          ? JSON.stringify(result, null, 2)
          : `wrote the CA backup ${result.file} (CA serial ${result.caSerial}); keep it and its passphrase apart`,
      );
    },
  },
  {
    name: 'restore-ca',
    summary: 'create a new state dir around a CA from a backup (new database, new server certificate)',
    options: {
      in: { type: 'string', value: 'FILE', description: 'the backup file written by backup-ca (required)' },
      hosts: { type: 'string', value: 'H1,H2', description: 'server DNS names and IP addresses (required)' },
      'server-days': {
        type: 'string',
        value: 'N',
        description: 'server certificate validity in days (default 90)',
      },
      'backup-passphrase-file': {
        type: 'string',
        value: 'FILE',
        description: 'file (0600) holding the backup passphrase (else a prompt)',
      },
      json,
    },
    async run({ values, service, out, err }) {
      const inFile = path.resolve(requireStr(values, 'in'));
      const hosts = parseFlag('hosts', hostsSchema, commaList(requireStr(values, 'hosts')));
      const serverDays = positiveInt('server-days', str(values, 'server-days'), 3650) ?? 90;
      const text = (await readInputFile('in', inFile, MAX_BACKUP_BYTES)).toString('utf8');
      const file = str(values, 'backup-passphrase-file');
      const passphrase = await backupPassphrase({ ...(file !== undefined ? { file } : {}), confirm: false });
      const status = await service.restoreCa({
        file: inFile,
        text,
        backupPassphrase: passphrase,
        hosts,
        serverDays,
        vault: { backend: 'passphrase' },
      });
      if (values.json) {
        out(JSON.stringify(status, null, 2));
        return;
      }
      out(formatStatus(status));
      err(
        'note: a CA backup holds no registry: certificates issued before it verify under this CA but are not listed here, and earlier revocations are not in this CRL',
      );
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
    name: 'policy',
    summary: 'access rules: which clients may call which methods and paths (none: everything)',
    subcommands: ['list', 'add', 'remove', 'test'],
    options: {
      id: { type: 'string', value: 'ID', description: 'rule id (add: default r1, r2, …; remove: required)' },
      name: {
        type: 'string',
        value: 'PATTERN',
        description: 'add: client name, * allowed (agent-*); test: the client name',
      },
      group: {
        type: 'string',
        value: 'GROUP',
        multiple: true,
        description: "add: a group (the certificate's OU); test: the client's groups (repeat)",
      },
      method: {
        type: 'string',
        value: 'LIST',
        description: 'add: methods, comma-separated, or *; test: one method',
      },
      path: {
        type: 'string',
        value: 'LIST',
        description: 'add: path prefixes, comma-separated (/status,/v1/scan); test: one request path',
      },
      json,
    },
    async run({ values, sub, service, out }) {
      const config = await service.gatewayConfig();
      const rules = config.accessRules;
      const groups = Array.isArray(values.group) ? values.group : [];
      const list = (flag: string): string[] => commaList(requireStr(values, flag));
      switch (sub ?? 'list') {
        case 'list': {
          if (values.json) out(JSON.stringify(rules, null, 2));
          else if (rules.length === 0)
            out('no access rules: every verified client may call any method and path');
          else out([...rules.map(describeRule), 'anything no rule allows is denied (403)'].join('\n'));
          return;
        }
        case 'add': {
          let id = str(values, 'id');
          for (let n = rules.length + 1; id === undefined; n++) {
            if (!rules.some((r) => r.id === `r${n}`)) id = `r${n}`;
          }
          if (groups.length > 1) throw usageError('--group: a rule names one group (add one rule per group)');
          const rule = parseFlag('rule', accessRuleSchema, {
            id,
            ...(str(values, 'name') !== undefined ? { name: str(values, 'name') } : {}),
            ...(groups[0] !== undefined ? { group: groups[0] } : {}),
            methods: list('method'),
            paths: list('path'),
          });
          if (rules.some((r) => r.id === rule.id)) {
            throw new ConsoleError('INVALID_INPUT', `a rule with id ${rule.id} exists; remove it first`);
          }
          await service.configureGateway({ accessRules: [...rules, rule] });
          out(`added ${describeRule(rule)}`);
          if (rules.length === 0)
            out('this is the first rule: from now on, requests no rule allows are denied (403)');
          return;
        }
        case 'remove': {
          const id = parseFlag('id', ruleIdSchema, requireStr(values, 'id'));
          if (!rules.some((r) => r.id === id)) throw new ConsoleError('NOT_FOUND', `no rule with id ${id}`);
          const rest = rules.filter((r) => r.id !== id);
          await service.configureGateway({ accessRules: rest });
          out(
            `removed rule ${id}${rest.length === 0 ? '; no rules left: every verified client may call anything' : ''}`,
          );
          return;
        }
        case 'test': {
          const name = parseFlag('name', clientNameSchema, requireStr(values, 'name'));
          const method = parseFlag('method', policyMethodSchema, requireStr(values, 'method'));
          const target = upstreamTarget('', requireStr(values, 'path'));
          if (!target.ok) throw usageError(`--path: the gateway refuses this path (${target.detail})`);
          const d = decide(
            rules,
            { name, groups: groups.map((g) => parseFlag('group', groupNameSchema, g)) },
            method,
            target.clientPath,
          );
          if (values.json) out(JSON.stringify({ ...d, method, path: target.clientPath }, null, 2));
          else
            out(
              d.allowed ? `allowed${d.rule ? ` by rule ${d.rule}` : ' (no rules)'}` : `denied: ${d.reason}`,
            );
          return;
        }
        default:
          throw usageError(`policy: unknown sub-command ${sub ?? ''}`);
      }
    },
  },
  {
    name: 'upstream-header',
    summary: 'headers the gateway adds to proxied requests (an upstream token), values sealed in the vault',
    subcommands: ['list', 'set', 'remove'],
    options: {
      name: { type: 'string', value: 'HEADER', description: 'the header name (set, remove)' },
      'value-file': {
        type: 'string',
        value: 'FILE',
        description:
          'set: read the value from FILE (not readable by group or others); never on the command line',
      },
      methods: {
        type: 'string',
        value: 'LIST',
        description: 'set: only on these methods, comma-separated (e.g. POST,PUT,PATCH,DELETE); default all',
      },
      json,
    },
    async run({ values, sub, service, out }) {
      switch (sub ?? 'list') {
        case 'list': {
          const list = await service.upstreamCredentials();
          if (values.json) out(JSON.stringify(list, null, 2));
          else if (list.length === 0)
            out("no upstream headers: requests reach the upstream with only the client's own");
          else
            out(
              list
                .map(
                  (c) =>
                    `${c.name}: (sealed) on ${c.methods ? c.methods.join(',') : 'every method'}; set ${c.setAt}`,
                )
                .join('\n'),
            );
          return;
        }
        case 'set': {
          const name = parseFlag('name', upstreamCredentialNameSchema, requireStr(values, 'name'));
          const methods = str(values, 'methods');
          const file = requireStr(values, 'value-file');
          const value = await readSecretFile(file, 'header value file');
          // The value is checked on its own, so the error names the file, never the value.
          if (!upstreamCredentialValueSchema.safeParse(value).success) {
            throw usageError(
              `--value-file: ${file} holds more than one line, a control or non-ASCII character, or edge spaces`,
            );
          }
          const input = parseFlag('methods', upstreamCredentialInputSchema, {
            name,
            value,
            ...(methods !== undefined ? { methods: commaList(methods) } : {}),
          });
          const info = await service.setUpstreamCredential(input);
          out(
            `${info.name} is set (sealed) for ${info.methods ? info.methods.join(',') : 'every method'}; clients' own ${info.name} is dropped`,
          );
          return;
        }
        case 'remove': {
          const name = parseFlag('name', upstreamCredentialNameSchema, requireStr(values, 'name'));
          await service.removeUpstreamCredential(name);
          out(`${name} removed`);
          return;
        }
        default:
          throw usageError(`upstream-header: unknown sub-command ${sub ?? ''}`);
      }
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
    name: 'distribution',
    summary:
      'show or set where the CRL and OCSP are published (URL in certificates, listener address) and metrics',
    options: { ...distributionOptions('', 'allow-remote-listen'), json },
    async run({ values, service, out, err }) {
      const change = distributionChange(values, '', 'allow-remote-listen');
      const settings =
        Object.keys(change).length > 0
          ? await service.configureDistribution(change, {
              allowRemoteListen: values['allow-remote-listen'] === true,
            })
          : {
              ...(await service.distributionSettings()),
              metrics: service.metricsEnabled(),
              restartNeeded: false,
            };
      if (values.json) {
        const { restartNeeded: _r, ...shown } = settings;
        out(JSON.stringify(shown, null, 2));
      } else {
        const metricsAt = settings.listen ?? DEFAULT_DISTRIBUTION_LISTEN;
        out(
          [
            settings.url === null
              ? 'certificates name no CRL or OCSP URL'
              : `certificates issued from now on name ${settings.url}/crl and ${settings.url}/ocsp`,
            settings.listen === null
              ? 'no CRL and OCSP listener'
              : `serve and the app serve the CRL and OCSP on http://${settings.listen} beside the gateway`,
            settings.metrics
              ? `serve and the app serve Prometheus metrics on http://${metricsAt}/metrics`
              : 'metrics off',
          ].join('\n'),
        );
      }
      if (settings.restartNeeded)
        err('the running listener moves to the new address when the gateway restarts');
      const metricsHost = parseHostPort(settings.listen ?? DEFAULT_DISTRIBUTION_LISTEN)?.host ?? '';
      if (settings.metrics && !isLoopbackHost(metricsHost)) {
        err('warning: metrics are served to other hosts (not loopback): client names and traffic figures');
      }
    },
  },
  caCommand,
  {
    name: 'serve',
    summary: 'run the mTLS gateway in the foreground',
    options: serveCommandOptions,
    run: runServe,
  },
  {
    name: 'renew',
    summary:
      'renew a client certificate over the gateway (client side: no state dir; --daemon to keep it renewed)',
    options: renewCommandOptions,
    run: runRenew,
  },
  {
    name: 'mcp',
    summary: 'serve MCP tools over stdio for an AI agent (read-only unless --allow)',
    options: mcpCommandOptions,
    run: runMcp,
  },
];

import os from 'node:os';
import path from 'node:path';
import { ConsoleError } from '../errors';
import { atomicWriteFile, ensureStateDir, withStateLock } from '../store';
import { appendAudit, type AuditEntryInput } from '../audit';
import {
  buildCrl,
  buildPkcs12,
  createCa,
  crlDerToPem,
  exportPrivateKeyPkcs8Der,
  importPrivateKey,
  issueClientCert,
  issueServerCert,
  randomSerial,
  summarizeCert,
  type Algorithm,
} from '../pki';
import type { StatePaths } from './paths';
import type { VaultResolver } from './vaults';
import type { Meta, Registry, RegistryEntry, Revocations } from './state-schemas';
import {
  readCaCertPem,
  readGatewayConfig,
  readMeta,
  readRegistry,
  readRevocations,
  readSealed,
  readServerFile,
  requireMeta,
} from './state';
import { writeBundle, checkBundleTargets, bundleTargets, curlLine } from './bundle';
import { DAY_MS, type RevocationReason } from '../../shared/validation';
import type { GatewayConfig, IssueResult, RevokeResult, VaultBackend } from '../../shared/model';
import { DEFAULT_GATEWAY_CONFIG } from '../../shared/model';
import type { Vault } from '../vault';

/** The CA operations on a state dir. Each takes the state lock, so the app, the CLI and `serve` can share it. */
export interface OpContext {
  readonly paths: StatePaths;
  readonly vaults: VaultResolver;
  /** Who acts, for the audit log. */
  readonly operator: string;
  readonly now: () => Date;
}

export function defaultOperator(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'operator';
  }
}

export interface InitInput {
  readonly algorithm: Algorithm;
  readonly caName: string;
  readonly hosts: readonly string[];
  readonly serverDays: number;
  readonly gateway?: Partial<GatewayConfig>;
  readonly vault: { readonly backend: VaultBackend; readonly passphrase?: string };
}

const CA_DAYS = 3650;
/**
 * How long a published CRL is valid (its nextUpdate). It is republished on every revocation, and
 * `crl --refresh` or a running `serve` or app (ConsoleService.startCrlUpkeep) republishes it before it runs out.
 */
export const CRL_VALIDITY_MS = 7 * DAY_MS;

export async function initCa(ctx: OpContext, input: InitInput): Promise<Meta> {
  const vault = await ctx.vaults.create(input.vault);
  await ensureStateDir(ctx.paths.dir);
  return withStateLock(ctx.paths.dir, async () => {
    if (await readMeta(ctx.paths)) {
      throw new ConsoleError(
        'ALREADY_EXISTS',
        `a CA already exists in ${ctx.paths.dir}; refusing to overwrite it`,
      );
    }
    const now = ctx.now();
    const ca = await createCa({
      algorithm: input.algorithm,
      commonName: input.caName,
      now,
      validityDays: CA_DAYS,
      serial: randomSerial(),
    });
    const caKeyDer = await exportPrivateKeyPkcs8Der(ca.keys.privateKey);
    await atomicWriteFile(ctx.paths.caKey, await vault.seal(caKeyDer));
    await atomicWriteFile(ctx.paths.caCert, ca.cert.certPem, 0o600);

    const server = await issueServerCert({
      ca: { certPem: ca.cert.certPem, privateKey: ca.keys.privateKey },
      algorithm: input.algorithm,
      hosts: [...input.hosts],
      validityDays: input.serverDays,
      now,
      serial: randomSerial(),
    });
    await writeServer(
      ctx,
      vault,
      server.cert.certPem,
      await exportPrivateKeyPkcs8Der(server.keys.privateKey),
    );

    await atomicWriteFile(ctx.paths.registry, JSON.stringify({ v: 1, certs: [] } satisfies Registry));
    const revocations: Revocations = { v: 1, crlNumber: '1', entries: [] };
    await atomicWriteFile(ctx.paths.revocations, JSON.stringify(revocations));
    await publishCrl(ctx, ca.cert.certPem, caKeyDer, input.algorithm, revocations);
    const gateway = { ...DEFAULT_GATEWAY_CONFIG, ...input.gateway };
    await atomicWriteFile(ctx.paths.gateway, JSON.stringify(gateway, null, 2));

    const meta: Meta = {
      v: 1,
      algorithm: input.algorithm,
      vaultBackend: vault.backend,
      createdAt: now.toISOString(),
      caName: input.caName,
      serverHosts: [...input.hosts],
      serverDays: input.serverDays,
    };
    // meta.json is written last: its presence is what makes the CA exist.
    await atomicWriteFile(ctx.paths.meta, JSON.stringify(meta, null, 2));
    await appendAudit(ctx.paths.dir, [
      audit(ctx, 'ca.initialized', {
        subject: `CN=${input.caName}`,
        algorithm: input.algorithm,
        serial: ca.cert.serial,
        notAfter: ca.cert.notAfter.toISOString(),
        vault: vault.backend,
      }),
      audit(ctx, 'server.issued', {
        serial: server.cert.serial,
        hosts: input.hosts,
        notAfter: server.cert.notAfter.toISOString(),
      }),
      audit(ctx, 'crl.published', { crlNumber: '1', entries: 0 }),
    ]);
    return meta;
  });
}

export interface IssueInput {
  readonly name: string;
  readonly durationMs: number;
  readonly outDir: string;
  readonly p12Password?: string;
  readonly force?: boolean;
}

interface PreparedClient {
  readonly issued: Awaited<ReturnType<typeof issueClientCert>>;
  readonly keyDer: Buffer;
  readonly p12: Buffer | undefined;
  readonly now: Date;
}

export async function issueClient(ctx: OpContext, input: IssueInput): Promise<IssueResult> {
  const meta = await requireMeta(ctx.paths);
  const targets = bundleTargets(input.outDir, input.name, input.p12Password !== undefined);
  // The state dir holds sealed keys only; a bundle's plain key never goes there.
  if (targets.dir === ctx.paths.dir || targets.dir.startsWith(ctx.paths.dir + path.sep)) {
    throw new ConsoleError('INVALID_INPUT', `export the bundle outside the state dir ${ctx.paths.dir}`);
  }
  const caCertPem = await readCaCertPem(ctx.paths);
  // Refuse before anything is signed, so a refused issuance changes nothing.
  await checkBundleTargets(targets, caCertPem, input.force === true);
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const caKeyDer = await vault.unseal(await readSealed(ctx.paths.caKey));
  const caKey = await importPrivateKey(caKeyDer, meta.algorithm);

  // Key generation, signing and the .p12 (PBKDF2, the slow part) happen outside the lock, so parallel
  // issuances do not queue behind each other; the lock covers only the registry, files and audit.
  const prepare = async (): Promise<PreparedClient> => {
    const now = ctx.now();
    const issued = await issueClientCert({
      ca: { certPem: caCertPem, privateKey: caKey },
      algorithm: meta.algorithm,
      commonName: input.name,
      notAfter: new Date(now.getTime() + input.durationMs),
      now,
      serial: randomSerial(),
    });
    const keyDer = await exportPrivateKeyPkcs8Der(issued.keys.privateKey);
    const p12 =
      input.p12Password === undefined
        ? undefined
        : await buildPkcs12({
            certPem: issued.cert.certPem,
            privateKeyPkcs8Der: keyDer,
            caCertPem,
            password: input.p12Password,
            friendlyName: input.name,
          });
    return { issued, keyDer, p12, now };
  };
  let prepared = await prepare();

  return withStateLock(ctx.paths.dir, async () => {
    const registry = await readRegistry(ctx.paths);
    const known = new Set(registry.certs.map((c) => c.serial));
    // 16 random bytes practically never collide, but the registry's serials must be unique.
    while (known.has(prepared.issued.cert.serial)) prepared = await prepare();
    const { issued, keyDer, p12, now } = prepared;
    const entry: RegistryEntry = {
      serial: issued.cert.serial,
      name: input.name,
      notBefore: issued.cert.notBefore.toISOString(),
      notAfter: issued.cert.notAfter.toISOString(),
      fingerprintSha256: issued.cert.fingerprintSha256,
      issuedAt: now.toISOString(),
    };
    // The registry is written before the bundle: a certificate that exists anywhere can be revoked by serial.
    registry.certs.push(entry);
    await atomicWriteFile(ctx.paths.registry, JSON.stringify(registry));
    await writeBundle(targets, {
      certPem: issued.cert.certPem,
      keyDer,
      caCertPem,
      ...(p12 ? { p12 } : {}),
      force: input.force === true,
    });
    const gateway = await readGatewayConfig(ctx.paths);
    const files = {
      cert: targets.cert,
      key: targets.key,
      ca: targets.ca,
      ...(targets.p12 ? { p12: targets.p12 } : {}),
    };
    await appendAudit(ctx.paths.dir, [
      audit(ctx, 'client.issued', {
        serial: entry.serial,
        cn: input.name,
        notBefore: entry.notBefore,
        notAfter: entry.notAfter,
        fingerprintSha256: entry.fingerprintSha256,
        files: Object.values(files),
      }),
    ]);
    return {
      serial: entry.serial,
      name: input.name,
      notBefore: entry.notBefore,
      notAfter: entry.notAfter,
      fingerprintSha256: entry.fingerprintSha256,
      files,
      curl: curlLine(files, meta.serverHosts[0] ?? '127.0.0.1', gateway.listen),
    };
  });
}

export async function revokeClient(
  ctx: OpContext,
  input: { serial: string; reason: RevocationReason },
): Promise<RevokeResult> {
  const meta = await requireMeta(ctx.paths);
  const registry = await readRegistry(ctx.paths);
  const entry = registry.certs.find((c) => c.serial === input.serial);
  if (!entry)
    throw new ConsoleError('NOT_FOUND', `no certificate with serial ${input.serial} was issued by this CA`);
  const already = (await readRevocations(ctx.paths)).entries.find((e) => e.serial === input.serial);
  if (already) return alreadyRevoked(entry, already);
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const caKeyDer = await vault.unseal(await readSealed(ctx.paths.caKey));

  return withStateLock(ctx.paths.dir, async () => {
    const revocations = await readRevocations(ctx.paths);
    // Another process may have revoked it while we waited for the lock.
    const raced = revocations.entries.find((e) => e.serial === input.serial);
    if (raced) return alreadyRevoked(entry, raced);
    const revokedAt = new Date(Math.floor(ctx.now().getTime() / 1000) * 1000);
    revocations.entries.push({
      serial: input.serial,
      revokedAt: revokedAt.toISOString(),
      reason: input.reason,
    });
    revocations.crlNumber = (BigInt(revocations.crlNumber) + 1n).toString();
    // The revocation store is the gateway's source: it is durable before the (slower) CRL is signed.
    await atomicWriteFile(ctx.paths.revocations, JSON.stringify(revocations));
    await publishCrl(ctx, await readCaCertPem(ctx.paths), caKeyDer, meta.algorithm, revocations);
    await appendAudit(ctx.paths.dir, [
      audit(ctx, 'client.revoked', {
        serial: input.serial,
        cn: entry.name,
        reason: input.reason,
        crlNumber: revocations.crlNumber,
      }),
      audit(ctx, 'crl.published', { crlNumber: revocations.crlNumber, entries: revocations.entries.length }),
    ]);
    return {
      serial: input.serial,
      name: entry.name,
      revokedAt: revokedAt.toISOString(),
      reason: input.reason,
      alreadyRevoked: false,
    };
  });
}

function alreadyRevoked(entry: RegistryEntry, rev: Revocations['entries'][number]): RevokeResult {
  return {
    serial: entry.serial,
    name: entry.name,
    revokedAt: rev.revokedAt,
    reason: rev.reason,
    alreadyRevoked: true,
  };
}

export async function rotateServer(
  ctx: OpContext,
  input: { days?: number },
): Promise<{ serial: string; notAfter: string }> {
  const meta = await requireMeta(ctx.paths);
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const caKeyDer = await vault.unseal(await readSealed(ctx.paths.caKey));
  const caKey = await importPrivateKey(caKeyDer, meta.algorithm);
  const caCertPem = await readCaCertPem(ctx.paths);
  const days = input.days ?? meta.serverDays;
  return withStateLock(ctx.paths.dir, async () => {
    const previous = await readServerFile(ctx.paths);
    const server = await issueServerCert({
      ca: { certPem: caCertPem, privateKey: caKey },
      algorithm: meta.algorithm,
      hosts: meta.serverHosts,
      validityDays: days,
      now: ctx.now(),
      serial: randomSerial(),
    });
    await writeServer(
      ctx,
      vault,
      server.cert.certPem,
      await exportPrivateKeyPkcs8Der(server.keys.privateKey),
    );
    await appendAudit(ctx.paths.dir, [
      audit(ctx, 'server.rotated', {
        serial: server.cert.serial,
        hosts: meta.serverHosts,
        notAfter: server.cert.notAfter.toISOString(),
        previousSerial: summarizeCert(previous.certPem).serial,
      }),
    ]);
    return { serial: server.cert.serial, notAfter: server.cert.notAfter.toISOString() };
  });
}

async function writeServer(ctx: OpContext, vault: Vault, certPem: string, keyDer: Buffer): Promise<void> {
  const sealedKey = (await vault.seal(keyDer)).toString('base64');
  await atomicWriteFile(ctx.paths.server, JSON.stringify({ v: 1, certPem, sealedKey }));
  await atomicWriteFile(ctx.paths.serverCert, certPem, 0o600);
}

/**
 * Re-signs the CRL with a new number and fresh dates. Verifiers such as nginx refuse every client
 * once a CRL is past its nextUpdate, so it must be republished even when nothing was revoked.
 */
export async function refreshCrl(
  ctx: OpContext,
): Promise<{ crlNumber: string; nextUpdate: string; entries: number }> {
  const meta = await requireMeta(ctx.paths);
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const caKeyDer = await vault.unseal(await readSealed(ctx.paths.caKey));
  return withStateLock(ctx.paths.dir, async () => {
    const revocations = await readRevocations(ctx.paths);
    revocations.crlNumber = (BigInt(revocations.crlNumber) + 1n).toString();
    await atomicWriteFile(ctx.paths.revocations, JSON.stringify(revocations));
    const nextUpdate = await publishCrl(
      ctx,
      await readCaCertPem(ctx.paths),
      caKeyDer,
      meta.algorithm,
      revocations,
    );
    const result = {
      crlNumber: revocations.crlNumber,
      nextUpdate: nextUpdate.toISOString(),
      entries: revocations.entries.length,
    };
    await appendAudit(ctx.paths.dir, [audit(ctx, 'crl.published', result)]);
    return result;
  });
}

async function publishCrl(
  ctx: OpContext,
  caCertPem: string,
  caKeyDer: Buffer,
  algorithm: Algorithm,
  revocations: Revocations,
): Promise<Date> {
  const thisUpdate = ctx.now();
  const der = buildCrl({
    caCertPem,
    caPrivateKeyPkcs8Der: caKeyDer,
    algorithm,
    entries: revocations.entries.map((e) => ({
      serial: e.serial,
      revokedAt: new Date(e.revokedAt),
      reason: e.reason,
    })),
    crlNumber: BigInt(revocations.crlNumber),
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + CRL_VALIDITY_MS),
  });
  await atomicWriteFile(ctx.paths.crl, crlDerToPem(der), 0o600);
  return new Date(thisUpdate.getTime() + CRL_VALIDITY_MS);
}

function audit(ctx: OpContext, type: string, details: Record<string, unknown>): AuditEntryInput {
  return { type, actor: { kind: 'operator', name: ctx.operator }, details };
}

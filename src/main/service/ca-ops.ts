import os from 'node:os';
import type { DatabaseSync } from 'node:sqlite';
import { ConsoleError } from '../errors';
import { appendAudit, type AuditEntryInput, type AuditSigner } from '../audit';
import { StateDb } from '../db';
import {
  buildCrl,
  buildPkcs12,
  createCa,
  exportPrivateKeyPkcs8Der,
  importPrivateKey,
  issueClientCert,
  issueServerCert,
  randomSerial,
  summarizeCert,
  type Algorithm,
} from '../pki';
import { isProcessDead, selfIdentity } from '../store/proc';
import type { VaultResolver } from './vaults';
import {
  certExists,
  deletePendingBundle,
  insertCa,
  insertCert,
  insertMeta,
  insertPendingBundle,
  markPendingCommitted,
  insertRevocation,
  insertServer,
  readCa,
  readCert,
  readCrlNumber,
  readCurrentServer,
  readGatewayConfig,
  readMeta,
  readPendingBundles,
  readRevocations,
  writeCrl,
  writeSetting,
  type CertRow,
  type Meta,
} from './state';
import {
  bundleComplete,
  bundleTargets,
  checkBundleTargets,
  curlLine,
  discardStaged,
  placeBundle,
  planBundle,
  removeIfOurs,
  stageBundle,
} from './bundle';
import { caAuditSigner } from './signer';
import { DAY_MS, type RevocationReason } from '../../shared/validation';
import type { GatewayConfig, IssueResult, RevokeResult, VaultBackend } from '../../shared/model';
import { DEFAULT_GATEWAY_CONFIG } from '../../shared/model';

/** The CA operations on a state dir: each is one database transaction with its audit records. */
export interface OpContext {
  readonly stateDir: string;
  readonly vaults: VaultResolver;
  /** Who acts, for the audit log. */
  readonly operator: string;
  readonly now: () => Date;
  /** The state dir's database, opened on first use; NOT_INITIALIZED when there is none. */
  readonly state: () => StateDb;
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
/** A staged bundle whose issuing process is gone for this long is abandoned even if its pid lives on. */
const PENDING_STALE_MS = 10 * 60_000;

/** The CA's key and certificate, unsealed for one operation. */
export interface UnsealedCa {
  readonly meta: Meta;
  readonly certPem: string;
  readonly keyDer: Buffer;
  readonly signer: AuditSigner;
}

export async function unsealCa(ctx: OpContext): Promise<UnsealedCa> {
  const state = ctx.state();
  const { meta, ca } = state.read(() => ({ meta: readMeta(state.db), ca: readCa(state.db) }));
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const keyDer = await vault.unseal(ca.sealedKey, `the CA key in ${state.file}`);
  return { meta, certPem: ca.certPem, keyDer, signer: caAuditSigner(keyDer, ca.certPem) };
}

function requireValidCa(ca: UnsealedCa, now: Date): void {
  const { notAfter } = summarizeCert(ca.certPem);
  if (notAfter.getTime() <= now.getTime()) {
    throw new ConsoleError(
      'CA_EXPIRED',
      `the CA certificate expired on ${notAfter.toISOString()}; it can no longer sign (a CA rollover is needed)`,
    );
  }
}

export async function initCa(ctx: OpContext, input: InitInput): Promise<StateDb> {
  const vault = await ctx.vaults.create(input.vault);
  const now = ctx.now();
  const ca = await createCa({
    algorithm: input.algorithm,
    commonName: input.caName,
    now,
    validityDays: CA_DAYS,
    serial: randomSerial(),
  });
  const caKeyDer = await exportPrivateKeyPkcs8Der(ca.keys.privateKey);
  const server = await issueServerCert({
    ca: { certPem: ca.cert.certPem, privateKey: ca.keys.privateKey },
    algorithm: input.algorithm,
    hosts: [...input.hosts],
    validityDays: input.serverDays,
    now,
    serial: randomSerial(),
  });
  const sealedCaKey = await vault.seal(caKeyDer);
  const sealedServerKey = await vault.seal(await exportPrivateKeyPkcs8Der(server.keys.privateKey));
  const signer = caAuditSigner(caKeyDer, ca.cert.certPem);
  const unsealed: UnsealedCa = {
    meta: {
      algorithm: input.algorithm,
      vaultBackend: vault.backend,
      createdAt: now.toISOString(),
      caName: input.caName,
      serverHosts: [...input.hosts],
      serverDays: input.serverDays,
    },
    certPem: ca.cert.certPem,
    keyDer: caKeyDer,
    signer,
  };
  const { state } = StateDb.create(ctx.stateDir, (db) => {
    insertMeta(db, unsealed.meta);
    insertCa(db, ca.cert.certPem, sealedCaKey);
    insertServer(
      db,
      {
        serial: server.cert.serial,
        certPem: server.cert.certPem,
        sealedKey: sealedServerKey,
        notAfter: server.cert.notAfter.toISOString(),
      },
      now.toISOString(),
    );
    writeSetting(db, 'gateway', { ...DEFAULT_GATEWAY_CONFIG, ...input.gateway });
    const crl = publishCrl(db, unsealed, now);
    appendAudit(
      db,
      [
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
        audit(ctx, 'crl.published', crl),
      ],
      { signer },
    );
  });
  return state;
}

export interface IssueInput {
  readonly name: string;
  readonly durationMs: number;
  readonly outDir: string;
  readonly p12Password?: string;
  readonly force?: boolean;
}

export async function issueClient(ctx: OpContext, input: IssueInput): Promise<IssueResult> {
  const state = ctx.state();
  const targets = await bundleTargets(
    input.outDir,
    input.name,
    input.p12Password !== undefined,
    ctx.stateDir,
  );
  const ca = await unsealCa(ctx);
  requireValidCa(ca, ctx.now());
  // Refuse before anything is signed, so a refused issuance changes nothing.
  await checkBundleTargets(targets, ca.certPem, input.force === true);
  await reconcilePending(ctx, ca);
  const caKey = await importPrivateKey(ca.keyDer, ca.meta.algorithm);

  // Key generation, signing, the .p12 (PBKDF2) and the bundle files happen before the transaction,
  // so it holds the write lock only for a few inserts.
  const now = ctx.now();
  const sign = () =>
    issueClientCert({
      ca: { certPem: ca.certPem, privateKey: caKey },
      algorithm: ca.meta.algorithm,
      commonName: input.name,
      notAfter: new Date(now.getTime() + input.durationMs),
      now,
      serial: randomSerial(),
    });
  let issued = await sign();
  // 16 random bytes practically never collide, but serials must be unique.
  while (state.read(() => certExists(state.db, issued.cert.serial))) issued = await sign();
  const keyDer = await exportPrivateKeyPkcs8Der(issued.keys.privateKey);
  const p12 =
    input.p12Password === undefined
      ? undefined
      : await buildPkcs12({
          certPem: issued.cert.certPem,
          privateKeyPkcs8Der: keyDer,
          caCertPem: ca.certPem,
          password: input.p12Password,
          friendlyName: input.name,
        });
  const serial = issued.cert.serial;
  const staged = planBundle(targets, {
    certPem: issued.cert.certPem,
    keyDer,
    caCertPem: ca.certPem,
    ...(p12 ? { p12 } : {}),
  });
  const files = {
    cert: targets.cert,
    key: targets.key,
    ca: targets.ca,
    ...(targets.p12 ? { p12: targets.p12 } : {}),
  };
  // Recorded before a byte is written: a process killed from here on leaves nothing the next
  // operation does not find and finish or undo.
  state.tx(() =>
    insertPendingBundle(state.db, {
      serial,
      files: staged.map((f) => ({ staged: f.staged, final: f.final, sha256: f.sha256 })),
      owner: selfIdentity(),
      createdAt: now.toISOString(),
    }),
  );
  let gateway: GatewayConfig;
  try {
    await stageBundle(targets.dir, staged);
    gateway = state.tx(() => {
      const [record] = appendAudit(
        state.db,
        [
          audit(
            ctx,
            'client.issued',
            {
              notBefore: issued.cert.notBefore.toISOString(),
              notAfter: issued.cert.notAfter.toISOString(),
              fingerprintSha256: issued.cert.fingerprintSha256,
              files: Object.values(files),
            },
            { cn: input.name, serial },
          ),
        ],
        { signer: ca.signer },
      );
      insertCert(state.db, {
        serial,
        name: input.name,
        notBefore: issued.cert.notBefore.toISOString(),
        notAfter: issued.cert.notAfter.toISOString(),
        fingerprintSha256: issued.cert.fingerprintSha256,
        issuedAt: now.toISOString(),
        auditSeq: record?.seq ?? 0,
      });
      markPendingCommitted(state.db, serial);
      return readGatewayConfig(state.db);
    });
  } catch (e) {
    await discardStaged(staged);
    try {
      state.tx(() => deletePendingBundle(state.db, serial));
    } catch {
      // Left for the next operation's reconcile: the owner (us) will be gone by then.
    }
    throw e;
  }
  try {
    await placeBundle(staged, input.force === true);
  } catch (e) {
    // Nobody can use a certificate whose key was never delivered: revoke it, and say so.
    const why = e instanceof Error ? e.message : String(e);
    await abandonIssuance(ctx, ca, serial, input.name, why);
    throw new ConsoleError(
      e instanceof ConsoleError ? e.code : 'IO',
      `${why}; certificate ${serial} was recorded but its bundle could not be written, so it was revoked (cessationOfOperation)`,
    );
  }
  state.tx(() => deletePendingBundle(state.db, serial));
  return {
    serial,
    name: input.name,
    notBefore: issued.cert.notBefore.toISOString(),
    notAfter: issued.cert.notAfter.toISOString(),
    fingerprintSha256: issued.cert.fingerprintSha256,
    files,
    curl: curlLine(files, ca.meta.serverHosts[0] ?? '127.0.0.1', gateway.listen),
  };
}

/** Revokes a certificate whose bundle never reached its folder, and removes what was staged. */
async function abandonIssuance(
  ctx: OpContext,
  ca: UnsealedCa,
  serial: string,
  name: string,
  why: string,
): Promise<void> {
  const state = ctx.state();
  const pending = state.read(() => readPendingBundles(state.db)).find((p) => p.serial === serial);
  state.tx(() => {
    if (!readCert(state.db, serial)?.revocation) {
      revokeInTx(state.db, ctx, ca, { serial, name, reason: 'cessationOfOperation' }, { bundleFailed: why });
    }
    deletePendingBundle(state.db, serial);
  });
  if (pending) {
    await removeIfOurs(pending.files);
    await discardStaged(pending.files);
  }
}

/**
 * Finishes what a killed issuance left: a bundle that reached its folder is kept; one that did not is
 * removed and its certificate revoked, so every active certificate is one somebody holds.
 */
export async function reconcilePending(ctx: OpContext, ca: UnsealedCa): Promise<void> {
  const state = ctx.state();
  const nowMs = ctx.now().getTime();
  for (const p of state.read(() => readPendingBundles(state.db))) {
    const stale = nowMs - Date.parse(p.createdAt) > PENDING_STALE_MS;
    if (!stale && !isProcessDead(p.owner)) continue; // still being written by a live process
    if (!p.committed) {
      // Killed before its certificate existed: only staged files can be there.
      await discardStaged(p.files);
      state.tx(() => deletePendingBundle(state.db, p.serial));
      continue;
    }
    if (await bundleComplete(p.files)) {
      state.tx(() => deletePendingBundle(state.db, p.serial));
      await discardStaged(p.files);
      continue;
    }
    const name = state.read(() => readCert(state.db, p.serial)?.name ?? '');
    await abandonIssuance(ctx, ca, p.serial, name, 'the issuing process ended before the bundle was written');
  }
}

export async function revokeClient(
  ctx: OpContext,
  input: { serial: string; reason: RevocationReason },
): Promise<RevokeResult> {
  const state = ctx.state();
  const known = state.read(() => readCert(state.db, input.serial));
  if (!known)
    throw new ConsoleError('NOT_FOUND', `no certificate with serial ${input.serial} was issued by this CA`);
  if (known.revocation) return alreadyRevoked(known, known.revocation);
  const ca = await unsealCa(ctx);
  requireValidCa(ca, ctx.now());
  return state.tx(() => {
    // Another process may have revoked it meanwhile; the transaction sees the latest commit.
    const entry = readCert(state.db, input.serial);
    if (!entry) throw new ConsoleError('NOT_FOUND', `no certificate with serial ${input.serial}`);
    if (entry.revocation) return alreadyRevoked(entry, entry.revocation);
    const revokedAt = revokeInTx(state.db, ctx, ca, {
      serial: input.serial,
      name: entry.name,
      reason: input.reason,
    });
    return { serial: input.serial, name: entry.name, revokedAt, reason: input.reason, alreadyRevoked: false };
  });
}

/** The revocation, the CRL that includes it and their audit records: one transaction's worth. */
function revokeInTx(
  db: DatabaseSync,
  ctx: OpContext,
  ca: UnsealedCa,
  r: { serial: string; name: string; reason: RevocationReason },
  extra: Record<string, unknown> = {},
): string {
  const now = ctx.now();
  const revokedAt = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
  const [record] = appendAudit(db, [
    audit(ctx, 'client.revoked', { reason: r.reason, ...extra }, { cn: r.name, serial: r.serial }),
  ]);
  insertRevocation(db, { serial: r.serial, revokedAt, reason: r.reason, auditSeq: record?.seq ?? 0 });
  const crl = publishCrl(db, ca, now);
  appendAudit(db, [audit(ctx, 'crl.published', crl)], { signer: ca.signer });
  return revokedAt;
}

function alreadyRevoked(entry: CertRow, rev: { revokedAt: string; reason: RevocationReason }): RevokeResult {
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
  const state = ctx.state();
  const ca = await unsealCa(ctx);
  const now = ctx.now();
  requireValidCa(ca, now);
  const caKey = await importPrivateKey(ca.keyDer, ca.meta.algorithm);
  const days = input.days ?? ca.meta.serverDays;
  const server = await issueServerCert({
    ca: { certPem: ca.certPem, privateKey: caKey },
    algorithm: ca.meta.algorithm,
    hosts: ca.meta.serverHosts,
    validityDays: days,
    now,
    serial: randomSerial(),
  });
  const vault = await ctx.vaults.open(ca.meta.vaultBackend);
  const sealedKey = await vault.seal(await exportPrivateKeyPkcs8Der(server.keys.privateKey));
  return state.tx(() => {
    const previous = readCurrentServer(state.db);
    insertServer(
      state.db,
      {
        serial: server.cert.serial,
        certPem: server.cert.certPem,
        sealedKey,
        notAfter: server.cert.notAfter.toISOString(),
      },
      now.toISOString(),
    );
    appendAudit(
      state.db,
      [
        audit(ctx, 'server.rotated', {
          serial: server.cert.serial,
          hosts: ca.meta.serverHosts,
          notAfter: server.cert.notAfter.toISOString(),
          previousSerial: previous.serial,
        }),
      ],
      { signer: ca.signer },
    );
    return { serial: server.cert.serial, notAfter: server.cert.notAfter.toISOString() };
  });
}

/**
 * Re-signs the CRL with a new number and fresh dates. Verifiers such as nginx refuse every client
 * once a CRL is past its nextUpdate, so it must be republished even when nothing was revoked.
 */
export async function refreshCrl(
  ctx: OpContext,
): Promise<{ crlNumber: string; nextUpdate: string; entries: number }> {
  const state = ctx.state();
  const ca = await unsealCa(ctx);
  requireValidCa(ca, ctx.now());
  await reconcilePending(ctx, ca);
  return state.tx(() => {
    const crl = publishCrl(state.db, ca, ctx.now());
    appendAudit(state.db, [audit(ctx, 'crl.published', crl)], { signer: ca.signer });
    return crl;
  });
}

/** Signs the CRL of every revocation in the table, with the next number, and stores it (in the caller's transaction). */
function publishCrl(
  db: DatabaseSync,
  ca: UnsealedCa,
  now: Date,
): { crlNumber: string; nextUpdate: string; entries: number } {
  const number = readCrlNumber(db) + 1;
  const entries = readRevocations(db);
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const nextUpdate = new Date(thisUpdate.getTime() + CRL_VALIDITY_MS);
  const der = buildCrl({
    caCertPem: ca.certPem,
    caPrivateKeyPkcs8Der: ca.keyDer,
    algorithm: ca.meta.algorithm,
    entries: entries.map((e) => ({ serial: e.serial, revokedAt: new Date(e.revokedAt), reason: e.reason })),
    crlNumber: BigInt(number),
    thisUpdate,
    nextUpdate,
  });
  writeCrl(db, {
    number,
    thisUpdate: thisUpdate.toISOString(),
    nextUpdate: nextUpdate.toISOString(),
    entries: entries.length,
    der,
  });
  return { crlNumber: String(number), nextUpdate: nextUpdate.toISOString(), entries: entries.length };
}

export function audit(
  ctx: OpContext,
  type: string,
  details: Record<string, unknown>,
  about: { cn?: string; serial?: string } = {},
): AuditEntryInput {
  return {
    type,
    actor: { kind: 'operator', name: ctx.operator },
    cn: about.cn ?? null,
    serial: about.serial ?? null,
    details,
    time: ctx.now(),
  };
}

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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
  issueClientCertForKey,
  issueServerCert,
  randomSerial,
  summarizeCert,
  type Algorithm,
  type CheckedCsr,
  type IssuedCert,
  type SigningCa,
} from '../pki';
import { isProcessDead, selfIdentity } from '../store/proc';
import type { Vault } from '../vault';
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
  readActiveCas,
  readAuditCa,
  readCa,
  readCaById,
  readCas,
  readCert,
  readCertsNamed,
  groupsOf,
  markSuperseded,
  readCrlNumber,
  readCurrentServer,
  readGatewayConfig,
  readDistributionSettings,
  distributionUrls,
  readMeta,
  readPendingBundles,
  readRevocations,
  writeCrl,
  writeSetting,
  type CaRow,
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
  onlyOurCas,
  removeIfOurs,
  stageBundle,
  type BundleTargets,
} from './bundle';
import { caAuditSigner } from './signer';
import { DAY_MS, formatDuration, type RevocationReason } from '../../shared/validation';
import { DEFAULT_RENEW_MAX_MS } from '../../shared/contract';
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

/** A CA's key and certificate, unsealed for one operation. */
export interface UnsealedCa {
  /** Which of our CAs (schema v3): 1 is the one `init` made, a rollover adds the next. */
  readonly id: number;
  readonly name: string;
  readonly meta: Meta;
  readonly certPem: string;
  readonly keyDer: Buffer;
  /** Signs audit checkpoints: always the first CA's key, so the log verifies with one certificate. */
  readonly signer: AuditSigner;
}

/** The issuing CA (the newest not retired): during a CA rollover, the new one. */
export async function unsealCa(ctx: OpContext): Promise<UnsealedCa> {
  const state = ctx.state();
  return unsealRow(
    ctx,
    state.read(() => readCa(state.db)),
  );
}

/** Any of our CAs by id (the CRL of an old CA's revocation is signed by that CA). */
export async function unsealCaById(ctx: OpContext, id: number): Promise<UnsealedCa> {
  const state = ctx.state();
  return unsealRow(
    ctx,
    state.read(() => readCaById(state.db, id)),
  );
}

/** Every CA not retired, oldest first: one while no rollover runs, the old and the new during one. */
export async function unsealActiveCas(ctx: OpContext): Promise<UnsealedCa[]> {
  const state = ctx.state();
  const rows = state.read(() => readActiveCas(state.db));
  const out: UnsealedCa[] = [];
  for (const row of rows) out.push(await unsealRow(ctx, row));
  return out;
}

async function unsealRow(ctx: OpContext, ca: CaRow): Promise<UnsealedCa> {
  const state = ctx.state();
  const { meta, auditCa } = state.read(() => ({ meta: readMeta(state.db), auditCa: readAuditCa(state.db) }));
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const keyDer = await vault.unseal(ca.sealedKey, `the CA key in ${state.file}`);
  const auditKeyDer =
    auditCa.id === ca.id ? keyDer : await vault.unseal(auditCa.sealedKey, `the CA key in ${state.file}`);
  return {
    id: ca.id,
    name: ca.name,
    meta,
    certPem: ca.certPem,
    keyDer,
    signer: caAuditSigner(auditKeyDer, auditCa.certPem),
  };
}

/**
 * The PEM a client's ca.crt holds: every CA the gateway trusts (both roots while a rollover runs),
 * the issuing CA first.
 */
export function trustBundle(db: DatabaseSync): string {
  return readActiveCas(db)
    .reverse()
    .map((c) => c.certPem.trim() + '\n')
    .join('');
}

/** Every certificate of our CAs, retired ones included: a ca.crt holding only these is ours to update. */
export function allCaPems(db: DatabaseSync): string[] {
  return readCas(db).map((c) => c.certPem);
}

/** The CA as a signer of leaves, naming the CRL and OCSP URLs the operator set (issue 9). */
export function signingCa(state: StateDb, certPem: string, privateKey: CryptoKey, caId: number): SigningCa {
  const urls = distributionUrls(
    state.read(() => readDistributionSettings(state.db)),
    caId,
  );
  return { certPem, privateKey, ...(urls ? { distribution: urls } : {}) };
}

export function requireValidCa(ca: UnsealedCa, now: Date): void {
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
  return createStateAroundCa(ctx, vault, {
    certPem: ca.cert.certPem,
    keyDer: await exportPrivateKeyPkcs8Der(ca.keys.privateKey),
    privateKey: ca.keys.privateKey,
    algorithm: input.algorithm,
    caName: input.caName,
    hosts: input.hosts,
    serverDays: input.serverDays,
    gateway: { ...DEFAULT_GATEWAY_CONFIG, ...input.gateway },
    record: audit(ctx, 'ca.initialized', {
      subject: `CN=${input.caName}`,
      algorithm: input.algorithm,
      serial: ca.cert.serial,
      notAfter: ca.cert.notAfter.toISOString(),
      vault: vault.backend,
    }),
  });
}

/**
 * A new state dir around a CA (made by `init`, or restored from a backup): a server certificate,
 * the keys sealed by `vault`, the gateway settings and a first CRL, in one transaction with the
 * CA's own record (`record`), `server.issued` and `crl.published`.
 */
export async function createStateAroundCa(
  ctx: OpContext,
  vault: Vault,
  ca: {
    readonly certPem: string;
    readonly keyDer: Buffer;
    readonly privateKey: CryptoKey;
    readonly algorithm: Algorithm;
    readonly caName: string;
    readonly hosts: readonly string[];
    readonly serverDays: number;
    readonly gateway: GatewayConfig;
    readonly record: AuditEntryInput;
  },
): Promise<StateDb> {
  const now = ctx.now();
  const server = await issueServerCert({
    ca: { certPem: ca.certPem, privateKey: ca.privateKey },
    algorithm: ca.algorithm,
    hosts: [...ca.hosts],
    validityDays: ca.serverDays,
    now,
    serial: randomSerial(),
  });
  const sealedCaKey = await vault.seal(ca.keyDer);
  const sealedServerKey = await vault.seal(await exportPrivateKeyPkcs8Der(server.keys.privateKey));
  const signer = caAuditSigner(ca.keyDer, ca.certPem);
  const unsealed: UnsealedCa = {
    id: 1,
    name: ca.caName,
    meta: {
      algorithm: ca.algorithm,
      vaultBackend: vault.backend,
      createdAt: now.toISOString(),
      caName: ca.caName,
      serverHosts: [...ca.hosts],
      serverDays: ca.serverDays,
    },
    certPem: ca.certPem,
    keyDer: ca.keyDer,
    signer,
  };
  const { state } = StateDb.create(ctx.stateDir, (db) => {
    insertMeta(db, unsealed.meta);
    const caId = insertCa(db, {
      name: ca.caName,
      certPem: ca.certPem,
      sealedKey: sealedCaKey,
      createdAt: now.toISOString(),
    });
    if (caId !== unsealed.id) throw new ConsoleError('INTERNAL', `a new state's first CA got id ${caId}`);
    insertServer(
      db,
      {
        serial: server.cert.serial,
        certPem: server.cert.certPem,
        sealedKey: sealedServerKey,
        notAfter: server.cert.notAfter.toISOString(),
        issuerCa: caId,
      },
      now.toISOString(),
    );
    writeSetting(db, 'gateway', ca.gateway);
    const crl = publishCrl(db, unsealed, now);
    appendAudit(
      db,
      [
        ca.record,
        audit(ctx, 'server.issued', {
          serial: server.cert.serial,
          hosts: ca.hosts,
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
  /** OUs of the certificate: the groups access rules match (src/shared/policy.ts). */
  readonly groups?: readonly string[];
  /** Whether its holder may renew it over the gateway (renewal.ts); default true. */
  readonly renewable?: boolean;
  /** Maximum total lifetime of its renewal chain from now; default DEFAULT_RENEW_MAX_MS. */
  readonly renewMaxMs?: number;
  /**
   * A new certificate for a name that exists: its files replace that name's bundle without `force`
   * (when the NAME.crt there is one of the name's), its earlier valid certificates become superseded,
   * and it takes their groups unless `groups` is given.
   */
  readonly reissue?: boolean;
  /** With `reissue`: revoke the earlier valid certificates (superseded) in the same transaction. */
  readonly revokePrevious?: boolean;
}

/** A signed CSR's bundle: the certificate and ca.crt; the key stays where it was made. */
export interface CsrIssueResult extends Omit<IssueResult, 'files'> {
  readonly files: { readonly cert: string; readonly ca: string };
}

export async function issueClient(ctx: OpContext, input: IssueInput): Promise<IssueResult> {
  const result = await issueBundle(ctx, input);
  const { key } = result.files;
  if (key === undefined) throw new ConsoleError('INTERNAL', 'the bundle was written without its key');
  return { ...result, files: { ...result.files, key } };
}

/**
 * Signs the key of a checked PKCS#10 request (parseCsr): the subject is our validated name, the
 * extensions are ours, and the bundle holds no key and no .p12. Audited like any issuance.
 */
export async function issueClientFromCsr(
  ctx: OpContext,
  input: Omit<IssueInput, 'p12Password'> & { readonly csr: CheckedCsr },
): Promise<CsrIssueResult> {
  const result = await issueBundle(ctx, input);
  return { ...result, files: { cert: result.files.cert, ca: result.files.ca } };
}

type BundleResult = Omit<IssueResult, 'files'> & {
  readonly files: { cert: string; key?: string; ca: string; p12?: string };
};

async function issueBundle(
  ctx: OpContext,
  input: IssueInput & { readonly csr?: CheckedCsr },
): Promise<BundleResult> {
  const state = ctx.state();
  const csr = input.csr;
  if (csr && input.p12Password !== undefined) {
    throw new ConsoleError(
      'INVALID_INPUT',
      'a .p12 needs the private key, which stays with the CSR; drop the p12 password',
    );
  }
  const renewMaxMs = issuancePolicy(input);
  // A re-issue replaces certificates of a name that exists; the name's groups carry over.
  const previous =
    input.reissue === true ? state.read(() => previousOf(state.db, input.name, ctx.now())) : null;
  const groups = input.groups ?? previous?.groups ?? [];
  const targets = await bundleTargets(
    input.outDir,
    input.name,
    input.p12Password !== undefined,
    ctx.stateDir,
    csr === undefined,
  );
  const ca = await unsealCa(ctx);
  requireValidCa(ca, ctx.now());
  const { trustPem, ourCas } = state.read(() => ({
    trustPem: trustBundle(state.db),
    ourCas: allCaPems(state.db),
  }));
  // Refuse before anything is signed, so a refused issuance changes nothing.
  const overwrite =
    input.force === true || (previous !== null && (await ownsBundle(state, targets, input.name)));
  await checkBundleTargets(targets, trustPem, overwrite, ourCas);
  if (overwrite && input.force !== true) await checkSameCa(targets, trustPem, ourCas);
  await reconcilePending(ctx, ca);
  const caKey = await importPrivateKey(ca.keyDer, ca.meta.algorithm);
  // Revoking what a re-issue replaces re-signs the CRL of each one's CA (the old one during a rollover).
  const cas = await unsealedFor(
    ctx,
    ca,
    input.revokePrevious === true && previous ? previous.active.map((c) => c.issuerCa) : [],
  );

  // Key generation, signing, the .p12 (PBKDF2) and the bundle files happen before the transaction,
  // so it holds the write lock only for a few inserts.
  const now = ctx.now();
  const common = {
    ca: signingCa(ctx.state(), ca.certPem, caKey, ca.id),
    commonName: input.name,
    groups,
    notAfter: new Date(now.getTime() + input.durationMs),
    now,
  };
  // With a CSR only its public key is taken; otherwise a fresh key pair of the CA's algorithm.
  const sign = async (): Promise<{ cert: IssuedCert; keyDer?: Buffer }> => {
    if (csr)
      return { cert: issueClientCertForKey({ ...common, spkiDer: csr.spkiDer, serial: randomSerial() }) };
    const made = await issueClientCert({ ...common, algorithm: ca.meta.algorithm, serial: randomSerial() });
    return { cert: made.cert, keyDer: await exportPrivateKeyPkcs8Der(made.keys.privateKey) };
  };
  let issued = await sign();
  // 16 random bytes practically never collide, but serials must be unique.
  while (state.read(() => certExists(state.db, issued.cert.serial))) issued = await sign();
  const keyDer = issued.keyDer;
  const p12 =
    input.p12Password === undefined || keyDer === undefined
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
    ...(keyDer ? { keyDer } : {}),
    caCertPem: trustPem,
    ...(p12 ? { p12 } : {}),
  });
  const files = {
    cert: targets.cert,
    ...(targets.key ? { key: targets.key } : {}),
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
  let replaced: { serial: string; revoked: boolean }[] = [];
  try {
    await stageBundle(targets.dir, staged);
    gateway = state.tx(() => {
      // Read again in the transaction: what another process revoked meanwhile is not revoked twice.
      const earlier = previous ? previousOf(state.db, input.name, now).active : [];
      const heads = earlier.filter((c) => c.supersededBy === null);
      replaced = earlier.map((c) => ({ serial: c.serial, revoked: input.revokePrevious === true }));
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
              ...(groups.length > 0 ? { groups } : {}),
              renewal:
                renewMaxMs === null
                  ? { renewable: false }
                  : { renewable: true, until: new Date(now.getTime() + renewMaxMs).toISOString() },
              ...(previous ? { reissue: { replaced } } : {}),
              // What the requester asked for is kept for the record; none of it was used.
              ...(csr ? { csr: { keyType: csr.keyType, requestedSubject: csr.requestedSubject } } : {}),
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
        certPem: issued.cert.certPem,
        groups,
        renewable: renewMaxMs !== null,
        renewUntil: renewMaxMs === null ? null : new Date(now.getTime() + renewMaxMs).toISOString(),
        supersedes: heads.at(-1)?.serial ?? null,
        issuerCa: ca.id,
      });
      // Ones renewed already keep the link to their successor; the heads of their chains end here.
      for (const c of heads) markSuperseded(state.db, c.serial, serial);
      if (input.revokePrevious === true && earlier.length > 0) {
        revokeAllInTx(state.db, ctx, cas, earlier, 'superseded', { supersededBy: serial });
      }
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
    await placeBundle(staged, overwrite, ourCas);
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
    curl: curlLine(
      // A CSR's key is wherever its owner keeps it; the line names it by the usual file name.
      { ...files, key: files.key ?? `${path.basename(input.name)}.key` },
      ca.meta.serverHosts[0] ?? '127.0.0.1',
      gateway.listen,
    ),
    ...(previous ? { replaced } : {}),
  };
}

/** The chain limit an issuance starts (null: not renewable); refuses options that contradict. */
function issuancePolicy(input: IssueInput): number | null {
  if (input.revokePrevious === true && input.reissue !== true) {
    throw new ConsoleError(
      'INVALID_INPUT',
      'revoking the previous certificates goes with a re-issue (--reissue)',
    );
  }
  if (input.renewable === false) {
    if (input.renewMaxMs !== undefined) {
      throw new ConsoleError(
        'INVALID_INPUT',
        'a certificate that is not renewable has no maximum renewal lifetime (drop --renew-max)',
      );
    }
    return null;
  }
  const max = input.renewMaxMs ?? Math.max(DEFAULT_RENEW_MAX_MS, input.durationMs);
  if (max < input.durationMs) {
    throw new ConsoleError(
      'INVALID_INPUT',
      `the maximum renewal lifetime (${formatDuration(max)}) is shorter than the certificate itself (${formatDuration(input.durationMs)})`,
    );
  }
  return max;
}

/** A re-issue's name: its groups (of the newest certificate) and its certificates still valid now. */
function previousOf(
  db: DatabaseSync,
  name: string,
  now: Date,
): { groups: readonly string[]; active: CertRow[] } {
  const all = readCertsNamed(db, name);
  const newest = all.at(-1);
  if (!newest) {
    throw new ConsoleError('NOT_FOUND', `no certificate for ${name} was issued; issue it without --reissue`);
  }
  const nowMs = now.getTime();
  return {
    groups: groupsOf(db, newest),
    active: all.filter((c) => !c.revocation && Date.parse(c.notAfter) > nowMs),
  };
}

/**
 * Whether the NAME.crt in the folder is one of this name's certificates (a re-issue may replace that
 * bundle's files without --force); a file of anyone else is never replaced without it.
 */
async function ownsBundle(state: StateDb, targets: BundleTargets, name: string): Promise<boolean> {
  const st = await fs.lstat(targets.cert).catch(() => null);
  // A certificate is a few KB; anything else there is not a bundle of ours.
  if (!st?.isFile() || st.size > 64 * 1024) return false;
  const pem = await fs.readFile(targets.cert, 'utf8').catch(() => null);
  if (pem === null) return false;
  let serial: string;
  try {
    serial = summarizeCert(pem).serial;
  } catch {
    return false;
  }
  return state.read(() => readCert(state.db, serial)?.name === name);
}

/** A re-issue replaces the name's files, but never a ca.crt of another CA in the same folder. */
async function checkSameCa(
  targets: BundleTargets,
  caCertPem: string,
  ourCas: readonly string[],
): Promise<void> {
  const ca = await fs.readFile(targets.ca, 'utf8').catch(() => null);
  if (ca !== null && ca !== caCertPem && !onlyOurCas(ca, ourCas)) {
    throw new ConsoleError(
      'ALREADY_EXISTS',
      `refusing to overwrite ${targets.ca}: it is another CA's certificate (use --force)`,
    );
  }
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

/** The issuing CA and the other CAs named in `ids`, unsealed, by id. */
async function unsealedFor(
  ctx: OpContext,
  issuing: UnsealedCa,
  ids: readonly number[],
): Promise<Map<number, UnsealedCa>> {
  const out = new Map<number, UnsealedCa>([[issuing.id, issuing]]);
  for (const id of ids) if (!out.has(id)) out.set(id, await unsealCaById(ctx, id));
  return out;
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
  // Keyed by issuer and serial: the certificate's own CA signs the CRL that lists it.
  const ca = await unsealCaById(ctx, known.issuerCa);
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

/**
 * Several revocations with one CRL per CA involved (a re-issue revoking what it replaces, a CA
 * retirement revoking what is left), in the caller's transaction. `cas` holds each one's CA.
 */
export function revokeAllInTx(
  db: DatabaseSync,
  ctx: OpContext,
  cas: ReadonlyMap<number, UnsealedCa>,
  certs: readonly CertRow[],
  reason: RevocationReason,
  extra: Record<string, unknown>,
): void {
  const now = ctx.now();
  const revokedAt = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
  const touched = new Map<number, UnsealedCa>();
  for (const c of certs) {
    const ca = cas.get(c.issuerCa);
    if (!ca) throw new ConsoleError('INTERNAL', `the key of CA ${c.issuerCa} was not opened for its CRL`);
    touched.set(ca.id, ca);
    const [record] = appendAudit(db, [
      audit(ctx, 'client.revoked', { reason, ...extra }, { cn: c.name, serial: c.serial }),
    ]);
    insertRevocation(db, { serial: c.serial, revokedAt, reason, auditSeq: record?.seq ?? 0 });
  }
  for (const ca of touched.values()) {
    const crl = publishCrl(db, ca, now);
    appendAudit(db, [audit(ctx, 'crl.published', crl)], { signer: ca.signer });
  }
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
  const next = await signServer(ctx, (meta) => ({
    hosts: meta.serverHosts,
    days: input.days ?? meta.serverDays,
  }));
  return state.tx(() => {
    const previous = readCurrentServer(state.db);
    return installServer(state.db, ctx, next, previous.serial, audit);
  });
}

/**
 * The automatic renewal (server-renewal.ts): a new key and certificate with the given hosts and
 * lifetime, installed only if `replaces` is still the current server certificate when the write
 * transaction runs, so two processes on one state dir (the app and `serve`) never both renew.
 * `alsoInTx` runs in that transaction (clearing the failure record). Null when someone else renewed.
 */
export async function renewServer(
  ctx: OpContext,
  input: {
    replaces: string;
    hosts: readonly string[];
    days: number;
    alsoInTx?: (db: DatabaseSync) => void;
  },
): Promise<{ serial: string; notAfter: string; previousSerial: string } | null> {
  const state = ctx.state();
  const next = await signServer(ctx, () => ({ hosts: [...input.hosts], days: input.days }));
  return state.tx(() => {
    if (readCurrentServer(state.db).serial !== input.replaces) return null;
    const result = installServer(state.db, ctx, next, input.replaces, (c, type, details) =>
      systemAudit(c, type, { ...details, reason: 'auto_renewal' }),
    );
    input.alsoInTx?.(state.db);
    return { ...result, previousSerial: input.replaces };
  });
}

interface SignedServer {
  readonly ca: UnsealedCa;
  readonly now: Date;
  readonly hosts: string[];
  readonly cert: IssuedCert;
  readonly sealedKey: Buffer;
}

/** Key generation, signing and sealing happen before the transaction, which then only inserts. */
async function signServer(
  ctx: OpContext,
  choose: (meta: Meta) => { hosts: string[]; days: number },
): Promise<SignedServer> {
  const ca = await unsealCa(ctx);
  const now = ctx.now();
  requireValidCa(ca, now);
  const caKey = await importPrivateKey(ca.keyDer, ca.meta.algorithm);
  const { hosts, days } = choose(ca.meta);
  const server = await issueServerCert({
    ca: signingCa(ctx.state(), ca.certPem, caKey, ca.id),
    algorithm: ca.meta.algorithm,
    hosts,
    validityDays: days,
    now,
    serial: randomSerial(),
  });
  const vault = await ctx.vaults.open(ca.meta.vaultBackend);
  const sealedKey = await vault.seal(await exportPrivateKeyPkcs8Der(server.keys.privateKey));
  return { ca, now, hosts, cert: server.cert, sealedKey };
}

/** Makes the signed certificate the current one, with its audit record (in the caller's transaction). */
function installServer(
  db: DatabaseSync,
  ctx: OpContext,
  s: SignedServer,
  previousSerial: string,
  record: (ctx: OpContext, type: string, details: Record<string, unknown>) => AuditEntryInput,
): { serial: string; notAfter: string } {
  insertServer(
    db,
    {
      serial: s.cert.serial,
      certPem: s.cert.certPem,
      sealedKey: s.sealedKey,
      notAfter: s.cert.notAfter.toISOString(),
      issuerCa: s.ca.id,
    },
    s.now.toISOString(),
  );
  appendAudit(
    db,
    [
      record(ctx, 'server.rotated', {
        serial: s.cert.serial,
        hosts: s.hosts,
        notAfter: s.cert.notAfter.toISOString(),
        previousSerial,
      }),
    ],
    { signer: s.ca.signer },
  );
  return { serial: s.cert.serial, notAfter: s.cert.notAfter.toISOString() };
}

/**
 * Re-signs the CRL with a new number and fresh dates. Verifiers such as nginx refuse every client
 * once a CRL is past its nextUpdate, so it must be republished even when nothing was revoked.
 */
export async function refreshCrl(
  ctx: OpContext,
): Promise<{ crlNumber: string; nextUpdate: string; entries: number }> {
  const state = ctx.state();
  // Every CA still trusted keeps a fresh CRL (both during a rollover); the issuing one is answered.
  const cas = await unsealActiveCas(ctx);
  const ca = cas.at(-1);
  if (!ca) throw new ConsoleError('CORRUPT_STATE', 'the state holds no active CA');
  requireValidCa(ca, ctx.now());
  await reconcilePending(ctx, ca);
  return state.tx(() => {
    let last: ReturnType<typeof publishCrl> | null = null;
    for (const c of cas) {
      const crl = publishCrl(state.db, c, ctx.now());
      appendAudit(state.db, [audit(ctx, 'crl.published', crl)], { signer: c.signer });
      last = crl;
    }
    if (!last) throw new ConsoleError('CORRUPT_STATE', 'the state holds no active CA');
    return { crlNumber: last.crlNumber, nextUpdate: last.nextUpdate, entries: last.entries };
  });
}

/** Signs the CRL of every revocation in the table, with the next number, and stores it (in the caller's transaction). */
export function publishCrl(
  db: DatabaseSync,
  ca: UnsealedCa,
  now: Date,
): { crlNumber: string; nextUpdate: string; entries: number; ca?: string } {
  const number = readCrlNumber(db, ca.id) + 1;
  const entries = readRevocations(db, ca.id);
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
  writeCrl(db, ca.id, {
    number,
    thisUpdate: thisUpdate.toISOString(),
    nextUpdate: nextUpdate.toISOString(),
    entries: entries.length,
    der,
  });
  return {
    crlNumber: String(number),
    nextUpdate: nextUpdate.toISOString(),
    entries: entries.length,
    // Named once there is more than one CA, so the record says whose CRL it was.
    ...(ca.id !== 1 || readCas(db).length > 1 ? { ca: ca.name } : {}),
  };
}

/** A record of something the console did by itself (an automatic renewal), not an operator. */
export function systemAudit(ctx: OpContext, type: string, details: Record<string, unknown>): AuditEntryInput {
  return { type, actor: { kind: 'system' }, cn: null, serial: null, details, time: ctx.now() };
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

/**
 * Staged CA rollover (issue 9; the seed's "issue new CA, cross-sign, roll servers, roll clients,
 * retire old CA"). `start` makes the next CA with the same algorithm, cross-signs both ways, re-issues
 * the server certificate under the new CA (served with the new-by-old cross certificate, so clients
 * that trust only the old root still verify it) and from then on every issuance and renewal comes from
 * the new CA, while the gateway trusts both roots. `retire` ends it: the old root leaves the gateway's
 * trust and the cross certificate leaves the server chain, once no valid client certificate of the old
 * CA remains (or the operator revokes what is left, as superseded, in the same transaction).
 */
import type { DatabaseSync } from 'node:sqlite';
import { appendAudit } from '../audit';
import { ConsoleError } from '../errors';
import {
  createCa,
  crossCertifyCa,
  exportPrivateKeyPkcs8Der,
  importPrivateKey,
  issueServerCert,
  randomSerial,
  summarizeCert,
} from '../pki';
import type { CaRolloverPhase, CaRolloverStatus } from '../../shared/model';
import {
  audit,
  publishCrl,
  requireValidCa,
  revokeAllInTx,
  signingCa,
  unsealCa,
  unsealCaById,
  type OpContext,
  type UnsealedCa,
} from './ca-ops';
import {
  insertCa,
  insertCrossCert,
  insertRollover,
  insertServer,
  markRetired,
  readActiveCas,
  readCaById,
  readCas,
  readCertsOfCa,
  readCrossCert,
  readCurrentServer,
  readLastRollover,
  type CaRow,
  type CertRow,
  type RolloverRow,
} from './state';

/** Same lifetime as the first CA (ca-ops.ts CA_DAYS). */
const CA_DAYS = 3650;
/** How many of the remaining old-CA certificates a refusal or the status names. */
const NAMED = 5;

/** "Acme CA" → "Acme CA G2"; "Acme CA G2" → "Acme CA G3": a new subject, so chains never mix them up. */
export function nextCaName(name: string, taken: readonly string[]): string {
  const m = /^(.*) G(\d+)$/.exec(name);
  const base = m ? (m[1] ?? name) : name;
  let n = m ? Number(m[2]) + 1 : 2;
  while (taken.includes(`${base} G${n}`)) n++;
  return `${base} G${n}`;
}

/** The gateway's TLS material from the database: the roots it trusts and the server's chain. */
export interface GatewayTrust {
  /** Every CA not retired (both roots during a rollover). */
  readonly caPem: string;
  /** The server certificate, followed by the new-by-old cross certificate while a rollover runs. */
  readonly certPem: string;
  readonly serverSerial: string;
  /** Changes whenever either of the above does: what the gateway host compares to refresh hot. */
  readonly stamp: string;
}

/**
 * What the gateway's TLS material depends on (server serial, active CAs, rollover state), in one small
 * read: the gateway host runs it on every commit it notices, so it stays off the sealed-key columns.
 */
export function gatewayTrustStamp(db: DatabaseSync): string {
  const row = db
    .prepare(
      `SELECT (SELECT serial FROM server_certs WHERE current = 1) AS s,
         (SELECT group_concat(id) FROM (SELECT id FROM cas WHERE retired_at IS NULL ORDER BY id)) AS c,
         (SELECT id || ':' || coalesce(retired_at, '') FROM ca_rollovers ORDER BY id DESC LIMIT 1) AS r`,
    )
    .get() as { s?: unknown; c?: unknown; r?: unknown } | undefined;
  return `${String(row?.s ?? '')}|${String(row?.c ?? '')}|${String(row?.r ?? '')}`;
}

export function readGatewayTrust(db: DatabaseSync): GatewayTrust {
  const server = readCurrentServer(db);
  const active = readActiveCas(db);
  const rollover = readLastRollover(db);
  const running = rollover !== null && rollover.retiredAt === null;
  const cross =
    running && server.issuerCa === rollover.newCa ? readCrossCert(db, rollover.newCa, rollover.oldCa) : null;
  return {
    caPem: active.map((c) => c.certPem.trim() + '\n').join(''),
    certPem: cross ? `${server.certPem.trim()}\n${cross.certPem.trim()}\n` : server.certPem,
    serverSerial: server.serial,
    stamp: gatewayTrustStamp(db),
  };
}

/** The new-by-old cross certificate while a rollover runs and `issuerCa` is its new CA; else null. */
export function crossForIssuer(db: DatabaseSync, issuerCa: number): string | null {
  const r = readLastRollover(db);
  if (r === null || r.retiredAt !== null || r.newCa !== issuerCa) return null;
  return readCrossCert(db, r.newCa, r.oldCa)?.certPem ?? null;
}

/** Valid (unexpired, unrevoked) client certificates of a CA: what still needs the old root. */
function stillValid(certs: readonly CertRow[], nowMs: number): CertRow[] {
  return certs.filter((c) => c.revocation === null && Date.parse(c.notAfter) > nowMs);
}

function caInfo(ca: CaRow): CaRolloverStatus['current'] {
  const s = summarizeCert(ca.certPem);
  return {
    id: ca.id,
    name: ca.name,
    subject: s.subject,
    serial: s.serial,
    notAfter: s.notAfter.toISOString(),
    fingerprintSha256: s.fingerprintSha256,
    createdAt: ca.createdAt,
    retiredAt: ca.retiredAt,
    certPem: ca.certPem,
  };
}

/** Phases with dates, and how many clients have moved (read in the caller's snapshot). */
export function readRolloverStatus(db: DatabaseSync, now: Date): CaRolloverStatus {
  const rollover = readLastRollover(db);
  const cas = readCas(db);
  const newest = cas.filter((c) => c.retiredAt === null).at(-1) ?? cas.at(-1);
  if (!newest) throw new ConsoleError('CORRUPT_STATE', 'state database table cas holds no CA');
  if (rollover === null) {
    return {
      state: 'idle',
      current: caInfo(newest),
      old: null,
      startedAt: null,
      startedBy: null,
      phases: [],
      crossCertificates: [],
      clients: { onOldCa: 0, total: 0, rolled: 0, remaining: [] },
    };
  }
  const nowMs = now.getTime();
  const oldCa = readCaById(db, rollover.oldCa);
  const newCa = readCaById(db, rollover.newCa);
  const oldCerts = readCertsOfCa(db, rollover.oldCa);
  const remaining = stillValid(oldCerts, nowMs);
  const total = remaining.length + stillValid(readCertsOfCa(db, rollover.newCa), nowMs).length;
  // When the last old-CA certificate stopped counting: revoked, or expired (never before the start).
  const lastGone = oldCerts.reduce(
    (at, c) =>
      Math.max(
        at,
        Math.min(c.revocation ? Date.parse(c.revocation.revokedAt) : Infinity, Date.parse(c.notAfter)),
      ),
    Date.parse(rollover.startedAt),
  );
  const clientsAt =
    remaining.length === 0
      ? new Date(
          Math.min(lastGone, rollover.retiredAt ? Date.parse(rollover.retiredAt) : nowMs),
        ).toISOString()
      : null;
  const phases: CaRolloverPhase[] = [
    { key: 'created', label: `new CA created (${newCa.name})`, done: true, at: newCa.createdAt },
    {
      key: 'servers',
      label: 'servers rolled',
      done: rollover.serversRolledAt !== null,
      at: rollover.serversRolledAt,
    },
    {
      key: 'clients',
      label: `clients rolled (${total - remaining.length} of ${total})`,
      done: remaining.length === 0,
      at: clientsAt,
    },
    {
      key: 'retired',
      label: `old CA retired (${oldCa.name})`,
      done: rollover.retiredAt !== null,
      at: rollover.retiredAt,
    },
  ];
  return {
    state: rollover.retiredAt === null ? 'rolling' : 'done',
    current: caInfo(newCa),
    old: caInfo(oldCa),
    startedAt: rollover.startedAt,
    startedBy: rollover.startedBy,
    phases,
    crossCertificates: [
      [newCa, oldCa],
      [oldCa, newCa],
    ].flatMap(([subject, issuer]) => {
      const c = subject && issuer ? readCrossCert(db, subject.id, issuer.id) : null;
      return c && subject && issuer
        ? [{ subject: subject.name, issuer: issuer.name, serial: c.serial, certPem: c.certPem }]
        : [];
    }),
    clients: {
      onOldCa: remaining.length,
      total,
      rolled: total - remaining.length,
      remaining: remaining
        .slice(0, 50)
        .map((c) => ({ serial: c.serial, name: c.name, notAfter: c.notAfter })),
    },
  };
}

export async function rolloverStatus(ctx: OpContext): Promise<CaRolloverStatus> {
  const state = ctx.state();
  return state.read(() => readRolloverStatus(state.db, ctx.now()));
}

function running(db: DatabaseSync): RolloverRow | null {
  const r = readLastRollover(db);
  return r !== null && r.retiredAt === null ? r : null;
}

/**
 * Starts a rollover: one transaction with the new CA, both cross certificates, the rollover record,
 * the new server certificate, the new CA's first CRL and their audit records.
 */
export async function startRollover(ctx: OpContext): Promise<CaRolloverStatus> {
  const state = ctx.state();
  const pre = state.read(() => ({
    running: running(state.db),
    names: readCas(state.db).map((c) => c.name),
    nextId: Math.max(...readCas(state.db).map((c) => c.id)) + 1,
  }));
  if (pre.running) {
    throw new ConsoleError(
      'ALREADY_EXISTS',
      'a CA rollover is already running; finish it with `mtls-console ca rollover retire` first',
    );
  }
  const old = await unsealCa(ctx);
  const now = ctx.now();
  requireValidCa(old, now);
  const { meta } = old;
  const oldKey = await importPrivateKey(old.keyDer, meta.algorithm);
  const name = nextCaName(old.name, pre.names);
  const made = await createCa({
    algorithm: meta.algorithm,
    commonName: name,
    now,
    validityDays: CA_DAYS,
    serial: randomSerial(),
  });
  const newCertPem = made.cert.certPem;
  const newKeyDer = await exportPrivateKeyPkcs8Der(made.keys.privateKey);
  const newByOld = crossCertifyCa({
    subjectCertPem: newCertPem,
    issuer: { certPem: old.certPem, privateKey: oldKey },
    now,
    serial: randomSerial(),
  });
  const oldByNew = crossCertifyCa({
    subjectCertPem: old.certPem,
    issuer: { certPem: newCertPem, privateKey: made.keys.privateKey },
    now,
    serial: randomSerial(),
  });
  // The server moves to the new CA now ("roll servers"), with the same hosts and lifetime.
  const server = await issueServerCert({
    ca: signingCa(state, newCertPem, made.keys.privateKey, pre.nextId),
    algorithm: meta.algorithm,
    hosts: [...meta.serverHosts],
    validityDays: meta.serverDays,
    now,
    serial: randomSerial(),
  });
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const sealedCaKey = await vault.seal(newKeyDer);
  const sealedServerKey = await vault.seal(await exportPrivateKeyPkcs8Der(server.keys.privateKey));
  const at = now.toISOString();

  state.tx(() => {
    // Checked again under the write lock: of two starts at once, one wins.
    if (running(state.db)) throw new ConsoleError('ALREADY_EXISTS', 'a CA rollover was started meanwhile');
    const id = insertCa(state.db, { name, certPem: newCertPem, sealedKey: sealedCaKey, createdAt: at });
    if (id !== pre.nextId)
      throw new ConsoleError('ALREADY_EXISTS', 'another CA was added meanwhile; try again');
    insertCrossCert(state.db, {
      subjectCa: id,
      issuerCa: old.id,
      serial: newByOld.serial,
      certPem: newByOld.certPem,
      createdAt: at,
    });
    insertCrossCert(state.db, {
      subjectCa: old.id,
      issuerCa: id,
      serial: oldByNew.serial,
      certPem: oldByNew.certPem,
      createdAt: at,
    });
    insertRollover(state.db, {
      oldCa: old.id,
      newCa: id,
      startedAt: at,
      startedBy: ctx.operator,
      serversRolledAt: at,
    });
    const previousServer = readCurrentServer(state.db).serial;
    insertServer(
      state.db,
      {
        serial: server.cert.serial,
        certPem: server.cert.certPem,
        sealedKey: sealedServerKey,
        notAfter: server.cert.notAfter.toISOString(),
        issuerCa: id,
      },
      at,
    );
    const unsealedNew: UnsealedCa = { ...old, id, name, certPem: newCertPem, keyDer: newKeyDer };
    const crl = publishCrl(state.db, unsealedNew, now);
    appendAudit(
      state.db,
      [
        audit(ctx, 'ca.rollover.started', {
          oldCa: { id: old.id, name: old.name, serial: summarizeCert(old.certPem).serial },
          newCa: {
            id,
            name,
            serial: made.cert.serial,
            notAfter: made.cert.notAfter.toISOString(),
            fingerprintSha256: made.cert.fingerprintSha256,
          },
          crossCertificates: [
            { subject: name, issuer: old.name, serial: newByOld.serial },
            { subject: old.name, issuer: name, serial: oldByNew.serial },
          ],
        }),
        audit(ctx, 'server.rotated', {
          serial: server.cert.serial,
          hosts: meta.serverHosts,
          notAfter: server.cert.notAfter.toISOString(),
          previousSerial: previousServer,
          reason: 'ca_rollover',
          issuer: name,
        }),
        audit(ctx, 'crl.published', crl),
      ],
      { signer: old.signer },
    );
  });
  return rolloverStatus(ctx);
}

/**
 * Retires the old CA. Refused (one line naming how many and which) while valid client certificates
 * of the old CA remain, unless `revokeRemaining`: then they are revoked (superseded) in the same
 * transaction, with the old CA's CRL.
 */
export async function retireRollover(
  ctx: OpContext,
  input: { readonly revokeRemaining?: boolean },
): Promise<CaRolloverStatus & { readonly revoked: readonly string[] }> {
  const state = ctx.state();
  const now = ctx.now();
  const pre = state.read(() => {
    const r = running(state.db);
    return r
      ? {
          rollover: r,
          remaining: stillValid(readCertsOfCa(state.db, r.oldCa), now.getTime()),
          server: readCurrentServer(state.db),
        }
      : null;
  });
  if (!pre) {
    throw new ConsoleError(
      'NOT_FOUND',
      'no CA rollover is running (start one with `mtls-console ca rollover start`)',
    );
  }
  if (pre.server.issuerCa === pre.rollover.oldCa) {
    throw new ConsoleError(
      'FORBIDDEN',
      'the server certificate is still from the old CA; rotate it (mtls-console rotate-server) before retiring',
    );
  }
  if (pre.remaining.length > 0 && input.revokeRemaining !== true) throw remainingError(pre.remaining);
  // Opened only when there is something to revoke: its CRL lists them.
  const oldCa = pre.remaining.length > 0 ? await unsealCaById(ctx, pre.rollover.oldCa) : null;
  const signerCa = oldCa ?? (await unsealCa(ctx));
  const revoked = state.tx(() => {
    const r = running(state.db);
    if (!r || r.id !== pre.rollover.id)
      throw new ConsoleError('NOT_FOUND', 'the CA rollover was finished meanwhile');
    const left = stillValid(readCertsOfCa(state.db, r.oldCa), now.getTime());
    if (left.length > 0 && input.revokeRemaining !== true) throw remainingError(left);
    if (left.length > 0) {
      if (!oldCa) throw remainingError(left); // issued meanwhile: asked again with the key at hand
      revokeAllInTx(state.db, ctx, new Map([[oldCa.id, oldCa]]), left, 'superseded', {
        caRetired: oldCa.name,
      });
    }
    const oldRow = readCaById(state.db, r.oldCa);
    markRetired(state.db, r.id, r.oldCa, now.toISOString(), ctx.operator);
    appendAudit(
      state.db,
      [
        audit(ctx, 'ca.rollover.retired', {
          oldCa: { id: oldRow.id, name: oldRow.name, serial: summarizeCert(oldRow.certPem).serial },
          newCa: { id: r.newCa, name: readCaById(state.db, r.newCa).name },
          revoked: left.map((c) => c.serial),
        }),
      ],
      { signer: signerCa.signer },
    );
    return left.map((c) => c.serial);
  });
  return { ...(await rolloverStatus(ctx)), revoked };
}

function remainingError(left: readonly CertRow[]): ConsoleError {
  const named = left
    .slice(0, NAMED)
    .map((c) => `${c.name} (${c.serial})`)
    .join(', ');
  const more = left.length > NAMED ? ` and ${left.length - NAMED} more` : '';
  return new ConsoleError(
    'FORBIDDEN',
    `refusing to retire the old CA: ${left.length} valid client certificate${left.length === 1 ? '' : 's'} from it remain${left.length === 1 ? 's' : ''}: ${named}${more}; renew or re-issue them, or retire with --revoke-remaining`,
  );
}

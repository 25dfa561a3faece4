import { ConsoleError } from '../errors';
import { appendAudit, type AuditEntryInput } from '../audit';
import {
  CsrError,
  importPrivateKey,
  issueClientCertForKey,
  parseCsr,
  randomSerial,
  type CheckedCsr,
  type IssuedCert,
} from '../pki';
import { CLOCK_SKEW_MS } from '../pki/certs';
import { parseCertificate } from '../pki/parse';
import { audit, requireValidCa, signingCa, trustBundle, unsealCa, type OpContext } from './ca-ops';
import { crossForIssuer } from './rollover';
import {
  certExists,
  groupsOf,
  insertCert,
  markSuperseded,
  readCert,
  readCertPem,
  type CertRow,
} from './state';
import type { StateDb } from '../db';
import { DEFAULT_RENEW_MAX_MS } from '../../shared/contract';

/**
 * Client renewal (issue 9): a client proves it holds a current, valid, unrevoked certificate (on the
 * gateway's mTLS listener) and gets its successor: same name, same groups, same lifetime, never past
 * the CA or the end of its renewal chain; the same key, or the key of a CSR (rekey). The predecessor
 * stays valid until it expires, so the renewing connection is not cut, but it is marked superseded
 * and is never renewed again: one certificate has at most one successor.
 */

export type RenewVia = 'gateway' | 'cli' | 'mcp' | 'gui';

export interface RenewInput {
  /** Lowercase hex: the certificate being renewed. */
  readonly serial: string;
  /** A PKCS#10 request (DER) for a new key; absent: the same key again. */
  readonly csrDer?: Buffer;
  readonly via: RenewVia;
  /** More details for the `client.renewed` record (the GUI's export folder). */
  readonly recordExtra?: Readonly<Record<string, unknown>>;
}

export interface RenewResult {
  readonly serial: string;
  readonly name: string;
  readonly certPem: string;
  readonly caPem: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly renewedFrom: string;
  readonly rekey: boolean;
  /**
   * While a CA rollover runs: the new CA certified by the old one, which a client that trusts only the
   * old root needs to check the new certificate (the gateway sends it after the leaf). Null otherwise.
   */
  readonly crossPem: string | null;
}

/**
 * A renewal chain advances at most once a minute (or, for a certificate living less than two minutes,
 * once half its lifetime has passed), so a client looping on the endpoint cannot mint certificates.
 */
export const RENEW_MIN_AGE_MS = 60_000;

/** The lifetime a certificate was issued with: notBefore is backdated for skew, which is not part of it. */
function lifetimeOf(c: Pick<CertRow, 'notBefore' | 'notAfter'>): number {
  return Date.parse(c.notAfter) - Date.parse(c.notBefore) - CLOCK_SKEW_MS;
}

/** Where the chain ends; a row from before the policy existed counts the default from its issuance. */
function renewUntilOf(c: CertRow): number {
  return c.renewUntil !== null ? Date.parse(c.renewUntil) : Date.parse(c.issuedAt) + DEFAULT_RENEW_MAX_MS;
}

/** Refuses what the policy does not renew, with one line that says why; cheap, before the CA key is touched. */
function checkRenewable(c: CertRow | null, serial: string, nowMs: number): asserts c is CertRow {
  if (!c) throw new ConsoleError('NOT_FOUND', `no certificate with serial ${serial} was issued by this CA`);
  const who = `certificate ${c.serial} (${c.name})`;
  if (c.revocation) {
    throw new ConsoleError(
      'FORBIDDEN',
      `${who} was revoked at ${c.revocation.revokedAt} (${c.revocation.reason}); a revoked certificate is not renewed`,
    );
  }
  if (c.supersededBy !== null) {
    throw new ConsoleError(
      'FORBIDDEN',
      `${who} was already renewed or re-issued as ${c.supersededBy}; renew that one instead`,
    );
  }
  if (Date.parse(c.notAfter) <= nowMs) {
    throw new ConsoleError(
      'FORBIDDEN',
      `${who} expired at ${c.notAfter}; an expired certificate is not renewed`,
    );
  }
  if (!c.renewable) {
    throw new ConsoleError('FORBIDDEN', `${who} was issued as not renewable; ask the operator for a new one`);
  }
  const until = renewUntilOf(c);
  // At the end of the chain a successor could not outlive its predecessor: nothing left to renew.
  if (Math.floor(until / 1000) * 1000 <= Math.max(nowMs, Date.parse(c.notAfter))) {
    throw new ConsoleError(
      'FORBIDDEN',
      `${who} reached the end of its renewal chain (${new Date(until).toISOString()}); ask the operator to re-issue it`,
    );
  }
  const readyAt = Date.parse(c.issuedAt) + Math.min(RENEW_MIN_AGE_MS, lifetimeOf(c) / 2);
  if (readyAt > nowMs) {
    throw new ConsoleError(
      'RATE_LIMITED',
      `${who} was issued moments ago; try again in ${Math.ceil((readyAt - nowMs) / 1000)} s`,
    );
  }
}

function checkedCsr(der: Buffer): CheckedCsr {
  try {
    return parseCsr(der);
  } catch (e) {
    if (e instanceof CsrError) throw new ConsoleError('INVALID_INPUT', `the renewal CSR: ${e.message}`);
    throw e;
  }
}

/** Renews one client certificate; one transaction with its `client.renewed` record. */
export async function renewClient(ctx: OpContext, input: RenewInput): Promise<RenewResult> {
  const state = ctx.state();
  const { cert, certPem } = state.read(() => ({
    cert: readCert(state.db, input.serial),
    certPem: readCertPem(state.db, input.serial),
  }));
  const csr = input.csrDer ? checkedCsr(input.csrDer) : null;
  const asked = csr ? csr.spkiDer : certPem !== null ? parseCertificate(certPem).spkiDer : null;
  // The answer to an earlier renewal that never reached the client (a reset, a timeout) is sent
  // again, rather than leaving the client with a superseded certificate it can never renew.
  const again = cert && asked ? successorFor(state, cert, asked, ctx.now().getTime()) : null;
  if (again) return again;
  checkRenewable(cert, input.serial, ctx.now().getTime());
  let spkiDer: Buffer;
  if (asked) spkiDer = asked;
  else {
    throw new ConsoleError(
      'INVALID_INPUT',
      `certificate ${cert.serial} (${cert.name}) was issued before this console kept certificates, so its key is unknown here; renew it with a new key (a CSR: mtls-console renew --rekey)`,
    );
  }
  const groups = state.read(() => groupsOf(state.db, cert));

  const ca = await unsealCa(ctx);
  const now = ctx.now();
  requireValidCa(ca, now);
  const caKey = await importPrivateKey(ca.keyDer, ca.meta.algorithm);
  const renewUntil = renewUntilOf(cert);
  // The same lifetime as the predecessor, cut at the end of the chain (and, in the signer, at the CA's expiry).
  const notAfter = new Date(Math.min(now.getTime() + lifetimeOf(cert), renewUntil));
  const sign = (): IssuedCert =>
    issueClientCertForKey({
      ca: signingCa(state, ca.certPem, caKey, ca.id),
      spkiDer,
      commonName: cert.name,
      groups,
      notAfter,
      now,
      serial: randomSerial(),
    });
  let issued = sign();
  while (state.read(() => certExists(state.db, issued.serial))) issued = sign();

  return state.tx(() => {
    // Checked again in the transaction: another process may have renewed or revoked it meanwhile.
    const current = readCert(state.db, cert.serial);
    checkRenewable(current, cert.serial, now.getTime());
    const [record] = appendAudit(
      state.db,
      [
        renewalRecord(ctx, input.via, current, {
          serial: issued.serial,
          details: {
            renewedFrom: current.serial,
            via: input.via,
            rekey: csr !== null,
            notBefore: issued.notBefore.toISOString(),
            notAfter: issued.notAfter.toISOString(),
            fingerprintSha256: issued.fingerprintSha256,
            ...(groups.length > 0 ? { groups } : {}),
            ...(csr ? { csr: { keyType: csr.keyType, requestedSubject: csr.requestedSubject } } : {}),
            ...input.recordExtra,
          },
        }),
      ],
      { signer: ca.signer },
    );
    insertCert(state.db, {
      serial: issued.serial,
      name: current.name,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      fingerprintSha256: issued.fingerprintSha256,
      issuedAt: now.toISOString(),
      auditSeq: record?.seq ?? 0,
      certPem: issued.certPem,
      groups,
      renewable: true,
      renewUntil: new Date(renewUntil).toISOString(),
      supersedes: current.serial,
      // From the issuing CA: during a rollover, a renewal moves the client to the new CA.
      issuerCa: ca.id,
    });
    markSuperseded(state.db, current.serial, issued.serial);
    return {
      serial: issued.serial,
      name: current.name,
      certPem: issued.certPem,
      caPem: trustBundle(state.db),
      crossPem: crossForIssuer(state.db, ca.id),
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      renewedFrom: current.serial,
      rekey: csr !== null,
    };
  });
}

/**
 * The successor a renewal of `cert` already made, when it is for the same key and still valid; null
 * otherwise (a re-issue, a revoked or expired successor, another key).
 */
function successorFor(state: StateDb, cert: CertRow, spkiDer: Buffer, nowMs: number): RenewResult | null {
  if (cert.supersededBy === null || cert.revocation) return null;
  const found = state.read(() => {
    const next = readCert(state.db, cert.supersededBy ?? '');
    return next
      ? {
          next,
          pem: readCertPem(state.db, next.serial),
          caPem: trustBundle(state.db),
          crossPem: crossForIssuer(state.db, next.issuerCa),
        }
      : null;
  });
  if (!found || found.pem === null) return null;
  const { next, pem, caPem, crossPem } = found;
  if (next.supersedes !== cert.serial || next.revocation || next.supersededBy !== null) return null;
  if (Date.parse(next.notAfter) <= nowMs || !parseCertificate(pem).spkiDer.equals(spkiDer)) return null;
  return {
    serial: next.serial,
    name: next.name,
    certPem: pem,
    caPem,
    notBefore: next.notBefore,
    notAfter: next.notAfter,
    renewedFrom: cert.serial,
    rekey: false,
    crossPem,
  };
}

/**
 * The record is about the new certificate. Over the gateway the client acts (with the certificate it
 * renews); from the CLI or MCP, the operator.
 */
function renewalRecord(
  ctx: OpContext,
  via: RenewVia,
  old: CertRow,
  about: { serial: string; details: Record<string, unknown> },
): AuditEntryInput {
  if (via !== 'gateway')
    return audit(ctx, 'client.renewed', about.details, { cn: old.name, serial: about.serial });
  return {
    type: 'client.renewed',
    actor: { kind: 'client', cn: old.name, serial: old.serial },
    cn: old.name,
    serial: about.serial,
    details: about.details,
    time: ctx.now(),
  };
}

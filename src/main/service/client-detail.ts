/**
 * The Clients screen's two per-certificate calls (issue 10): `clients.get`, a certificate's details
 * read from the stored certificate (never a key), and `clients.renew`, the same key certified again
 * by the operator with renewal.ts's rules, written to a folder the operator picked.
 */
import { createHash, createPublicKey } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConsoleError } from '../errors';
import { formatName } from '../pki/info';
import { parseCertificate } from '../pki/parse';
import { atomicWriteFile } from '../store';
import { bundleTargets, onlyOurCas } from './bundle';
import { allCaPems, type OpContext } from './ca-ops';
import { listClients } from './queries';
import { renewClient } from './renewal';
import { readCert, readCertPem } from './state';
import type { ClientDetail, ClientRenewResult } from '../../shared/model';

/** "EC P-256", "RSA 4096": what an operator compares with their own key. */
export function keyTypeOf(spkiDer: Buffer): string {
  const key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curves: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
    return `EC ${curves[d.namedCurve ?? ''] ?? d.namedCurve ?? 'unknown curve'}`;
  }
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d.modulusLength ?? '?'}`;
  return (key.asymmetricKeyType ?? 'unknown').toUpperCase();
}

/** `0a1b2c` → `0a:1b:2c`, as openssl and most tools print a serial. */
export function serialWithColons(hex: string): string {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return (even.match(/../g) ?? []).join(':');
}

/** One certificate's details from one snapshot of the database; NOT_FOUND when it is not ours. */
export function clientDetail(ctx: OpContext, serial: string): ClientDetail {
  const state = ctx.state();
  // The registry's own view (status and renewal state computed now), so the drawer and the table agree.
  const record = listClients(state, ctx.now()).find((c) => c.serial === serial);
  const pem = state.read(() => readCertPem(state.db, serial));
  if (!record)
    throw new ConsoleError('NOT_FOUND', `no certificate with serial ${serial} was issued by this CA`);
  const colons = serialWithColons(record.serial);
  if (pem === null) {
    // Issued before the console kept certificates: only what the registry row holds.
    return {
      record,
      subject: `CN=${record.name}`,
      issuer: '',
      sans: [],
      keyType: 'unknown (issued before the console kept certificates)',
      serialColons: colons,
      fingerprintSha256: record.fingerprintSha256,
      fingerprintSha1: '',
      certPem: null,
    };
  }
  const p = parseCertificate(pem);
  return {
    record,
    subject: formatName(p.subject),
    issuer: formatName(p.cert.tbsCertificate.issuer),
    sans: p.sans,
    keyType: keyTypeOf(p.spkiDer),
    serialColons: colons,
    fingerprintSha256: createHash('sha256').update(p.der).digest('hex'),
    fingerprintSha1: createHash('sha1').update(p.der).digest('hex'),
    certPem: pem,
  };
}

/**
 * Renews `serial` with the same key (renewal.ts: same name, groups and lifetime, never past the CA or
 * the chain's end; FORBIDDEN for a revoked, expired, superseded or non-renewable certificate) and
 * writes NAME.crt and ca.crt into `outDir`. A NAME.crt already there is replaced only when it is one of
 * this name's certificates, a ca.crt only when it is this CA's: checked before anything is signed.
 */
export async function renewToFolder(
  ctx: OpContext,
  input: { serial: string; outDir: string },
): Promise<ClientRenewResult> {
  const state = ctx.state();
  const { cert, ourCas } = state.read(() => ({
    cert: readCert(state.db, input.serial),
    ourCas: allCaPems(state.db),
  }));
  if (!cert) {
    throw new ConsoleError('NOT_FOUND', `no certificate with serial ${input.serial} was issued by this CA`);
  }
  // renewClient answers a repeated renewal with the successor it already made (for a client whose
  // answer was lost); an operator asking again means the wrong row, so say which one to renew.
  if (cert.supersededBy !== null) {
    throw new ConsoleError(
      'FORBIDDEN',
      `certificate ${cert.serial} (${cert.name}) was already renewed or re-issued as ${cert.supersededBy}; renew that one instead`,
    );
  }
  const targets = await bundleTargets(input.outDir, cert.name, false, ctx.stateDir, false);
  const stat = await fs.stat(targets.dir).catch(() => null);
  if (stat && !stat.isDirectory()) {
    throw new ConsoleError('INVALID_INPUT', `${targets.dir} exists and is not a folder`);
  }
  await checkReplaceable(ctx, targets.cert, cert.name);
  const existingCa = await readSmall(targets.ca);
  // A ca.crt of ours (any of our CAs, both during a rollover) is brought up to date; another CA's never.
  if (existingCa !== null && !onlyOurCas(existingCa, ourCas)) {
    throw new ConsoleError(
      'ALREADY_EXISTS',
      `${targets.ca} is another CA's certificate; choose another folder for ${cert.name}'s renewal`,
    );
  }
  const renewed = await renewClient(ctx, {
    serial: input.serial,
    via: 'gui',
    recordExtra: { exportedTo: [targets.cert, targets.ca] },
  });
  try {
    await fs.mkdir(targets.dir, { recursive: true, mode: 0o700 });
    await atomicWriteFile(targets.cert, renewed.certPem, 0o644);
    await atomicWriteFile(targets.ca, renewed.caPem, 0o644);
  } catch (e) {
    // The renewal stands (the predecessor stays valid until it expires); its PEM is in the details.
    throw new ConsoleError(
      'IO',
      `renewed ${cert.name} as ${renewed.serial}, but writing ${path.basename(targets.cert)} to ${targets.dir} failed (${(e as Error).message}); copy the certificate from its details instead`,
    );
  }
  return {
    serial: renewed.serial,
    name: renewed.name,
    renewedFrom: renewed.renewedFrom,
    notBefore: renewed.notBefore,
    notAfter: renewed.notAfter,
    files: { cert: targets.cert, ca: targets.ca },
  };
}

async function readSmall(file: string): Promise<string | null> {
  const st = await fs.lstat(file).catch(() => null);
  if (!st) return null;
  // A certificate is a few KB; anything else there is not one of ours (and is never replaced).
  if (!st.isFile() || st.size > 64 * 1024) return '';
  return fs.readFile(file, 'utf8').catch(() => '');
}

/** NAME.crt may be replaced only by a renewal of the same name (the holder's key file stays beside it). */
async function checkReplaceable(ctx: OpContext, file: string, name: string): Promise<void> {
  const pem = await readSmall(file);
  if (pem === null) return;
  let serial: string | null = null;
  try {
    serial = parseCertificate(pem).serial;
  } catch {
    serial = null;
  }
  const state = ctx.state();
  const owner = serial === null ? null : state.read(() => readCert(state.db, serial)?.name ?? null);
  if (owner !== name) {
    throw new ConsoleError(
      'ALREADY_EXISTS',
      `${file} exists and is not a certificate of ${name}; choose another folder for the renewal`,
    );
  }
}

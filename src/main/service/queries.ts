import fs from 'node:fs/promises';
import { summarizeCert } from '../pki';
import { CRL_VALIDITY_MS } from './ca-ops';
import type { StatePaths } from './paths';
import {
  readCaCertPem,
  readGatewayConfig,
  readMeta,
  readRegistry,
  readRevocations,
  readServerFile,
} from './state';
import { DAY_MS } from '../../shared/validation';
import type {
  CaInfo,
  ClientCounts,
  ClientRecord,
  GatewayState,
  ServerCertInfo,
  StatusInfo,
  VaultBackend,
} from '../../shared/model';

/** Read-only views of the state dir. They take no lock: every state file is replaced atomically. */

export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

export async function listClients(paths: StatePaths, now: Date): Promise<ClientRecord[]> {
  const [registry, revocations] = await Promise.all([readRegistry(paths), readRevocations(paths)]);
  const revoked = new Map(revocations.entries.map((e) => [e.serial, e]));
  const nowMs = now.getTime();
  return registry.certs.map((c) => {
    const rev = revoked.get(c.serial);
    const base = {
      serial: c.serial,
      name: c.name,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      fingerprintSha256: c.fingerprintSha256,
    };
    if (rev) return { ...base, status: 'revoked', revokedAt: rev.revokedAt, reason: rev.reason };
    return { ...base, status: Date.parse(c.notAfter) <= nowMs ? 'expired' : 'active' };
  });
}

export function countClients(clients: readonly ClientRecord[]): ClientCounts {
  const counts = { active: 0, expired: 0, revoked: 0, total: clients.length };
  for (const c of clients) counts[c.status] += 1;
  return counts;
}

export interface StatusExtras {
  readonly gatewayState: GatewayState;
  readonly vault: { backend: VaultBackend | null; note?: string };
  readonly needsPassphrase: boolean;
}

export async function readStatus(paths: StatePaths, now: Date, extras: StatusExtras): Promise<StatusInfo> {
  const meta = await readMeta(paths);
  const gatewayConfig = await readGatewayConfig(paths);
  const gateway = { config: gatewayConfig, state: extras.gatewayState };
  if (!meta) {
    return {
      initialized: false,
      stateDir: paths.dir,
      ca: null,
      server: null,
      clients: { active: 0, expired: 0, revoked: 0, total: 0 },
      crl: null,
      gateway,
      vault: extras.vault,
    };
  }
  const caSummary = summarizeCert(await readCaCertPem(paths));
  const ca: CaInfo = {
    subject: caSummary.subject,
    algorithm: meta.algorithm,
    serial: caSummary.serial,
    notBefore: caSummary.notBefore.toISOString(),
    notAfter: caSummary.notAfter.toISOString(),
    daysLeft: daysLeft(caSummary.notAfter, now),
    fingerprintSha256: caSummary.fingerprintSha256,
  };
  const serverSummary = summarizeCert((await readServerFile(paths)).certPem);
  const server: ServerCertInfo = {
    subject: serverSummary.subject,
    sans: serverSummary.sans,
    serial: serverSummary.serial,
    notBefore: serverSummary.notBefore.toISOString(),
    notAfter: serverSummary.notAfter.toISOString(),
    daysLeft: daysLeft(serverSummary.notAfter, now),
    fingerprintSha256: serverSummary.fingerprintSha256,
  };
  const clients = countClients(await listClients(paths, now));
  const crl = await crlInfo(paths, now);
  return {
    initialized: true,
    stateDir: paths.dir,
    ca,
    server,
    clients,
    crl,
    gateway,
    vault: {
      ...extras.vault,
      backend: meta.vaultBackend,
      locked: meta.vaultBackend === 'passphrase' && extras.needsPassphrase,
    },
  };
}

/** The CRL's nextUpdate is its write time plus CRL_VALIDITY_MS (it is signed just before it is written). */
async function crlInfo(paths: StatePaths, now: Date): Promise<StatusInfo['crl']> {
  const st = await fs.stat(paths.crl).catch(() => null);
  if (!st) return null;
  const nextUpdate = new Date(st.mtimeMs + CRL_VALIDITY_MS);
  return {
    crlNumber: (await readRevocations(paths)).crlNumber,
    nextUpdate: nextUpdate.toISOString(),
    daysLeft: daysLeft(nextUpdate, now),
  };
}

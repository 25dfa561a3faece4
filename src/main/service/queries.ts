import type { DatabaseSync } from 'node:sqlite';
import { summarizeCert } from '../pki';
import type { StateDb } from '../db';
import {
  readAuditSettings,
  readCa,
  readCerts,
  readCrl,
  readCurrentServer,
  readGatewayConfig,
  readMeta,
} from './state';
import { liveMcpServers } from './mcp-servers';
import { DAY_MS } from '../../shared/validation';
import { renewalDueAt, renewalState } from '../../shared/renewal';
import type {
  CaInfo,
  ClientCounts,
  ClientRecord,
  GatewayConfig,
  GatewayState,
  ServerCertInfo,
  ServerRenewalFailure,
  StatusInfo,
  VaultBackend,
} from '../../shared/model';

/** Read-only views of the state, each from one consistent snapshot of the database. */

export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

export function listClients(state: StateDb, now: Date): ClientRecord[] {
  const nowMs = now.getTime();
  return state
    .read(() => readCerts(state.db))
    .map((c) => {
      const base = {
        serial: c.serial,
        name: c.name,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        fingerprintSha256: c.fingerprintSha256,
        ...(c.supersedes !== null ? { supersedes: c.supersedes } : {}),
        ...(c.supersededBy !== null ? { supersededBy: c.supersededBy } : {}),
        ...(c.groups !== null ? { groups: c.groups } : {}),
        renewable: c.renewable,
        ...(c.renewUntil !== null ? { renewUntil: c.renewUntil } : {}),
      };
      if (c.revocation) return { ...base, status: 'revoked', renewal: null, ...c.revocation };
      if (Date.parse(c.notAfter) <= nowMs) return { ...base, status: 'expired', renewal: 'expired' };
      // Still valid, but its successor is the one to watch (and to renew).
      if (c.supersededBy !== null) return { ...base, status: 'superseded', renewal: null };
      return { ...base, status: 'active', renewal: renewalState(c, nowMs) };
    });
}

export function countClients(clients: readonly ClientRecord[]): ClientCounts {
  const counts = { active: 0, superseded: 0, expired: 0, revoked: 0, total: clients.length };
  for (const c of clients) counts[c.status] += 1;
  return counts;
}

export interface StatusExtras {
  readonly gatewayState: GatewayState;
  readonly vault: { backend: VaultBackend | null; note?: string };
  readonly needsPassphrase: boolean;
  readonly auditWrites: StatusInfo['auditWrites'];
  /** The server renewal failure to show, read in the status snapshot (server-renewal.ts). */
  readonly renewalFailure?: (db: DatabaseSync) => ServerRenewalFailure | null;
}

export function uninitializedStatus(
  stateDir: string,
  gatewayConfig: GatewayConfig,
  extras: StatusExtras,
): StatusInfo {
  return {
    initialized: false,
    stateDir,
    ca: null,
    server: null,
    serverRenewalFailure: null,
    clients: { active: 0, superseded: 0, expired: 0, revoked: 0, total: 0 },
    crl: null,
    gateway: { config: gatewayConfig, state: extras.gatewayState },
    vault: extras.vault,
    auditWrites: extras.auditWrites,
  };
}

export function readStatus(state: StateDb, stateDir: string, now: Date, extras: StatusExtras): StatusInfo {
  const snap = state.read(() => ({
    meta: readMeta(state.db),
    caPem: readCa(state.db).certPem,
    serverPem: readCurrentServer(state.db).certPem,
    gateway: readGatewayConfig(state.db),
    crl: readCrl(state.db),
    failOpen: readAuditSettings(state.db).failOpen,
    mcpServers: liveMcpServers(state.db),
    renewalFailure: extras.renewalFailure?.(state.db) ?? null,
  }));
  const caSummary = summarizeCert(snap.caPem);
  const ca: CaInfo = {
    subject: caSummary.subject,
    algorithm: snap.meta.algorithm,
    serial: caSummary.serial,
    notBefore: caSummary.notBefore.toISOString(),
    notAfter: caSummary.notAfter.toISOString(),
    daysLeft: daysLeft(caSummary.notAfter, now),
    fingerprintSha256: caSummary.fingerprintSha256,
    renewal: renewalState(caSummary, now),
  };
  const serverSummary = summarizeCert(snap.serverPem);
  const server: ServerCertInfo = {
    subject: serverSummary.subject,
    sans: serverSummary.sans,
    serial: serverSummary.serial,
    notBefore: serverSummary.notBefore.toISOString(),
    notAfter: serverSummary.notAfter.toISOString(),
    daysLeft: daysLeft(serverSummary.notAfter, now),
    fingerprintSha256: serverSummary.fingerprintSha256,
    renewal: renewalState(serverSummary, now),
    renewalDueAt: new Date(renewalDueAt(serverSummary)).toISOString(),
  };
  const nextUpdate = new Date(snap.crl.nextUpdate);
  return {
    initialized: true,
    stateDir,
    ca,
    server,
    serverRenewalFailure: snap.renewalFailure,
    clients: countClients(listClients(state, now)),
    crl: {
      crlNumber: String(snap.crl.number),
      nextUpdate: snap.crl.nextUpdate,
      daysLeft: daysLeft(nextUpdate, now),
    },
    gateway: { config: snap.gateway, state: extras.gatewayState },
    vault: {
      ...extras.vault,
      backend: snap.meta.vaultBackend,
      locked: snap.meta.vaultBackend === 'passphrase' && extras.needsPassphrase,
    },
    // The setting comes from the database: this process may not be the one running the gateway.
    auditWrites: { ...extras.auditWrites, failOpen: snap.failOpen },
    mcpServers: snap.mcpServers,
  };
}

import type { AuditRecord, ClientRecord, ServerRenewalFailure, StatusInfo } from '../../shared/model';
import type { RenewalState } from '../../shared/renewal';

/** Human-readable output; --json gives the machine-readable shapes. */

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatList(clients: readonly ClientRecord[]): string {
  if (clients.length === 0) return 'no client certificates issued yet';
  // RENEWAL is the lifetime rule (src/shared/renewal.ts): ok, due (2/3 gone), overdue, expired.
  return table(
    ['SERIAL', 'NAME', 'NOT AFTER', 'STATUS', 'RENEWAL'],
    clients.map((c) => [c.serial, c.name, c.notAfter, c.status, c.renewal ?? '-']),
  );
}

export function formatStatus(s: StatusInfo): string {
  if (!s.initialized || !s.ca || !s.server) return `no CA in ${s.stateDir}`;
  const g = s.gateway.config;
  return [
    `state dir:  ${s.stateDir}`,
    `CA:         ${s.ca.subject} (${s.ca.algorithm}), until ${s.ca.notAfter} (${s.ca.daysLeft} days left, renewal ${renewalWord(s.ca.renewal)})`,
    `server:     ${s.server.subject}, SANs ${s.server.sans.join(', ')}`,
    `            until ${s.server.notAfter} (${s.server.daysLeft} days left, renewal ${renewalWord(s.server.renewal)})`,
    s.server.renewal === 'ok'
      ? `            renewed automatically from ${s.server.renewalDueAt} while serve or the app runs`
      : '            renewed automatically while serve or the app runs; or now: mtls-console rotate-server',
    ...renewalFailureLines(s.serverRenewalFailure),
    `clients:    ${s.clients.active} active, ${s.clients.superseded} superseded, ${s.clients.expired} expired, ${s.clients.revoked} revoked`,
    ...(s.crl
      ? [
          `CRL:        number ${s.crl.crlNumber}, valid until ${s.crl.nextUpdate} (${s.crl.daysLeft} days left)` +
            (s.crl.daysLeft < 2 ? '; republish it: mtls-console crl --refresh' : ''),
        ]
      : []),
    `gateway:    listen ${g.listen} → ${g.upstream}, max ${g.maxConnections} connections`,
    `vault:      ${s.vault.backend ?? 'none'}`,
    s.auditWrites.ok
      ? `audit:      gateway records ${s.auditWrites.failOpen ? 'fail-open' : 'fail-closed'}`
      : `audit:      FAILING: ${s.auditWrites.message ?? 'records cannot be written'}`,
    // Who may act on the CA over MCP right now (issue 11): an allow-list nobody can see is no control.
    ...(s.mcpServers ?? []).map(
      (m) =>
        `mcp:        ${m.client} (pid ${m.pid}, since ${m.since}): ` +
        (m.allow.length === 0
          ? 'read-only'
          : `may ${m.allow.join(', ')}${m.bundleDir ? `; bundles to ${m.bundleDir}` : ''}`),
    ),
  ].join('\n');
}

/** The lifetime rule's verdict (src/shared/renewal.ts); anything but ok in capitals, to be seen. */
function renewalWord(state: RenewalState): string {
  return state === 'ok' ? state : state.toUpperCase();
}

/** Loud on purpose: a server certificate that is not being renewed will stop every handshake. */
function renewalFailureLines(f: ServerRenewalFailure | null): string[] {
  if (!f) return [];
  return [
    `renewal:    FAILING: the server certificate could not be renewed automatically (${f.attempts} attempt${f.attempts === 1 ? '' : 's'} since ${f.firstFailedAt}): ${f.message}`,
    `            next attempt at ${f.nextAttemptAt}; or rotate it now: mtls-console rotate-server`,
  ];
}

export function formatAudit(records: readonly AuditRecord[]): string {
  if (records.length === 0) return 'the audit log is empty';
  return records
    .map((r) => {
      const who =
        r.actor.kind === 'operator'
          ? r.actor.name
          : r.actor.kind === 'client'
            ? `${r.actor.cn} (${r.actor.serial})`
            : 'system';
      const about = r.actor.kind !== 'client' && r.cn ? `  ${r.cn}${r.serial ? ` (${r.serial})` : ''}` : '';
      return `${String(r.seq).padStart(6)}  ${r.time}  ${r.type.padEnd(28)} ${who}${about}  ${JSON.stringify(r.details)}`;
    })
    .join('\n');
}

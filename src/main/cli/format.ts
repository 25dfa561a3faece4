import type { AuditRecord, ClientRecord, StatusInfo } from '../../shared/model';

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
  return table(
    ['SERIAL', 'NAME', 'NOT AFTER', 'STATUS'],
    clients.map((c) => [c.serial, c.name, c.notAfter, c.status]),
  );
}

export function formatStatus(s: StatusInfo): string {
  if (!s.initialized || !s.ca || !s.server) return `no CA in ${s.stateDir}`;
  const g = s.gateway.config;
  return [
    `state dir:  ${s.stateDir}`,
    `CA:         ${s.ca.subject} (${s.ca.algorithm}), until ${s.ca.notAfter} (${s.ca.daysLeft} days left)`,
    `server:     ${s.server.subject}, SANs ${s.server.sans.join(', ')}`,
    `            until ${s.server.notAfter} (${s.server.daysLeft} days left)`,
    `clients:    ${s.clients.active} active, ${s.clients.expired} expired, ${s.clients.revoked} revoked`,
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
  ].join('\n');
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

import { call } from './api';
import { reportError } from './lib/useAction';
import { useAuditStore } from './stores/audit';
import { useClientsStore } from './stores/clients';
import type { AuditRecord } from '../../shared/model';
import { useConnectionsStore } from './stores/connections';
import { useStatusStore } from './stores/status';

/** Refetches the client registry (after issue, revoke, or a status change that moved the counts). */
export async function refreshClients(): Promise<void> {
  try {
    useClientsStore.getState().setClients(await call('clients.list', {}));
  } catch (err) {
    reportError(err);
  }
}

export async function refreshConnections(): Promise<void> {
  try {
    useConnectionsStore.getState().setConnections(await call('connections.list', {}));
  } catch (err) {
    reportError(err);
  }
}

/** Loads the whole audit trail once (later records arrive by `audit.appended`). */
export async function loadAudit(force = false): Promise<void> {
  const audit = useAuditStore.getState();
  if (audit.loading || (audit.loaded && !force)) return;
  audit.setLoading(true);
  try {
    const records = await call('audit.query', {});
    audit.load(records);
    // Refusals from the last minutes that predate this session's events also belong on the chart.
    const cutoff = Date.now() - 15 * 60_000;
    let i = records.length;
    while (i > 0 && Date.parse((records[i - 1] as AuditRecord).time) >= cutoff) i--;
    useConnectionsStore.getState().addRefusals(records.slice(i));
  } catch (err) {
    audit.setLoading(false);
    reportError(err);
  }
}

/**
 * Subscribes the stores to main's events, then fetches the initial copies. Returns the unsubscribe.
 * Stores are a copy of main's state (DESIGN.md §3): events replace or extend them, nothing else.
 */
export function startFeeds(): () => void {
  const offs = [
    window.mtls.on('status.changed', (status) => {
      const prev = useStatusStore.getState().status;
      useStatusStore.getState().setStatus(status);
      const a = prev?.clients;
      const b = status.clients;
      if (!a || a.total !== b.total || a.revoked !== b.revoked || a.active !== b.active)
        void refreshClients();
    }),
    window.mtls.on('connections.changed', (list) => useConnectionsStore.getState().setConnections(list)),
    window.mtls.on('audit.appended', (records) => {
      useAuditStore.getState().append(records);
      useConnectionsStore.getState().addRefusals(records);
    }),
  ];
  const tick = window.setInterval(() => useConnectionsStore.getState().tick(), 5_000);
  void refreshClients();
  void refreshConnections();
  return () => {
    for (const off of offs) off();
    window.clearInterval(tick);
  };
}

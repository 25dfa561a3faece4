import { call } from './api';
import { reportError } from './lib/useAction';
import { useAuditStore } from './stores/audit';
import { useClientsStore } from './stores/clients';
import { REFUSAL_WINDOW_MS, REFUSED_TYPE, useConnectionsStore } from './stores/connections';
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

/** At most this many pages of refusals are read for the chart (a flood past that is summarized anyway). */
const REFUSAL_PAGES_MAX = 10;

/**
 * Refusals from the chart's recent past that predate this session's events: one query by type and
 * time, never the whole log. The type is a prefix, so `gateway.connection.refused` also brings the
 * `.suppressed` flood summaries, which the store counts by their `details.count`.
 */
export async function loadRecentRefusals(now = Date.now()): Promise<void> {
  const filter = { type: REFUSED_TYPE, from: new Date(now - REFUSAL_WINDOW_MS).toISOString() };
  try {
    let before: number | undefined;
    for (let i = 0; i < REFUSAL_PAGES_MAX; i++) {
      const page = await call('audit.query', {
        filter,
        limit: 1000,
        ...(before === undefined ? {} : { before }),
      });
      useConnectionsStore.getState().addRefusals(page.records);
      if (page.nextCursor === null) break;
      before = page.nextCursor;
    }
  } catch (err) {
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
      useAuditStore.getState().appendLive(records);
      useConnectionsStore.getState().addRefusals(records);
    }),
  ];
  const tick = window.setInterval(() => useConnectionsStore.getState().tick(), 5_000);
  void refreshClients();
  void refreshConnections();
  // After subscribing, so a refusal written meanwhile arrives by event if the query missed it.
  void loadRecentRefusals();
  return () => {
    for (const off of offs) off();
    window.clearInterval(tick);
  };
}

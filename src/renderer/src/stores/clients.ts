import { create } from 'zustand';
import type { ClientRecord } from '../../../shared/model';
import { call } from '../api';
import { currentNow, onTick, tickNow } from '../lib/useNow';
import { useStatusStore } from './status';

interface ClientsState {
  readonly clients: readonly ClientRecord[];
  readonly loaded: boolean;
  setClients(clients: readonly ClientRecord[]): void;
}

/** Main's registry of issued client certificates, from `clients.list`. */
export const useClientsStore = create<ClientsState>()((set) => ({
  clients: [],
  loaded: false,
  setClients: (clients) => {
    // A certificate issued a moment ago must not be measured against an older tick (7 days left
    // for a 7-day certificate): the shared clock is never older than the list it is applied to.
    tickNow();
    set({ clients, loaded: true });
  },
}));

/**
 * When a listed certificate expires on the shared clock, main is asked again for the registry and the
 * status, so its counts (Dashboard) agree with the rows. Once per expiry: a serial that main still
 * lists as valid (a clock a little ahead of main's) is not asked about again.
 */
const askedFor = new Set<string>();

async function refreshAfterExpiry(): Promise<void> {
  try {
    const [clients, status] = await Promise.all([call('clients.list', {}), call('status.get', {})]);
    useClientsStore.getState().setClients(clients);
    useStatusStore.getState().setStatus(status);
  } catch {
    // The next event or tick tries again; errors from a background refresh are not the operator's.
  }
}

onTick(() => {
  const now = currentNow();
  const lapsed = useClientsStore
    .getState()
    .clients.filter(
      (c) => (c.status === 'active' || c.status === 'superseded') && Date.parse(c.notAfter) <= now,
    )
    .map((c) => c.serial)
    .filter((s) => !askedFor.has(s));
  if (lapsed.length === 0) return;
  for (const s of lapsed) askedFor.add(s);
  void refreshAfterExpiry();
});

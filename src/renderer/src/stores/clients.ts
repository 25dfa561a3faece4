import { create } from 'zustand';
import type { ClientRecord } from '../../../shared/model';

interface ClientsState {
  readonly clients: readonly ClientRecord[];
  readonly loaded: boolean;
  setClients(clients: readonly ClientRecord[]): void;
}

/** Main's registry of issued client certificates, from `clients.list`. */
export const useClientsStore = create<ClientsState>()((set) => ({
  clients: [],
  loaded: false,
  setClients: (clients) => set({ clients, loaded: true }),
}));

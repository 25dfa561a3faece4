import { create } from 'zustand';
import type { StatusInfo } from '../../../shared/model';

interface StatusState {
  readonly status: StatusInfo | null;
  setStatus(status: StatusInfo): void;
}

/** Main's StatusInfo, from `status.get`, every call that returns it, and `status.changed`. */
export const useStatusStore = create<StatusState>()((set) => ({
  status: null,
  setStatus: (status) => set({ status }),
}));

/**
 * Whether the vault must be unlocked before keys can be used. StatusInfo has no such flag yet (main
 * learns it only when a key is needed, answering VAULT_LOCKED), so this reads an optional `locked`
 * field should main add one; until then the unlock prompt appears on the first VAULT_LOCKED.
 */
export function statusSaysLocked(status: StatusInfo): boolean {
  const vault = status.vault as StatusInfo['vault'] & { readonly locked?: boolean };
  return status.initialized && vault.locked === true;
}

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
 * Whether the vault must be unlocked before keys can be used. StatusInfo has no explicit flag yet, so
 * this reads an optional `locked` field if main adds one.
 */
export function statusSaysLocked(status: StatusInfo): boolean {
  const vault = status.vault as StatusInfo['vault'] & { readonly locked?: boolean };
  return status.initialized && vault.locked === true;
}

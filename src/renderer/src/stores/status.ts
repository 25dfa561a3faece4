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

/** Whether main holds no passphrase for a passphrase vault yet (or was told to forget it). */
export function statusSaysLocked(status: StatusInfo): boolean {
  return status.initialized && status.vault.locked === true;
}

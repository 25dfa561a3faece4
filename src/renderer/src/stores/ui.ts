import { create } from 'zustand';

export type Screen = 'dashboard' | 'clients' | 'connections' | 'audit' | 'settings';

export interface ConfirmRequest {
  readonly title: string;
  readonly body: string;
  readonly okLabel: string;
  readonly danger: boolean;
}

interface UiState {
  readonly screen: Screen;
  readonly error: { readonly message: string; readonly code?: string; readonly id: number } | null;
  readonly confirm: (ConfirmRequest & { readonly resolve: (ok: boolean) => void }) | null;
  /** Set when main answered VAULT_LOCKED: the unlock screen takes over until `vault.unlock` succeeds. */
  readonly vaultLocked: boolean;
  setScreen(screen: Screen): void;
  showError(message: string, code?: string): void;
  clearError(): void;
  setVaultLocked(locked: boolean): void;
}

let errorId = 0;

export const useUiStore = create<UiState>()((set) => ({
  screen: 'dashboard',
  error: null,
  confirm: null,
  vaultLocked: false,
  setScreen: (screen) => set({ screen, error: null }),
  showError: (message, code) => set({ error: { message, code, id: ++errorId } }),
  clearError: () => set({ error: null }),
  setVaultLocked: (vaultLocked) => set({ vaultLocked }),
}));

/** Opens the in-app confirm dialog; resolves true when the operator confirms. One dialog at a time. */
export function askConfirm(req: Partial<ConfirmRequest> & { title: string; body: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const previous = useUiStore.getState().confirm;
    previous?.resolve(false);
    useUiStore.setState({
      confirm: { okLabel: 'Confirm', danger: true, ...req, resolve },
    });
  });
}

export function settleConfirm(ok: boolean): void {
  const c = useUiStore.getState().confirm;
  if (!c) return;
  useUiStore.setState({ confirm: null });
  c.resolve(ok);
}

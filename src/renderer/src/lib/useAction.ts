import { useCallback, useState } from 'react';
import { CallError, errorMessage } from '../api';
import { useStatusStore } from '../stores/status';
import { useUiStore } from '../stores/ui';

/** Reports a failure the one way the app does: main's message in the error alert. */
export function reportError(err: unknown): void {
  const ui = useUiStore.getState();
  if (err instanceof CallError) {
    ui.showError(err.message, err.code);
    // Only a passphrase vault can be unlocked from here; a missing OS keychain cannot.
    if (err.code === 'VAULT_LOCKED' && useStatusStore.getState().status?.vault.backend === 'passphrase') {
      ui.setVaultLocked(true);
    }
  } else {
    ui.showError(errorMessage(err));
  }
}

/**
 * Runs an async operation with a pending flag (for progress) and error reporting. Resolves with the
 * operation's value, or undefined when it failed (the error is already shown).
 */
export function useAction(): {
  readonly pending: boolean;
  run<T>(op: () => Promise<T>): Promise<T | undefined>;
} {
  const [pending, setPending] = useState(false);
  const run = useCallback(async <T>(op: () => Promise<T>): Promise<T | undefined> => {
    setPending(true);
    useUiStore.getState().clearError();
    try {
      return await op();
    } catch (err) {
      reportError(err);
      return undefined;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, run };
}

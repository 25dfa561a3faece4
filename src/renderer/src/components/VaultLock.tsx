import { useEffect } from 'react';
import { call } from '../api';
import { useAction } from '../lib/useAction';
import { useStatusStore } from '../stores/status';

/** Without a key press, click or scroll for this long, a passphrase vault locks itself (issue 10). */
export const AUTO_LOCK_MS = 15 * 60_000;

/** Whether the vault holds a passphrase this process could forget: only a passphrase vault locks. */
function useLockable(): boolean {
  return useStatusStore((s) => s.status?.vault.backend === 'passphrase' && s.status.vault.locked !== true);
}

async function lockVault(): Promise<void> {
  useStatusStore.getState().setStatus(await call('vault.lock', {}));
}

/**
 * "Lock now" in the navigation, and the idle auto-lock behind it. Locking forgets the passphrase in
 * main (audited there as `vault.locked`); the next operation that needs a key asks for it again.
 */
export function VaultLock() {
  const lockable = useLockable();
  const lock = useAction();
  const { run } = lock;
  useEffect(() => {
    if (!lockable) return;
    let timer = setTimeout(() => void run(lockVault), AUTO_LOCK_MS);
    const active = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void run(lockVault), AUTO_LOCK_MS);
    };
    const events = ['keydown', 'pointerdown', 'wheel'] as const;
    for (const e of events) window.addEventListener(e, active, { passive: true });
    return () => {
      clearTimeout(timer);
      for (const e of events) window.removeEventListener(e, active);
    };
  }, [lockable, run]);
  if (!lockable) return null;
  return (
    <button
      type="button"
      className="btn nav-lock"
      data-testid="vault-lock"
      disabled={lock.pending}
      title={`Forget the passphrase now; it also locks after ${AUTO_LOCK_MS / 60_000} minutes without input`}
      onClick={() => void lock.run(lockVault)}
    >
      Lock the vault
    </button>
  );
}

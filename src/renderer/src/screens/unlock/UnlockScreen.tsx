import { useState } from 'react';
import { call } from '../../api';
import { ErrorAlert } from '../../components/ErrorAlert';
import { Progress } from '../../components/Progress';
import { useAction } from '../../lib/useAction';
import { useStatusStore } from '../../stores/status';
import { useUiStore } from '../../stores/ui';

/**
 * The vault is sealed with a passphrase: ask for it. Full page when status says so at start; over the
 * app (`overlay`) when an operation came back VAULT_LOCKED, so the operator's dialog survives.
 */
export function UnlockScreen({
  stateDir,
  overlay,
}: {
  readonly stateDir: string;
  readonly overlay?: boolean;
}) {
  const [passphrase, setPassphrase] = useState('');
  const { pending, run } = useAction();
  const submit = async () => {
    const status = await run(() => call('vault.unlock', { passphrase }));
    if (status) {
      setPassphrase('');
      useStatusStore.getState().setStatus(status);
      useUiStore.getState().setVaultLocked(false);
    }
  };
  return (
    <div className={overlay ? 'backdrop' : 'wizard-page'} data-testid="unlock">
      <form
        className="wizard unlock"
        onSubmit={(e) => {
          e.preventDefault();
          if (passphrase !== '' && !pending) void submit();
        }}
      >
        <header className="wizard-head">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true" />
            mtls-console
          </div>
          <h1>Unlock the key vault</h1>
          <p className="muted">
            Private keys in <code>{stateDir}</code> are sealed with a passphrase.
          </p>
        </header>
        <ErrorAlert />
        <div className="field">
          <label htmlFor="unlock-passphrase">Passphrase</label>
          <input
            id="unlock-passphrase"
            data-testid="unlock-passphrase"
            type="password"
            autoComplete="current-password"
            autoFocus
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
          />
        </div>
        {pending ? <Progress label="Deriving key…" /> : null}
        <footer className="actions">
          <button
            type="submit"
            className="btn btn-primary"
            data-testid="unlock-submit"
            disabled={pending || passphrase === ''}
          >
            Unlock
          </button>
        </footer>
      </form>
    </div>
  );
}

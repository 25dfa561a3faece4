import { useEffect, useState } from 'react';
import { call } from './api';
import { ErrorAlert } from './components/ErrorAlert';
import { Progress } from './components/Progress';
import { reportError } from './lib/useAction';
import { CaWizard } from './screens/wizard/CaWizard';
import { UnlockScreen } from './screens/unlock/UnlockScreen';
import { Shell } from './Shell';
import { statusSaysLocked, useStatusStore } from './stores/status';
import { useUiStore } from './stores/ui';

async function fetchStatus(): Promise<boolean> {
  try {
    useStatusStore.getState().setStatus(await call('status.get', {}));
    return true;
  } catch (err) {
    reportError(err);
    return false;
  }
}

/** Chooses the top-level screen from main's status: first-run wizard, vault unlock, or the app. */
export function App() {
  const status = useStatusStore((s) => s.status);
  const vaultLocked = useUiStore((s) => s.vaultLocked);
  const [failed, setFailed] = useState(false);

  const load = () =>
    fetchStatus().then((ok) => {
      if (!ok) setFailed(true);
    });
  useEffect(() => {
    void fetchStatus().then((ok) => {
      if (!ok) setFailed(true);
    });
  }, []);

  if (!status) {
    return (
      <div className="wizard-page" data-testid="boot">
        <div className="wizard">
          <ErrorAlert />
          {failed ? (
            <button
              type="button"
              className="btn"
              onClick={() => {
                setFailed(false);
                void load();
              }}
            >
              Retry
            </button>
          ) : (
            <Progress label="Reading state…" />
          )}
        </div>
      </div>
    );
  }
  if (!status.initialized) return <CaWizard keyringNote={status.vault.note} />;
  if (statusSaysLocked(status)) return <UnlockScreen stateDir={status.stateDir} />;
  return (
    <>
      <Shell />
      {vaultLocked ? <UnlockScreen stateDir={status.stateDir} overlay /> : null}
    </>
  );
}

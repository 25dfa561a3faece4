import { useEffect } from 'react';
import { startFeeds } from './feeds';
import { ConfirmDialog } from './components/ConfirmDialog';
import { ErrorAlert } from './components/ErrorAlert';
import { AuditPanel } from './screens/audit/AuditPanel';
import { ClientsPanel } from './screens/clients/ClientsPanel';
import { ConnectionsPanel } from './screens/connections/ConnectionsPanel';
import { Dashboard } from './screens/dashboard/Dashboard';
import { SettingsPanel } from './screens/settings/SettingsPanel';
import { useAuditStore } from './stores/audit';
import { useConnectionsStore } from './stores/connections';
import { useStatusStore } from './stores/status';
import { useUiStore, type Screen } from './stores/ui';

const NAV: readonly { readonly id: Screen; readonly label: string }[] = [
  { id: 'dashboard', label: 'Dashboard' },
  { id: 'clients', label: 'Clients' },
  { id: 'connections', label: 'Connections' },
  { id: 'audit', label: 'Audit' },
  { id: 'settings', label: 'Settings' },
];

/**
 * Opening the Audit screen loads its first page (again, if records were written while it was away);
 * while it is open `audit.appended` keeps the top current.
 */
function AuditScreen() {
  useEffect(() => {
    const audit = useAuditStore.getState();
    audit.open();
    return () => audit.close();
  }, []);
  return <AuditPanel />;
}

function CurrentScreen({ screen }: { readonly screen: Screen }) {
  switch (screen) {
    case 'dashboard':
      return <Dashboard />;
    case 'clients':
      return <ClientsPanel />;
    case 'connections':
      return <ConnectionsPanel />;
    case 'audit':
      return <AuditScreen />;
    case 'settings':
      return <SettingsPanel />;
    default: {
      const never: never = screen;
      return never;
    }
  }
}

function GatewayBadge() {
  const state = useStatusStore((s) => s.status?.gateway.state.kind);
  const live = useConnectionsStore((s) => s.connections.length);
  if (!state) return null;
  return (
    <div className="nav-foot">
      <span className={`dot dot-${state}`} aria-hidden="true" />
      Gateway {state}
      {state === 'running' ? ` · ${live} live` : ''}
    </div>
  );
}

/**
 * Gateway records that cannot be written (a full disk) are loud: unless the operator chose fail-open,
 * the gateway is taking no requests until they can.
 */
function AuditWritesBanner() {
  const writes = useStatusStore((s) => s.status?.auditWrites);
  if (!writes || writes.ok) return null;
  return (
    <div className="notice notice-danger" role="alert" data-testid="audit-writes-failing">
      <strong>Audit records cannot be written.</strong>{' '}
      {writes.failOpen
        ? `The gateway keeps proxying (fail-open); ${writes.queued.toLocaleString()} records wait in memory.`
        : 'The gateway takes no new requests until they can (fail-closed).'}{' '}
      {writes.message ?? ''}
    </div>
  );
}

/** The initialized app: navigation, the current screen, and the shared alert and confirm dialog. */
export function Shell() {
  const screen = useUiStore((s) => s.screen);
  const setScreen = useUiStore((s) => s.setScreen);
  // The unlock overlay shows its own alert; one error-alert on the page at a time.
  const vaultLocked = useUiStore((s) => s.vaultLocked);
  useEffect(() => startFeeds(), []);
  return (
    <div className="shell">
      <nav className="nav" aria-label="Main">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          mtls-console
        </div>
        <ul>
          {NAV.map((n) => (
            <li key={n.id}>
              <button
                type="button"
                className={screen === n.id ? 'nav-item nav-on' : 'nav-item'}
                aria-current={screen === n.id ? 'page' : undefined}
                data-testid={`nav-${n.id}`}
                onClick={() => setScreen(n.id)}
              >
                {n.label}
              </button>
            </li>
          ))}
        </ul>
        <GatewayBadge />
      </nav>
      <main className="main">
        {vaultLocked ? null : <ErrorAlert />}
        <AuditWritesBanner />
        <CurrentScreen screen={screen} />
      </main>
      <ConfirmDialog />
    </div>
  );
}

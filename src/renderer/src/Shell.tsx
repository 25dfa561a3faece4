import { useEffect } from 'react';
import { startFeeds } from './feeds';
import { ConfirmDialog } from './components/ConfirmDialog';
import { ErrorAlert } from './components/ErrorAlert';
import { useModalOpen } from './components/Modal';
import { VaultLock } from './components/VaultLock';
import { AuditPanel } from './screens/audit/AuditPanel';
import { ClientsPanel } from './screens/clients/ClientsPanel';
import { ConnectionsPanel } from './screens/connections/ConnectionsPanel';
import { Dashboard } from './screens/dashboard/Dashboard';
import { SettingsPanel } from './screens/settings/SettingsPanel';
import { useAuditStore } from './stores/audit';
import { useConnectionsStore } from './stores/connections';
import { useStatusStore } from './stores/status';
import { useUiStore, type Screen } from './stores/ui';
import { agoText, upstreamProblem } from './lib/upstream-health';
import { TICK_MS, useNow } from './lib/useNow';
import './status-bar.css';

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

/**
 * The status bar: the gateway's state and, while it runs, whether its upstream answers (issue 10:
 * "Running — upstream unreachable: ECONNREFUSED 12 s ago", in words and a warning colour).
 */
function GatewayBadge() {
  const state = useStatusStore((s) => s.status?.gateway.state.kind);
  const upstream = useStatusStore((s) => s.status?.upstreamHealth);
  const live = useConnectionsStore((s) => s.connections.length);
  // "12 s ago" moves while the upstream is down; otherwise the shared clock's usual pace is enough.
  const now = useNow(upstream?.down === true ? 5_000 : TICK_MS);
  if (!state) return null;
  const problem = state === 'running' ? upstreamProblem(upstream, now) : null;
  return (
    <div
      className={problem ? 'nav-foot nav-foot-warn' : 'nav-foot'}
      data-testid="status-bar"
      data-upstream-down={problem ? 'true' : undefined}
    >
      <span className={`dot dot-${problem ? 'warn' : state}`} aria-hidden="true" />
      <span>
        {problem ? null : (
          <>
            Gateway {state}
            {state === 'running' ? ` · ${live} live` : ''}
          </>
        )}
        {/* Always there, so the warning is announced when it appears; the age ticks outside it. */}
        <span role="status">
          {problem ? (
            <>
              <span className="sr-only">Warning: </span>Gateway running —{' '}
              {upstreamProblem(upstream, now, false)}
            </>
          ) : null}
        </span>
        {problem && upstream?.lastError ? ` ${agoText(upstream.lastError.at, now)}` : null}
      </span>
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
  // The unlock overlay and an open dialog show their own alert; one error-alert on the page at a time.
  const vaultLocked = useUiStore((s) => s.vaultLocked);
  const modalOpen = useModalOpen();
  useEffect(() => startFeeds(), []);
  return (
    // Behind the unlock overlay the app is inert: no focus, no clicks, hidden from screen readers.
    <div className="shell" inert={vaultLocked}>
      <button type="button" className="skip-link" onClick={() => document.getElementById('content')?.focus()}>
        Skip to content
      </button>
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
        <VaultLock />
        <GatewayBadge />
      </nav>
      <main className="main" id="content" tabIndex={-1}>
        {vaultLocked || modalOpen ? null : <ErrorAlert />}
        <AuditWritesBanner />
        <CurrentScreen screen={screen} />
      </main>
      <ConfirmDialog />
    </div>
  );
}

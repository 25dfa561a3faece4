import type { GatewayConfig, GatewayState } from '../../../../shared/model';
import { isLoopbackHost, parseHostPort } from '../../../../shared/validation';
import { formatAge } from '../../lib/format';

interface GatewayCardProps {
  readonly state: GatewayState;
  readonly config: GatewayConfig;
  readonly connections: number;
  readonly now: number;
  readonly busy: boolean;
  readonly onStart: () => void;
  readonly onStop: () => void;
}

function stateText(state: GatewayState, now: number): string {
  switch (state.kind) {
    case 'running':
      return `Running on ${state.listen} for ${formatAge(state.since, now)} (pid ${state.pid})`;
    case 'starting':
      return 'Starting…';
    case 'stopping':
      return 'Stopping…';
    case 'stopped':
      return 'Stopped';
    case 'crashed':
      return state.restartAt
        ? `Crashed; restarting at ${new Date(state.restartAt).toLocaleTimeString()}`
        : 'Crashed';
    default: {
      const never: never = state;
      return String(never);
    }
  }
}

export function GatewayCard({ state, config, connections, now, busy, onStart, onStop }: GatewayCardProps) {
  const listenHost = parseHostPort(config.listen)?.host;
  const exposed = listenHost !== undefined && !isLoopbackHost(listenHost);
  const canStart = state.kind === 'stopped' || state.kind === 'crashed';
  const canStop = state.kind === 'running' || state.kind === 'starting';
  return (
    <section className="card" data-testid="card-gateway">
      <header className="card-head">
        <h3>Gateway</h3>
        <span
          className={`state-pill state-${state.kind}`}
          data-testid="gateway-state"
          data-state={state.kind}
        >
          {state.kind}
        </span>
      </header>
      <p className="gateway-line">{stateText(state, now)}</p>
      <dl>
        <div className="kv">
          <dt>Listen</dt>
          <dd className="mono">
            {config.listen}
            {exposed ? <span className="tag tag-warn">network-exposed</span> : null}
          </dd>
        </div>
        <div className="kv">
          <dt>Upstream</dt>
          <dd className="mono">{config.upstream}</dd>
        </div>
        <div className="kv">
          <dt>Connections</dt>
          <dd>
            {connections} / {config.maxConnections}
          </dd>
        </div>
      </dl>
      {state.kind === 'crashed' ? (
        <div className="crash" data-testid="gateway-crash">
          <p className="crash-message">{state.message}</p>
          {state.lastLines.length > 0 ? <pre className="crash-log">{state.lastLines.join('\n')}</pre> : null}
        </div>
      ) : null}
      <footer className="card-actions">
        <button
          type="button"
          className="btn btn-primary"
          data-testid="gateway-start"
          disabled={!canStart || busy}
          onClick={onStart}
        >
          Start
        </button>
        <button
          type="button"
          className="btn btn-danger-outline"
          data-testid="gateway-stop"
          disabled={!canStop || busy}
          onClick={onStop}
        >
          Stop
        </button>
      </footer>
    </section>
  );
}

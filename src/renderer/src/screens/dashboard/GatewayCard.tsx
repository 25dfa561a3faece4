import type { GatewayConfig, GatewayState, UpstreamHealth } from '../../../../shared/model';
import { isLoopbackHost, parseHostPort } from '../../../../shared/validation';
import { formatAge, formatClock } from '../../lib/format';
import { agoText, errorCode, errorRateText, upstreamProblem } from '../../lib/upstream-health';
import './gateway-card.css';

interface GatewayCardProps {
  readonly state: GatewayState;
  readonly config: GatewayConfig;
  readonly connections: number;
  /** The upstream as the gateway's records show it (main's upstream-health.ts). */
  readonly upstream?: UpstreamHealth | undefined;
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
      return state.restartAt ? `Crashed; restarting at ${formatClock(state.restartAt)}` : 'Crashed';
    default: {
      const never: never = state;
      return String(never);
    }
  }
}

export function GatewayCard({
  state,
  config,
  connections,
  upstream,
  now,
  busy,
  onStart,
  onStop,
}: GatewayCardProps) {
  const running = state.kind === 'running';
  const problem = running ? upstreamProblem(upstream, now) : null;
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
      {problem && upstream ? (
        <div className="notice notice-warn" data-testid="gateway-upstream-warning" data-down="true">
          <strong>Warning: {problem}.</strong> {errorRateText(upstream)}; clients get 502 or 504 until the
          upstream answers.
        </div>
      ) : null}
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
        {running && upstream ? (
          <div className="kv">
            <dt>Upstream health</dt>
            <dd className="dd-wrap" data-testid="gateway-upstream-health" data-down={problem !== null}>
              {problem ? 'Failing' : 'OK'} · {errorRateText(upstream)}
              {upstream.lastError && !problem
                ? ` · last error ${errorCode(upstream.lastError.message)} ${agoText(upstream.lastError.at, now)}`
                : ''}
            </dd>
          </div>
        ) : null}
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

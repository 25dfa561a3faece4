import { useEffect, useState } from 'react';
import type { CaRolloverStatus } from '../../../../shared/model';
import { call } from '../../api';
import { formatDateTime, shortSerial } from '../../lib/format';
import { reportError, useAction } from '../../lib/useAction';
import { useStatusStore } from '../../stores/status';
import { askConfirm } from '../../stores/ui';
import './rollover-card.css';

/**
 * The staged CA rollover (issue 9): its phases with dates, how many clients moved to the new CA, and
 * Start and Retire behind the confirm dialog. Read again whenever the status changes (any process).
 */
export function RolloverCard() {
  const status = useStatusStore((s) => s.status);
  const setStatus = useStatusStore((s) => s.setStatus);
  const [plan, setPlan] = useState<CaRolloverStatus | null>(null);
  const action = useAction();

  useEffect(() => {
    if (!status?.initialized) return;
    let live = true;
    call('ca.rollover.status', {}).then(
      (p) => live && setPlan(p),
      (e: unknown) => live && reportError(e),
    );
    return () => {
      live = false;
    };
  }, [status]);

  if (!plan) return null;
  const rolling = plan.state === 'rolling';
  const left = plan.clients.onOldCa;

  const after = async (next: CaRolloverStatus | undefined) => {
    if (!next) return;
    setPlan(next);
    const fresh = await action.run(() => call('status.get', {}));
    if (fresh) setStatus(fresh);
  };
  const onStart = async () => {
    const ok = await askConfirm({
      title: 'Start a CA rollover?',
      body: `A new CA (${plan.current.name} G…, same algorithm) is created and cross-signed with the current one. The gateway trusts both roots, the server certificate is re-issued under the new CA with the cross certificate in its chain, and every new certificate and renewal comes from the new CA.`,
      okLabel: 'Start rollover',
      danger: false,
    });
    if (ok) await after(await action.run(() => call('ca.rollover.start', {})));
  };
  const onRetire = async () => {
    const ok = await askConfirm({
      title: `Retire ${plan.old?.name ?? 'the old CA'}?`,
      body:
        left > 0
          ? `${left} valid client certificate${left === 1 ? '' : 's'} from the old CA will be revoked (superseded), and the gateway will stop trusting its root. Clients that were not renewed lose access.`
          : 'The gateway stops trusting the old root and serves the server certificate without the cross certificate.',
      okLabel: left > 0 ? `Revoke ${left} and retire` : 'Retire old CA',
      danger: true,
    });
    if (ok) await after(await action.run(() => call('ca.rollover.retire', { revokeRemaining: left > 0 })));
  };

  return (
    <section className="card" data-testid="card-rollover">
      <header className="card-head">
        <h3>CA rollover</h3>
        <span className="muted small" data-testid="rollover-state">
          {plan.state === 'idle' ? 'none' : rolling ? 'running' : 'done'}
        </span>
      </header>
      {plan.state === 'idle' ? (
        <p className="muted small">
          Issuing CA {plan.current.name} ({shortSerial(plan.current.serial)}), until{' '}
          {formatDateTime(plan.current.notAfter)}.
        </p>
      ) : (
        <ol className="rollover-phases" aria-label="Rollover phases">
          {plan.phases.map((p) => (
            <li key={p.key} className={p.done ? 'done' : 'todo'} data-testid={`rollover-phase-${p.key}`}>
              <span className="rollover-mark" aria-hidden="true">
                {p.done ? '✓' : '○'}
              </span>
              <span className="rollover-label">{p.label}</span>
              <span className="muted small">{p.at ? formatDateTime(p.at) : p.done ? '' : 'pending'}</span>
            </li>
          ))}
        </ol>
      )}
      {rolling && left > 0 ? (
        <p className="small" data-testid="rollover-remaining">
          Still on the old CA: {plan.clients.remaining.map((c) => c.name).join(', ')}
          {left > plan.clients.remaining.length ? ` and ${left - plan.clients.remaining.length} more` : ''}
        </p>
      ) : null}
      <div className="actions">
        {rolling ? (
          <button
            type="button"
            className="btn btn-danger"
            data-testid="rollover-retire"
            disabled={action.pending}
            onClick={() => void onRetire()}
          >
            Retire old CA
          </button>
        ) : (
          <button
            type="button"
            className="btn"
            data-testid="rollover-start"
            disabled={action.pending}
            onClick={() => void onStart()}
          >
            Start rollover
          </button>
        )}
      </div>
    </section>
  );
}

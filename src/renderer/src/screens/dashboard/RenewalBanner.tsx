import type { ServerCertInfo, ServerRenewalFailure } from '../../../../shared/model';
import { renewalState } from '../../../../shared/renewal';
import { formatDateTime } from '../../lib/format';

interface RenewalBannerProps {
  readonly server: ServerCertInfo;
  readonly failure: ServerRenewalFailure | null;
  readonly now: number;
}

/**
 * Loud on purpose (issue 9): a server certificate that is not being renewed ends every handshake
 * when it expires. Shown while an automatic renewal keeps failing, or once the certificate expired.
 */
export function RenewalBanner({ server, failure, now }: RenewalBannerProps) {
  const state = renewalState(server, now);
  if (!failure && state !== 'expired') return null;
  return (
    <div
      className={`notice ${state === 'due' ? 'notice-warn' : 'notice-danger'}`}
      role="alert"
      data-testid="server-renewal-failing"
      data-code={failure?.code ?? 'EXPIRED'}
      data-attempts={failure?.attempts ?? 0}
    >
      <strong>
        {state === 'expired'
          ? 'The server certificate has expired: clients cannot connect.'
          : `The server certificate could not be renewed automatically (it expires ${formatDateTime(server.notAfter)}).`}
      </strong>{' '}
      {failure ? (
        <>
          {failure.message} — {failure.attempts} attempt{failure.attempts === 1 ? '' : 's'} since{' '}
          {formatDateTime(failure.firstFailedAt)}; next at {formatDateTime(failure.nextAttemptAt)}. Fix the
          cause, or use “Rotate now”.
        </>
      ) : (
        'Use “Rotate now”; the app renews it automatically while it runs.'
      )}
    </div>
  );
}

import type { ClientRecord } from '../../../../shared/model';
import type { RenewalState } from '../../../../shared/renewal';
import { levelOf, statusAt } from '../../lib/countdown';
import './clients.css';

/** Renewal state in words (never colour alone), with the rule behind it as a tooltip. */
export const RENEWAL_WORDS: Record<RenewalState, { readonly text: string; readonly title: string }> = {
  ok: { text: 'ok', title: 'renewal not due yet' },
  due: { text: 'renewal due', title: '2/3 of its lifetime has passed: renew it now' },
  overdue: { text: 'overdue', title: '90 % of its lifetime has passed (or its last day): renew it at once' },
  expired: { text: 'expired', title: 'past its notAfter: no verifier accepts it' },
};

/** `long`: "renewal ok" / "renewal overdue", for places without a Renewal column header. */
export function RenewalBadge({ state, long }: { readonly state: RenewalState; readonly long?: boolean }) {
  const w = RENEWAL_WORDS[state];
  const text = long && !w.text.startsWith('renewal') && state !== 'expired' ? `renewal ${w.text}` : w.text;
  return (
    <span
      className={`renewal renewal-${levelOf(state)}`}
      data-renewal={state}
      data-testid="renewal-badge"
      title={w.title}
    >
      {text}
    </span>
  );
}

/** The status on the shared clock: an expired certificate reads EXPIRED as soon as it is. */
export function StatusBadge({ record, now }: { readonly record: ClientRecord; readonly now: number }) {
  const status = statusAt(record, now);
  const title =
    status === 'revoked' && record.reason
      ? `reason: ${record.reason}`
      : status === 'superseded' && record.supersededBy
        ? `renewed or re-issued as ${record.supersededBy}; valid until it expires`
        : undefined;
  return (
    <span className={`status status-${status}`} title={title} data-testid="status-badge">
      {status === 'expired' ? 'EXPIRED' : status}
    </span>
  );
}

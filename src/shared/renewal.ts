/**
 * When a certificate needs renewing, relative to its own lifetime (issue 9): a 24-hour certificate
 * at birth is not an emergency, and a 10-year CA with a year left is not fine. One rule for the GUI
 * countdowns, `status`, `list` and the server's automatic renewal. No Node or DOM imports: main and
 * the renderer both use it.
 *
 * - `ok` until 2/3 of the lifetime has passed (where step-ca and cert-manager renew);
 * - `due` from 2/3 (amber): an automatic renewal happens now, a manual one should;
 * - `overdue` from 90 % of the lifetime (red), and in any case within the last 24 h of a
 *   certificate that lives longer than 10 days;
 * - `expired` from notAfter on.
 */
export type RenewalState = 'ok' | 'due' | 'overdue' | 'expired';

export const RENEWAL_STATES: readonly RenewalState[] = ['ok', 'due', 'overdue', 'expired'];

/** Fraction of the lifetime after which renewal is due. */
export const RENEW_AT = 2 / 3;
/** Fraction of the lifetime after which it is overdue. */
export const OVERDUE_AT = 0.9;
/** The last day before expiry is red for certificates longer-lived than LONG_LIVED_MS. */
export const LAST_DAY_MS = 24 * 60 * 60 * 1000;
export const LONG_LIVED_MS = 10 * LAST_DAY_MS;

/** Any date form the callers hold: a Date, epoch ms, or an ISO string. */
type When = Date | number | string;

function ms(t: When): number {
  return typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : t.getTime();
}

export interface Validity {
  readonly notBefore: When;
  readonly notAfter: When;
}

/** The moment 2/3 of the lifetime has passed (epoch ms). */
export function renewalDueAt(v: Validity): number {
  const from = ms(v.notBefore);
  return from + (ms(v.notAfter) - from) * RENEW_AT;
}

/** The moment the certificate turns `overdue` (epoch ms). */
export function renewalOverdueAt(v: Validity): number {
  const from = ms(v.notBefore);
  const to = ms(v.notAfter);
  const lifetime = to - from;
  const atFraction = from + lifetime * OVERDUE_AT;
  // Past 10 days the 90 % mark already comes a day or more before expiry; the clause keeps the
  // last day red whatever OVERDUE_AT is set to.
  return lifetime > LONG_LIVED_MS ? Math.min(atFraction, to - LAST_DAY_MS) : atFraction;
}

export function renewalState(v: Validity, now: When): RenewalState {
  const t = ms(now);
  if (t >= ms(v.notAfter)) return 'expired';
  if (t >= renewalOverdueAt(v)) return 'overdue';
  if (t >= renewalDueAt(v)) return 'due';
  return 'ok';
}

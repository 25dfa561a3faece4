import { DAY_MS, HOUR_MS } from '../../../shared/validation';
import type { ClientRecord, ClientStatus } from '../../../shared/model';
import { renewalState, type RenewalState, type Validity } from '../../../shared/renewal';

/**
 * Colour band of a countdown, from the lifetime rule shared with main (src/shared/renewal.ts):
 * neutral while renewal is not due, amber once 2/3 of the lifetime has passed, red at 90 % (or in the
 * last day of a long-lived certificate) and once expired. A 24-hour certificate at birth is not red.
 */
export type CountdownLevel = 'ok' | 'warn' | 'danger';

export function levelOf(state: RenewalState): CountdownLevel {
  switch (state) {
    case 'ok':
      return 'ok';
    case 'due':
      return 'warn';
    case 'overdue':
    case 'expired':
      return 'danger';
    default: {
      const never: never = state;
      return never;
    }
  }
}

export function countdownLevel(cert: Validity, now: number): CountdownLevel {
  return levelOf(renewalState(cert, now));
}

/** Whole days left until `notAfter` (floor; negative once expired). */
export function daysUntil(notAfter: string, now: number): number {
  return Math.floor((Date.parse(notAfter) - now) / DAY_MS);
}

/**
 * Short human text: "412 days left", "17 h left", "expired". `days`, when given (main's own count for
 * the CA and server), is shown as is so the text and the data-days attribute always agree.
 */
export function countdownText(notAfter: string, now: number, days?: number): string {
  const ms = Date.parse(notAfter) - now;
  if (ms <= 0) return 'expired';
  if (ms < DAY_MS) {
    const h = Math.floor(ms / HOUR_MS);
    return h >= 1 ? `${h} h left` : `${Math.max(1, Math.floor(ms / 60_000))} min left`;
  }
  const d = days !== undefined && days >= 1 ? days : Math.floor(ms / DAY_MS);
  return `${d} day${d === 1 ? '' : 's'} left`;
}

/**
 * A record's status on the shared clock: main computed it when it listed the registry, and a
 * certificate that expired since is expired now, without waiting for the next listing.
 */
export function statusAt(c: ClientRecord, now: number): ClientStatus {
  if (c.status === 'revoked' || c.status === 'expired') return c.status;
  return Date.parse(c.notAfter) <= now ? 'expired' : c.status;
}

/** The lifetime rule (src/shared/renewal.ts) now; null where it no longer applies (revoked, superseded). */
export function renewalAt(c: ClientRecord, now: number): RenewalState | null {
  const status = statusAt(c, now);
  if (status === 'expired') return 'expired';
  if (status !== 'active') return null;
  return renewalState(c, now);
}

import { DAY_MS, HOUR_MS } from '../../../shared/validation';

/** Colour band of a countdown: amber at 30 days or fewer, red at 7 or fewer (and once expired). */
export type CountdownLevel = 'ok' | 'warn' | 'danger';

export const WARN_DAYS = 30;
export const DANGER_DAYS = 7;

export function countdownLevel(days: number): CountdownLevel {
  if (days <= DANGER_DAYS) return 'danger';
  if (days <= WARN_DAYS) return 'warn';
  return 'ok';
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

import { describe, expect, it } from 'vitest';
import { renewalDueAt, renewalOverdueAt, renewalState } from './renewal';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2030-01-01T00:00:00Z');

describe('renewalState: relative to the certificate’s own lifetime', () => {
  const day = { notBefore: T0, notAfter: T0 + DAY };

  it('a 24-hour certificate is ok at birth, due at 17 h, overdue from 21.6 h, expired at 24 h', () => {
    expect(renewalState(day, T0)).toBe('ok');
    expect(renewalState(day, T0 + 15 * HOUR)).toBe('ok');
    expect(renewalState(day, T0 + 16 * HOUR)).toBe('due'); // exactly 2/3
    expect(renewalState(day, T0 + 17 * HOUR)).toBe('due');
    expect(renewalState(day, T0 + 21.5 * HOUR)).toBe('due');
    expect(renewalState(day, T0 + 21.6 * HOUR)).toBe('overdue'); // 90 %
    expect(renewalState(day, T0 + DAY - 1)).toBe('overdue');
    expect(renewalState(day, T0 + DAY)).toBe('expired');
    expect(renewalState(day, T0 + 400 * DAY)).toBe('expired');
  });

  it('a 90-day certificate: due at day 60, overdue at day 81 and 2 days before expiry', () => {
    const c = { notBefore: T0, notAfter: T0 + 90 * DAY };
    expect(renewalState(c, T0 + 59 * DAY)).toBe('ok');
    expect(renewalState(c, T0 + 60 * DAY)).toBe('due');
    expect(renewalState(c, T0 + 80.9 * DAY)).toBe('due');
    expect(renewalState(c, T0 + 81 * DAY)).toBe('overdue');
    expect(renewalState(c, T0 + 88 * DAY)).toBe('overdue'); // 2 days before expiry
    expect(renewalState(c, T0 + 90 * DAY - 1000)).toBe('overdue');
  });

  it('a 10-year CA is ok for years, due after 6.7 years, overdue in its last year', () => {
    const ca = { notBefore: T0, notAfter: T0 + 3650 * DAY };
    expect(renewalState(ca, T0 + 365 * DAY)).toBe('ok');
    expect(renewalState(ca, T0 + 2400 * DAY)).toBe('ok');
    expect(renewalState(ca, T0 + 2434 * DAY)).toBe('due');
    expect(renewalState(ca, T0 + 3284 * DAY)).toBe('due');
    expect(renewalState(ca, T0 + 3285 * DAY)).toBe('overdue');
    expect(renewalState(ca, T0 + 3650 * DAY)).toBe('expired');
  });

  it('keeps the last 24 h red for long-lived certificates, and only then for short ones at 90 %', () => {
    const week = { notBefore: T0, notAfter: T0 + 7 * DAY };
    // 7 days: 90 % is 16.8 h before expiry; 20 h before is still only due.
    expect(renewalState(week, T0 + 7 * DAY - 20 * HOUR)).toBe('due');
    expect(renewalOverdueAt(week)).toBe(T0 + 7 * DAY * 0.9);
    const month = { notBefore: T0, notAfter: T0 + 30 * DAY };
    expect(renewalState(month, T0 + 30 * DAY - 23 * HOUR)).toBe('overdue');
    expect(renewalOverdueAt(month)).toBeLessThanOrEqual(T0 + 29 * DAY);
  });

  it('accepts ISO strings and Dates alike, and says when renewal falls due', () => {
    const iso = { notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 90 * DAY).toISOString() };
    expect(renewalDueAt(iso)).toBe(T0 + 60 * DAY);
    expect(renewalState(iso, new Date(T0 + 61 * DAY))).toBe('due');
    expect(renewalState(iso, new Date(T0 + 61 * DAY).toISOString())).toBe('due');
  });

  it('a certificate not yet valid (clock behind) is ok, not an error', () => {
    expect(renewalState(day, T0 - HOUR)).toBe('ok');
  });
});

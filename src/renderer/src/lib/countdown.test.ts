import { describe, expect, it } from 'vitest';
import { countdownLevel, countdownText, daysUntil, levelOf, renewalAt, statusAt } from './countdown';

const NOW = Date.parse('2025-01-01T00:00:00Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;
const iso = (t: number) => new Date(t).toISOString();

describe('countdownLevel: relative to the certificate’s lifetime (src/shared/renewal.ts)', () => {
  it('keeps a fresh 24-hour certificate neutral, amber at 17 h, red in its last 10 %', () => {
    const day = { notBefore: iso(NOW), notAfter: iso(NOW + DAY) };
    expect(countdownLevel(day, NOW)).toBe('ok');
    expect(countdownLevel(day, NOW + 17 * HOUR)).toBe('warn');
    expect(countdownLevel(day, NOW + 22 * HOUR)).toBe('danger');
    expect(countdownLevel(day, NOW + 25 * HOUR)).toBe('danger');
  });
  it('a 90-day certificate is neutral with 31 days left, amber at 30, red 2 days before expiry', () => {
    const c = { notBefore: iso(NOW), notAfter: iso(NOW + 90 * DAY) };
    expect(countdownLevel(c, NOW + 59 * DAY)).toBe('ok');
    expect(countdownLevel(c, NOW + 60 * DAY)).toBe('warn');
    expect(countdownLevel(c, NOW + 88 * DAY)).toBe('danger');
  });
  it('a 10-year CA with a year and a half left is amber, not red', () => {
    const ca = { notBefore: iso(NOW), notAfter: iso(NOW + 3650 * DAY) };
    expect(countdownLevel(ca, NOW + 365 * DAY)).toBe('ok');
    expect(countdownLevel(ca, NOW + 3100 * DAY)).toBe('warn');
    expect(countdownLevel(ca, NOW + 3300 * DAY)).toBe('danger');
  });
  it('maps every renewal state to a colour', () => {
    expect(['ok', 'due', 'overdue', 'expired'].map((s) => levelOf(s as never))).toEqual([
      'ok',
      'warn',
      'danger',
      'danger',
    ]);
  });
});

describe('daysUntil / countdownText', () => {
  it('floors whole days and goes negative once expired', () => {
    expect(daysUntil(new Date(NOW + 90 * DAY).toISOString(), NOW)).toBe(90);
    expect(daysUntil(new Date(NOW + 90 * DAY - 1).toISOString(), NOW)).toBe(89);
    expect(daysUntil(new Date(NOW - 1).toISOString(), NOW)).toBe(-1);
  });
  it('speaks in hours under a day', () => {
    expect(countdownText(new Date(NOW + 5 * 3_600_000 + 10).toISOString(), NOW)).toBe('5 h left');
    expect(countdownText(new Date(NOW + DAY).toISOString(), NOW)).toBe('1 day left');
    expect(countdownText(new Date(NOW - 1000).toISOString(), NOW)).toBe('expired');
  });
});

describe('countdownText with main’s day count', () => {
  it('shows the given days so text and data-days agree', () => {
    expect(countdownText(new Date(NOW + 3250.5 * DAY).toISOString(), NOW, 3251)).toBe('3251 days left');
  });
});

describe('statusAt / renewalAt: the registry on the shared clock', () => {
  const base = {
    serial: 'aa',
    name: 'alice',
    fingerprintSha256: '',
    notBefore: iso(NOW),
    notAfter: iso(NOW + DAY),
  } as const;
  const active = { ...base, status: 'active', renewal: 'ok' } as const;
  it('turns an active or superseded certificate expired at notAfter, without a new listing', () => {
    expect(statusAt(active, NOW + 23 * HOUR)).toBe('active');
    expect(statusAt(active, NOW + DAY)).toBe('expired');
    expect(statusAt({ ...active, status: 'superseded', renewal: null }, NOW + DAY + 1)).toBe('expired');
    expect(statusAt({ ...active, status: 'revoked', renewal: null }, NOW + 2 * DAY)).toBe('revoked');
  });
  it('reads the renewal state now; none for revoked or superseded certificates', () => {
    expect(renewalAt(active, NOW + HOUR)).toBe('ok');
    expect(renewalAt(active, NOW + 17 * HOUR)).toBe('due');
    expect(renewalAt(active, NOW + 22 * HOUR)).toBe('overdue');
    expect(renewalAt(active, NOW + DAY)).toBe('expired');
    expect(renewalAt({ ...active, status: 'superseded', renewal: null }, NOW + HOUR)).toBeNull();
    expect(renewalAt({ ...active, status: 'revoked', renewal: null }, NOW + HOUR)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { countdownLevel, countdownText, daysUntil } from './countdown';

const NOW = Date.parse('2025-01-01T00:00:00Z');
const DAY = 86_400_000;

describe('countdownLevel', () => {
  it('is ok above 30 days, amber at 30 and below, red at 7 and below', () => {
    expect(countdownLevel(3650)).toBe('ok');
    expect(countdownLevel(31)).toBe('ok');
    expect(countdownLevel(30)).toBe('warn');
    expect(countdownLevel(8)).toBe('warn');
    expect(countdownLevel(7)).toBe('danger');
    expect(countdownLevel(0)).toBe('danger');
    expect(countdownLevel(-5)).toBe('danger');
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

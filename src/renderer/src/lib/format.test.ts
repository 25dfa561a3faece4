import { describe, expect, it } from 'vitest';
import {
  formatClock,
  formatDate,
  formatDateTime,
  formatDateTimeSeconds,
  formatTime,
  parseDateTime,
} from './format';

describe('one time format', () => {
  const t = new Date(2026, 0, 5, 15, 4, 9); // local 2026-01-05 15:04:09

  it('shows ISO-like dates and 24-hour clocks', () => {
    expect(formatDateTime(t.toISOString())).toBe('2026-01-05 15:04');
    expect(formatDateTime(t.getTime())).toBe('2026-01-05 15:04');
    expect(formatDateTimeSeconds(t)).toBe('2026-01-05 15:04:09');
    expect(formatDate(t)).toBe('2026-01-05');
    expect(formatTime(t)).toBe('15:04:09');
    expect(formatClock(t)).toBe('15:04');
    expect(formatDateTime('not a date')).toBe('not a date');
  });

  it('parses what it shows, and refuses dates that do not exist', () => {
    expect(parseDateTime('2026-01-05 15:04')?.getTime()).toBe(new Date(2026, 0, 5, 15, 4).getTime());
    expect(parseDateTime('2026-01-05T15:04')?.getTime()).toBe(new Date(2026, 0, 5, 15, 4).getTime());
    expect(parseDateTime(' 2026-01-05 ')?.getTime()).toBe(new Date(2026, 0, 5).getTime());
    for (const bad of [
      '2026-02-30',
      '01/05/2026',
      '2026-01-05 3:04 PM',
      '2026-01-05 24:00',
      '2026-01-05 12:60',
      '',
    ])
      expect(parseDateTime(bad), bad).toBeNull();
  });
});

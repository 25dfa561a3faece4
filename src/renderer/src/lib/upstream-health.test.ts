import { describe, expect, it } from 'vitest';
import { agoText, errorCode, errorRateText, upstreamProblem } from './upstream-health';

const NOW = Date.parse('2026-12-01T10:00:12.000Z');
const at = '2026-12-01T10:00:00.000Z';

describe('upstream health in words', () => {
  it('names an unreachable upstream with its error code and age', () => {
    const health = {
      lastError: { message: 'connect ECONNREFUSED 127.0.0.1:18970', status: 502, at },
      requests: 12,
      errors5xx: 12,
      down: true,
    };
    expect(upstreamProblem(health, NOW)).toBe('upstream unreachable: ECONNREFUSED 12 s ago');
    expect(upstreamProblem(health, NOW, false)).toBe('upstream unreachable: ECONNREFUSED');
    // A minute without traffic: no longer "down", even before main pushes a new status.
    expect(upstreamProblem(health, NOW + 60_000)).toBeNull();
    expect(errorRateText(health)).toBe('12 of 12 requests got a 5xx answer in the last minute');
  });
  it('says nothing while the upstream answers, even with an old error on record', () => {
    const health = {
      lastError: { message: 'ECONNRESET', status: 502, at },
      requests: 3,
      errors5xx: 0,
      down: false,
    };
    expect(upstreamProblem(health, NOW)).toBeNull();
    expect(upstreamProblem(undefined, NOW)).toBeNull();
  });
  it('tells a timeout and other failures apart', () => {
    const timeout = {
      lastError: { message: 'upstream headers timeout', status: 504, at },
      requests: 1,
      errors5xx: 1,
      down: true,
    };
    expect(upstreamProblem(timeout, NOW)).toBe('upstream timing out: upstream headers timeout 12 s ago');
    expect(errorCode('socket hang up')).toBe('socket hang up');
    expect(agoText(at, NOW + 3 * 60_000)).toBe('3 min ago');
    expect(errorRateText({ lastError: null, requests: 0, errors5xx: 0, down: false })).toBe(
      'no requests in the last minute',
    );
  });
});

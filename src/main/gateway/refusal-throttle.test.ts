import { describe, expect, it } from 'vitest';
import { RefusalThrottle } from './refusal-throttle';

describe('RefusalThrottle', () => {
  it('records the first refusals of a source in full and counts the rest', () => {
    const t = new RefusalThrottle(3, 1000);
    const admitted = Array.from({ length: 10 }, () => t.admit('bad_handshake', '10.0.0.1', 0));
    expect(admitted).toEqual([true, true, true, false, false, false, false, false, false, false]);
    // Another source or another reason has its own allowance.
    expect(t.admit('bad_handshake', '10.0.0.2', 0)).toBe(true);
    expect(t.admit('no_certificate', '10.0.0.1', 0)).toBe(true);
    expect(t.flush(999)).toEqual([]);
    expect(t.flush(1000)).toEqual([{ reason: 'bad_handshake', remote: '10.0.0.1', suppressed: 7, since: 0 }]);
    // A new window starts afresh.
    expect(t.admit('bad_handshake', '10.0.0.1', 1001)).toBe(true);
  });

  it('flushes everything on demand, e.g. at shutdown', () => {
    const t = new RefusalThrottle(1, 60_000);
    t.admit('revoked', '127.0.0.1', 0);
    t.admit('revoked', '127.0.0.1', 0);
    expect(t.flush(1, true)).toEqual([{ reason: 'revoked', remote: '127.0.0.1', suppressed: 1, since: 0 }]);
    expect(t.flush(2, true)).toEqual([]);
  });

  it('caps full records across ALL sources, then summarises per reason (issue 8, item 9)', () => {
    const t = new RefusalThrottle(20, 1000, 100);
    let full = 0;
    // 300 sources × 20 refusals: per-source throttling alone would record all 6,000 in full.
    for (let i = 0; i < 300; i++) {
      for (let j = 0; j < 20; j++) if (t.admit('no_certificate', `10.0.${i >> 8}.${i & 255}`, 0)) full++;
    }
    expect(full).toBe(100);
    const summaries = t.flush(1000);
    const star = summaries.find((s) => s.remote === '*');
    expect(star).toMatchObject({ reason: 'no_certificate', suppressed: 6000 - 100 - sum(summaries, '*') });
    expect(star?.sources).toBeGreaterThan(290);
    // Every refusal is accounted for, in a handful of records.
    expect(full + summaries.reduce((n, s) => n + s.suppressed, 0)).toBe(6000);
    expect(summaries.length).toBeLessThanOrEqual(6);
  });
});

function sum(list: readonly { remote: string; suppressed: number }[], not: string): number {
  return list.filter((s) => s.remote !== not).reduce((n, s) => n + s.suppressed, 0);
}

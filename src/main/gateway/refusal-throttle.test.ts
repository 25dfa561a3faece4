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
});

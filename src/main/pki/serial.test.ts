import { describe, expect, it } from 'vitest';
import { randomSerial } from './serial';

describe('randomSerial', () => {
  it('is 32 lowercase hex chars with a positive, non-zero first byte', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const s = randomSerial();
      expect(s).toMatch(/^[0-9a-f]{32}$/);
      const first = parseInt(s.slice(0, 2), 16);
      expect(first).toBeGreaterThanOrEqual(1);
      expect(first).toBeLessThanOrEqual(0x7f);
      seen.add(s);
    }
    expect(seen.size).toBe(5000);
  });
});

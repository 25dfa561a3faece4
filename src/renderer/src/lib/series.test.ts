import { describe, expect, it } from 'vitest';
import { bucketSeries, pruneSamples } from './series';

describe('bucketSeries', () => {
  const now = 1_000_000_000_000; // a multiple of 10 s
  it('takes the peak per bucket and carries the count across quiet buckets', () => {
    const s = bucketSeries(
      now,
      [
        { t: now - 100_000, count: 2 }, // before the window: carried
        { t: now - 25_000, count: 3 },
        { t: now - 24_000, count: 5 },
        { t: now - 21_000, count: 1 },
      ],
      [],
      60_000,
      10_000,
    );
    expect(s.x.length).toBe(6);
    // Window covers [now-50s, now+10s): buckets -50,-40,-30,-20,-10,0
    expect(s.open).toEqual([2, 2, 5, 5, 5, 5]);
  });
  it('counts refusals per bucket and ignores those outside the window', () => {
    const s = bucketSeries(
      now,
      [],
      [
        { t: now - 5_000, n: 1 },
        { t: now - 1_000, n: 1 },
        { t: now - 15_000, n: 1 },
        { t: now - 3_600_000, n: 1 },
        { t: now - 35_000, n: 40 },
      ],
      60_000,
      10_000,
    );
    expect(s.refused).toEqual([0, 40, 0, 1, 2, 0]);
    expect(s.open).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('pruneSamples', () => {
  it('keeps the last sample before the window', () => {
    const now = 10_000_000;
    const out = pruneSamples(
      [
        { t: 0, count: 1 },
        { t: 1, count: 2 },
        { t: now, count: 3 },
      ],
      now,
      60_000,
    );
    expect(out).toEqual([
      { t: 1, count: 2 },
      { t: now, count: 3 },
    ]);
  });
});

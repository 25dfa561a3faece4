/** Small helpers for benchmark figures: medians and percentiles of measured samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

/** Median and range of one figure over rounds (NaN samples, e.g. a figure nginx has no part of, are left out). */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(samples: readonly number[]): Spread {
  const xs = samples.filter((x) => Number.isFinite(x));
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN };
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * Latencies in log-spaced buckets 1% wide, so a load process can send its whole distribution in a
 * few hundred numbers (not one number per request) and the parent can merge several of them.
 * Percentiles come back within 1% of the exact sample.
 */
export class LatencyHistogram {
  private static readonly LOG_GROWTH = Math.log(1.01);
  private readonly buckets = new Map<number, number>();
  private n = 0;

  get count(): number {
    return this.n;
  }

  record(ms: number): void {
    const idx = Math.floor(Math.log(Math.max(ms * 1000, 1)) / LatencyHistogram.LOG_GROWTH);
    this.buckets.set(idx, (this.buckets.get(idx) ?? 0) + 1);
    this.n++;
  }

  /** The latency (ms, the bucket's geometric middle) below which `p` percent of the samples fall. */
  percentile(p: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (const idx of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(idx) ?? 0;
      if (seen >= rank) return Math.exp((idx + 0.5) * LatencyHistogram.LOG_GROWTH) / 1000;
    }
    return NaN;
  }

  merge(other: LatencyHistogram): void {
    for (const [idx, c] of other.buckets) this.buckets.set(idx, (this.buckets.get(idx) ?? 0) + c);
    this.n += other.n;
  }

  /** `[bucket, count]` pairs of the non-empty buckets: what crosses the process boundary. */
  toPairs(): Array<[number, number]> {
    return [...this.buckets];
  }

  static fromPairs(pairs: ReadonlyArray<readonly [number, number]>): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [idx, c] of pairs) {
      h.buckets.set(idx, (h.buckets.get(idx) ?? 0) + c);
      h.n += c;
    }
    return h;
  }
}

export async function timeIt<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return [value, Number(process.hrtime.bigint() - start) / 1e6];
}

export function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

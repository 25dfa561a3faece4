/** Per-interval series for the Connections chart: open connections (peak) and refusals per bucket. */

export interface CountSample {
  readonly t: number;
  readonly count: number;
}

export interface Series {
  /** Bucket start times in seconds (uPlot's x unit). */
  readonly x: number[];
  readonly open: number[];
  readonly refused: number[];
}

export const CHART_WINDOW_MS = 10 * 60_000;
export const CHART_INTERVAL_MS = 10_000;

/**
 * Buckets `[now - windowMs, now]` into `intervalMs` slots. A slot's open count is the peak sampled in
 * it, or the last count before it when nothing was sampled (the count held steady). Refusals are
 * counted per slot.
 */
export function bucketSeries(
  now: number,
  samples: readonly CountSample[],
  /** Refusals by time; `n` > 1 for a summary of a flood the gateway counted instead of logging each. */
  refusals: readonly { readonly t: number; readonly n: number }[],
  windowMs = CHART_WINDOW_MS,
  intervalMs = CHART_INTERVAL_MS,
): Series {
  const n = Math.ceil(windowMs / intervalMs);
  const end = Math.floor(now / intervalMs) * intervalMs + intervalMs;
  const start = end - n * intervalMs;
  const x: number[] = [];
  const open: number[] = new Array<number>(n).fill(-1);
  const refused: number[] = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) x.push((start + i * intervalMs) / 1000);

  let carried = 0;
  for (const s of samples) {
    if (s.t < start) {
      carried = s.count;
      continue;
    }
    if (s.t >= end) continue;
    const i = Math.floor((s.t - start) / intervalMs);
    open[i] = Math.max(open[i] as number, s.count);
  }
  for (let i = 0; i < n; i++) {
    if ((open[i] as number) < 0) open[i] = i === 0 ? carried : (open[i - 1] as number);
  }
  for (const { t, n: count } of refusals) {
    if (t < start || t >= end) continue;
    const i = Math.floor((t - start) / intervalMs);
    refused[i] = (refused[i] as number) + count;
  }
  return { x, open, refused };
}

/** Drops samples older than the window, keeping the last one before it (it carries the count). */
export function pruneSamples(
  samples: readonly CountSample[],
  now: number,
  windowMs = CHART_WINDOW_MS,
): CountSample[] {
  const cutoff = now - windowMs - CHART_INTERVAL_MS;
  let firstKept = samples.findIndex((s) => s.t >= cutoff);
  if (firstKept === -1) firstKept = samples.length;
  return samples.slice(Math.max(0, firstKept - 1));
}

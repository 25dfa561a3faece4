/**
 * Keeps a flood of refused connections from flooding the audit log: per reason and remote address,
 * the first `perWindow` refusals of a window are recorded in full, the rest only counted, and one
 * summary per window says how many were left out. An operator still sees every source and reason.
 */
export interface SuppressedRefusals {
  readonly reason: string;
  readonly remote: string;
  readonly suppressed: number;
  readonly since: number;
}

interface Window {
  readonly reason: string;
  readonly remote: string;
  readonly start: number;
  count: number;
}

/** Past this many distinct sources in one window, further sources share one bucket per reason. */
const MAX_BUCKETS = 10_000;

export class RefusalThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly perWindow = 20,
    private readonly windowMs = 10_000,
  ) {}

  /** Counts one refusal; true when it should be recorded in full. */
  admit(reason: string, remote: string, now: number): boolean {
    let key = `${reason}|${remote}`;
    if (!this.windows.has(key) && this.windows.size >= MAX_BUCKETS) {
      key = `${reason}|*`;
      remote = '*';
    }
    let w = this.windows.get(key);
    if (!w) {
      w = { reason, remote, start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return w.count <= this.perWindow;
  }

  /** Ends the windows older than windowMs (all of them with `all`); returns those that left refusals out. */
  flush(now: number, all = false): SuppressedRefusals[] {
    const out: SuppressedRefusals[] = [];
    for (const [key, w] of this.windows) {
      if (!all && now - w.start < this.windowMs) continue;
      this.windows.delete(key);
      if (w.count > this.perWindow) {
        out.push({
          reason: w.reason,
          remote: w.remote,
          suppressed: w.count - this.perWindow,
          since: w.start,
        });
      }
    }
    return out;
  }
}

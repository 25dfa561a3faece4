/**
 * Keeps a flood of refused connections from flooding the audit log. Within one window, a
 * refusal is recorded in full only while both hold: its (reason, source) has had fewer than
 * `perSource` full records, and all sources together fewer than `budget` (issue 8, item 9: 300
 * loopback addresses, or an IPv6 /64, must not buy 300 times the records). The rest are only
 * counted: one summary per (reason, source) that hit its own limit, and one per reason (source
 * `*`, with how many distinct sources) for what the global budget left out. Every refusal is
 * accounted for: full records plus summaries equal the refusals seen.
 */
export interface SuppressedRefusals {
  readonly reason: string;
  /** The source, or `*` for the refusals the global budget left out. */
  readonly remote: string;
  readonly suppressed: number;
  readonly since: number;
  /** For `*` summaries: distinct sources counted (capped at MAX_SOURCES). */
  readonly sources?: number;
}

interface SourceBucket {
  full: number;
  suppressed: number;
}

interface Overflow {
  suppressed: number;
  readonly sources: Set<string>;
}

/** Distinct (reason, source) buckets and overflow sources kept per window; bounds memory. */
const MAX_BUCKETS = 10_000;
const MAX_SOURCES = 10_000;

export class RefusalThrottle {
  private start: number | null = null;
  private full = 0;
  private readonly buckets = new Map<string, SourceBucket & { reason: string; remote: string }>();
  private readonly overflow = new Map<string, Overflow>();

  constructor(
    private readonly perSource = 20,
    private readonly windowMs = 10_000,
    private readonly budget = 100,
  ) {}

  /** Counts one refusal; true when it should be recorded in full. */
  admit(reason: string, remote: string, now: number): boolean {
    this.start ??= now;
    const key = `${reason}|${remote}`;
    let b = this.buckets.get(key);
    if (!b && this.full < this.budget && this.buckets.size < MAX_BUCKETS) {
      b = { reason, remote, full: 0, suppressed: 0 };
      this.buckets.set(key, b);
    }
    if (b && b.full < this.perSource && this.full < this.budget) {
      b.full++;
      this.full++;
      return true;
    }
    if (b && b.full >= this.perSource) {
      b.suppressed++;
      return false;
    }
    // The global budget is spent: summarised per reason, whatever the source.
    let o = this.overflow.get(reason);
    if (!o) {
      o = { suppressed: 0, sources: new Set() };
      this.overflow.set(reason, o);
    }
    o.suppressed++;
    if (o.sources.size < MAX_SOURCES) o.sources.add(remote);
    return false;
  }

  /** Ends the window once windowMs old (at once with `all`); returns what it left out. */
  flush(now: number, all = false): SuppressedRefusals[] {
    if (this.start === null) return [];
    if (!all && now - this.start < this.windowMs) return [];
    const since = this.start;
    const out: SuppressedRefusals[] = [];
    for (const b of this.buckets.values()) {
      if (b.suppressed > 0) out.push({ reason: b.reason, remote: b.remote, suppressed: b.suppressed, since });
    }
    for (const [reason, o] of this.overflow) {
      out.push({ reason, remote: '*', suppressed: o.suppressed, since, sources: o.sources.size });
    }
    this.buckets.clear();
    this.overflow.clear();
    this.full = 0;
    this.start = null;
    return out;
  }
}

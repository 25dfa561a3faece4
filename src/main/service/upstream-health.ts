import { GATEWAY_AUDIT_TYPES as T, type GatewayAuditRow } from '../gateway';
import type { UpstreamHealth } from '../../shared/model';

/** The span the 5xx rate covers. */
export const HEALTH_WINDOW_MS = 60_000;
const SLOT_MS = 1_000;
const SLOTS = HEALTH_WINDOW_MS / SLOT_MS;

/**
 * The upstream's health as the gateway's own records show it (issue 10: a dead upstream must not
 * look like a running gateway): the last upstream error and the share of 5xx answers over the last
 * minute. Fed with every batch of gateway records (GatewayHost's `onAuditRows`, beside metrics), so
 * `onRows` only bumps numbers in one-second slots; the minute is summed when the status is read.
 */
export class UpstreamHealthTracker {
  private readonly requests = new Uint32Array(SLOTS);
  private readonly errors = new Uint32Array(SLOTS);
  /** The absolute slot number each ring entry holds counts for; stale entries are cleared on reuse. */
  private readonly slotOf = new Float64Array(SLOTS).fill(-1);
  private lastError: { message: string; status: number; at: string; ms: number; order: number } | null = null;
  /** Rows counted so far: orders an error against the last good answer within one batch. */
  private order = 0;
  /** The `order` of the last request answered with a status below 500. */
  private lastOk = -1;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Counts one batch; returns true when what the operator sees changes in kind (the upstream went
   * down or came back, or a first error): the caller pushes a status then, not on every request.
   */
  onRows(rows: readonly GatewayAuditRow[]): boolean {
    const wasDown = this.isDown(this.now());
    const hadError = this.lastError !== null;
    const nowMs = this.now();
    const slot = this.slot(nowMs);
    for (const r of rows) {
      if (r.type === T.request) {
        const status = r.details['status'];
        if (typeof status !== 'number' || status === 0) continue; // aborted: the client got no answer
        this.requests[slot]! += 1;
        if (status >= 500) this.errors[slot]! += 1;
        else this.lastOk = this.order++;
      } else if (r.type === T.upstreamError) {
        const d = r.details;
        this.lastError = {
          message: typeof d['error'] === 'string' ? d['error'] : 'upstream error',
          status: typeof d['status'] === 'number' ? d['status'] : 0,
          at: r.time,
          ms: nowMs,
          order: this.order++,
        };
      }
    }
    return this.isDown(nowMs) !== wasDown || (!hadError && this.lastError !== null);
  }

  /** Forgets everything (a gateway start: the upstream may be another one now). */
  reset(): void {
    this.requests.fill(0);
    this.errors.fill(0);
    this.slotOf.fill(-1);
    this.lastError = null;
    this.lastOk = -1;
  }

  snapshot(): UpstreamHealth {
    const nowMs = this.now();
    const oldest = Math.floor(nowMs / SLOT_MS) - SLOTS + 1;
    let requests = 0;
    let errors = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (this.slotOf[i]! < oldest) continue;
      requests += this.requests[i]!;
      errors += this.errors[i]!;
    }
    const e = this.lastError;
    return {
      lastError: e ? { message: e.message, status: e.status, at: e.at } : null,
      requests,
      errors5xx: errors,
      down: this.isDown(nowMs),
    };
  }

  /** Failing now: an error within the window, and no good answer since. */
  private isDown(nowMs: number): boolean {
    const e = this.lastError;
    return e !== null && nowMs - e.ms < HEALTH_WINDOW_MS && e.order > this.lastOk;
  }

  private slot(nowMs: number): number {
    const abs = Math.floor(nowMs / SLOT_MS);
    const i = abs % SLOTS;
    if (this.slotOf[i] !== abs) {
      this.slotOf[i] = abs;
      this.requests[i] = 0;
      this.errors[i] = 0;
    }
    return i;
  }
}

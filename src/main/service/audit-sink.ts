import {
  appendPrepared,
  checkpointDue,
  prepareEntry,
  type AuditEntryInput,
  type AuditSigner,
  type PreparedEntry,
} from '../audit';
import type { StateDb } from '../db';
import type { AuditRecord } from '../../shared/model';

/** Sign a checkpoint at least this often while gateway records arrive. */
const CHECKPOINT_POLICY = { everyRecords: 1000, everyMs: 60_000 };
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

export interface SinkHealth {
  readonly ok: boolean;
  readonly queued: number;
  readonly message?: string;
}

/**
 * Writes gateway audit records in batched transactions (one commit per batch, not per request). A
 * batch that cannot be written (disk full) is kept and retried with backoff, never dropped; while
 * that lasts `onHealth` reports the failure so the host can stop taking requests.
 */
export class AuditSink {
  private queue: PreparedEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private failure: string | null = null;
  private retryMs = RETRY_MIN_MS;

  constructor(
    private readonly state: () => StateDb,
    private readonly signer: () => AuditSigner | null,
    private readonly onAppended: (records: AuditRecord[]) => void,
    private readonly onHealth: (health: SinkHealth) => void,
    private readonly delayMs = 100,
  ) {}

  health(): SinkHealth {
    return this.failure === null
      ? { ok: true, queued: this.queue.length }
      : { ok: false, queued: this.queue.length, message: this.failure };
  }

  /** Throws INVALID_INPUT, queueing none of them, when an entry is not a valid audit entry. */
  push(entries: readonly AuditEntryInput[]): void {
    const now = new Date();
    this.pushPrepared(entries.map((e) => prepareEntry(e, now)));
  }

  /** Entries already reduced to column values (the gateway's checked records). */
  pushPrepared(entries: readonly PreparedEntry[]): void {
    for (const e of entries) this.queue.push(e);
    this.schedule(this.failure === null ? this.delayMs : this.retryMs);
  }

  /** Writes what is queued; resolves when everything pushed so far is committed (or failed this time). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.flushing = this.flushing.then(() => this.writeQueued());
    return this.flushing;
  }

  private schedule(ms: number): void {
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), ms);
  }

  private async writeQueued(): Promise<void> {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let records: AuditRecord[];
    try {
      const state = this.state();
      const signer = this.signer();
      records = state.tx(() => {
        const sign = signer !== null && checkpointDue(state.db, new Date(), CHECKPOINT_POLICY);
        return appendPrepared(state.db, batch, sign && signer ? { signer } : {});
      });
    } catch (e) {
      // Keep the batch in front of anything that arrived meanwhile: order and every record survive.
      this.queue = batch.concat(this.queue);
      const wasOk = this.failure === null;
      this.failure = `gateway audit records cannot be written (${this.queue.length} waiting): ${(e as Error).message}`;
      this.retryMs = wasOk ? RETRY_MIN_MS : Math.min(this.retryMs * 2, RETRY_MAX_MS);
      if (wasOk) this.onHealth(this.health());
      this.schedule(this.retryMs);
      return;
    }
    if (this.failure !== null) {
      this.failure = null;
      this.retryMs = RETRY_MIN_MS;
      this.onHealth(this.health());
    }
    this.onAppended(records);
  }
}

import { appendAudit, type AuditEntryInput } from '../audit';
import { withStateLock } from '../store';
import type { AuditRecord } from '../../shared/model';

/**
 * Appends gateway audit entries in batches: one lock and one fsync per batch instead of per request,
 * so a busy gateway does not queue behind the state lock. Entries keep their own timestamps.
 */
export class AuditSink {
  private queue: AuditEntryInput[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly stateDir: string,
    private readonly onAppended: (records: AuditRecord[]) => void,
    private readonly onError: (message: string) => void,
    private readonly delayMs = 100,
  ) {}

  push(entries: readonly AuditEntryInput[]): void {
    for (const e of entries) this.queue.push({ ...e, time: e.time ?? new Date() });
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.delayMs);
    }
  }

  /** Writes what is queued; resolves when everything pushed so far is on disk. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        const records = await withStateLock(this.stateDir, () => appendAudit(this.stateDir, batch));
        this.onAppended(records);
      } catch (e) {
        this.onError(`could not append ${batch.length} gateway audit records: ${(e as Error).message}`);
      }
    });
    return this.flushing;
  }
}

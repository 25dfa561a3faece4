/**
 * One client connection's requests, served strictly one after the other (DESIGN.md §8, issue 8
 * items 1, 3, 6). Node's http server parses and emits every pipelined request at once; the lane
 * holds them, starts the next only when the previous one is over, and drops whatever is still
 * queued when the client goes away, so no queued request can reach the upstream after its client
 * left, and one connection never holds more than one upstream socket.
 */

/** A started request; abort() ends it early (client gone, gateway stopping). */
export interface Running {
  abort(why: 'client_closed' | 'shutdown'): void;
}

/** Why a lane stopped taking requests; everything still queued then is dropped, never sent. */
export type LaneStop = 'client_closed' | 'overflow' | 'revoked' | 'expired' | 'draining' | 'held';

export interface LaneHandlers<T> {
  /** Starts one item; `done` must be called exactly once when it is over. */
  start(item: T, done: () => void): Running | null;
  /** Items that were queued and never started, with why. */
  dropped(count: number, why: LaneStop): void;
  /** The lane has nothing running or queued. */
  idle(): void;
}

export class RequestLane<T> {
  private readonly queue: T[] = [];
  private running: Running | null = null;
  private busy = false;
  private pumping = false;
  private stopped: LaneStop | null = null;

  constructor(
    private readonly maxQueued: number,
    private readonly handlers: LaneHandlers<T>,
  ) {}

  /** Requests queued or running: what "in flight" means for the idle and drain rules. */
  get pending(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  /** The item being served, if it is still running. */
  get current(): Running | null {
    return this.running;
  }

  /** Why the lane stopped, or null while it takes requests. */
  get stoppedBy(): LaneStop | null {
    return this.stopped;
  }

  /** Queues an item; returns false (the item is dropped and counted) once the lane is stopped or full. */
  push(item: T): boolean {
    if (this.stopped !== null) {
      this.handlers.dropped(1, this.stopped);
      return false;
    }
    if (this.queue.length >= this.maxQueued) {
      this.queue.push(item);
      this.stop('overflow');
      return false;
    }
    this.queue.push(item);
    this.pump();
    return true;
  }

  /** Drops everything queued (never sent upstream) and aborts what is running. */
  stop(why: LaneStop): void {
    if (this.stopped !== null) return;
    this.stopped = why;
    const n = this.queue.length;
    this.queue.length = 0;
    if (n > 0) this.handlers.dropped(n, why);
    const wasBusy = this.busy;
    this.running?.abort(why === 'client_closed' ? 'client_closed' : 'shutdown');
    if (!wasBusy) this.handlers.idle();
  }

  private pump(): void {
    // A synchronous done() (an item refused at once) re-enters here: the loop, not recursion, serves it.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy && this.stopped === null && this.queue.length > 0) {
        const item = this.queue.shift() as T;
        this.busy = true;
        let finished = false;
        const done = (): void => {
          if (finished) return;
          finished = true;
          this.busy = false;
          this.running = null;
          if (this.queue.length > 0 && this.stopped === null) this.pump();
          else this.handlers.idle();
        };
        const running = this.handlers.start(item, done);
        if (!finished) this.running = running;
      }
    } finally {
      this.pumping = false;
    }
  }
}

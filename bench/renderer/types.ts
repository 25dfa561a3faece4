/** What the bench page exposes on `window.__bench` for the driver (bench/renderer.ts). Times are ms. */

export interface MountResult {
  /** From before the store update and mount until the first paint with rows in the DOM. */
  readonly ms: number;
  /** Rows present in the DOM at that point. */
  readonly rows: number;
  /** React render + commit time (Profiler actualDuration) over the measured span. */
  readonly reactMs: number;
  /** Audit only: records held by the store at that point (the first page, not the log). */
  readonly loaded?: number;
  /** Audit only: `audit.query` calls made over the span. */
  readonly queries?: number;
}

export interface ScrollResult {
  /** requestAnimationFrame-to-requestAnimationFrame deltas, one per scrolled frame. */
  readonly deltas: readonly number[];
  /** Scroll distance covered, in px. */
  readonly scrolled: number;
  /** The first record seq shown at the end (proves the list really moved). */
  readonly lastSeq: number | null;
  /** Older pages fetched while scrolling. */
  readonly pages: number;
  /** Records held by the store at the end. */
  readonly loaded: number;
  /** Frames where the list could not move the full step (it had reached the last loaded row). */
  readonly stalled: number;
}

export interface UpdateResult {
  /** Per update: store update until the paint that shows it. */
  readonly ms: readonly number[];
  /** Per update: React render + commit time (Profiler actualDuration). */
  readonly reactMs: readonly number[];
  /** Rows in the table at the end. */
  readonly rows: number;
}

export interface BenchApi {
  /** Serves an n-record log (generated, not timed), then times open() + mount to first paint of page 1. */
  mountAudit(n: number): Promise<MountResult>;
  /** Scrolls the mounted Audit list by `px` per animation frame for `frames` frames (pages load as it goes). */
  scrollAudit(frames: number, px: number): Promise<ScrollResult>;
  /** Sets a type filter on the mounted panel; times the re-query to the first paint of its first page. */
  filterAudit(type: string): Promise<MountResult>;
  /** Mounts the Connections panel with n live connections. */
  mountConnections(n: number): Promise<MountResult>;
  /** Pushes a fresh list (counters moved) once per animation frame, `iterations` times. */
  updateConnections(iterations: number): Promise<UpdateResult>;
  /** Unmounts whatever is mounted and empties the stores. */
  reset(): void;
}

declare global {
  interface Window {
    __bench?: BenchApi;
  }
}

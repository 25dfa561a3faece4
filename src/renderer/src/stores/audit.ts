import { create, type StoreApi, type UseBoundStore } from 'zustand';
import type { CallInput } from '../../../shared/contract';
import type { AuditFilter, AuditPage, AuditRecord } from '../../../shared/model';
import { call } from '../api';
import {
  EMPTY_AUDIT_DRAFT,
  filterKey,
  isEmptyFilter,
  matchLive,
  parseDraft,
  type AuditFilterDraft,
  type DraftField,
} from '../lib/audit-filter';
import { reportError } from '../lib/useAction';
import { useUiStore } from './ui';

/**
 * The Audit panel's window onto main's audit log (millions of records in SQLite, DESIGN.md §9): the
 * filter, the pages loaded so far and the server's counts. Never the whole log.
 *
 * - A filter change re-queries after a short debounce; every list query bumps a generation, and an
 *   answer for an older generation is dropped, so a slow stale answer cannot overwrite a newer one.
 * - `loadMore` fetches the next older page with `before: nextCursor`.
 * - `audit.appended` records that match the filter go on top and grow `total`; when a record cannot
 *   be judged exactly here (`matchLive` says unsure) the newest page is fetched again instead.
 */

export type AuditListStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface AuditState {
  /** The toolbar as typed. */
  readonly draft: AuditFilterDraft;
  /** Why the draft cannot be sent (the list keeps showing `filter`'s records meanwhile). */
  readonly draftError: { readonly field: DraftField; readonly message: string } | null;
  /** The filter the list shows, or is loading: what main was (or is about to be) asked. */
  readonly filter: AuditFilter;
  /** The pages loaded so far, concatenated, newest first. */
  readonly records: readonly AuditRecord[];
  /** Records matching `filter` in all (main's count, kept current by live records); null before the first answer. */
  readonly total: number | null;
  /** Records in the whole log, for "N of M"; null until known. */
  readonly allTotal: number | null;
  /** `before` for the next older page; null when the oldest page is loaded. */
  readonly nextCursor: number | null;
  /** `loading` from a filter change (debounce included) until its first page is in. */
  readonly status: AuditListStatus;
  readonly loadingMore: boolean;
  readonly error: string | null;
  /** Bumped whenever `records` is replaced by a new first page (the list scrolls back to the top). */
  readonly epoch: number;
  /** Live follow paused: new records are counted, not shown, until `setPaused(false)`. */
  readonly paused: boolean;
  /** Live records that arrived while paused (those the filter may match). */
  readonly heldLive: number;
  /** The record open in the detail pane (kept even when it scrolls out of the loaded pages). */
  readonly selected: AuditRecord | null;

  setDraft(draft: AuditFilterDraft, opts?: { readonly immediate?: boolean }): void;
  /** The panel is on screen: loads the first page if nothing (or something stale) is held. */
  open(): void;
  /** The panel left the screen: live records are no longer kept, only counted. */
  close(): void;
  /** Queries the first page of the current filter again, now. */
  refresh(): void;
  loadMore(): void;
  /** Records from `audit.appended`, oldest first. */
  appendLive(records: readonly AuditRecord[]): void;
  /** Pauses or resumes live follow; resuming brings in what arrived meanwhile. */
  setPaused(paused: boolean): void;
  /** Opens a record in the detail pane; null closes it. */
  select(record: AuditRecord | null): void;
  /**
   * "Everything about this certificate" (issue 10): the Audit panel, filtered by the serial (or,
   * without one, the CN), from a client or a connection row.
   */
  showFor(target: { readonly serial?: string; readonly cn?: string }): void;
  /** Drops everything and cancels timers (bench and tests). */
  reset(): void;
}

export type AuditQuery = (input: CallInput<'audit.query'>) => Promise<AuditPage>;

export interface AuditStoreDeps {
  readonly query: AuditQuery;
  readonly onError: (err: unknown) => void;
  readonly debounceMs?: number;
  readonly pageSize?: number;
  /** Past this many loaded records, live additions push the oldest out (they can be paged in again). */
  readonly maxLoaded?: number;
  /** Coalesces re-queries caused by live records that could not be matched here. */
  readonly requeryMs?: number;
  /** Brings the Audit panel on screen (`showFor`). */
  readonly onShow?: () => void;
}

export const AUDIT_PAGE_SIZE = 200;
export const AUDIT_DEBOUNCE_MS = 250;
const MAX_LOADED = 20_000;
const REQUERY_MS = 500;

const INITIAL = {
  draft: EMPTY_AUDIT_DRAFT,
  draftError: null,
  filter: {},
  records: [],
  total: null,
  allTotal: null,
  nextCursor: null,
  status: 'idle',
  loadingMore: false,
  error: null,
  epoch: 0,
  paused: false,
  heldLive: 0,
  selected: null,
} as const satisfies Partial<AuditState>;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createAuditStore(deps: AuditStoreDeps): UseBoundStore<StoreApi<AuditState>> {
  const debounceMs = deps.debounceMs ?? AUDIT_DEBOUNCE_MS;
  const pageSize = deps.pageSize ?? AUDIT_PAGE_SIZE;
  const maxLoaded = deps.maxLoaded ?? MAX_LOADED;
  const requeryMs = deps.requeryMs ?? REQUERY_MS;

  // Bookkeeping the view never renders, kept out of the state so it causes no re-render.
  let generation = 0;
  let active = false;
  /** Live records arrived while the panel was away: the loaded pages no longer show the log's top. */
  let stale = false;
  let filterTimer: ReturnType<typeof setTimeout> | null = null;
  let requeryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Live records that arrived while a first-page (or top) query was in flight: judged against its answer. */
  let pendingLive: AuditRecord[] | null = null;
  /** Highest seq counted into `allTotal`; live records above it add to it. */
  let allHead = 0;
  /** Seqs seen while the unfiltered count was being fetched (null when no fetch is in flight). */
  let pendingAllSeqs: number[] | null = null;
  let allGeneration = 0;

  const clearTimer = (t: ReturnType<typeof setTimeout> | null): null => {
    if (t !== null) clearTimeout(t);
    return null;
  };

  const queryInput = (filter: AuditFilter, extra: { before?: number }): CallInput<'audit.query'> => ({
    ...(isEmptyFilter(filter) ? {} : { filter }),
    ...extra,
    limit: pageSize,
  });

  return create<AuditState>()((set, get) => {
    /**
     * Adds live records (oldest first) that are newer than the loaded top and match the filter.
     * Returns true when some record could not be judged here, so the top must be fetched again.
     */
    const applyLive = (incoming: readonly AuditRecord[]): boolean => {
      const { records, filter, total, nextCursor } = get();
      const head = records[0]?.seq ?? 0;
      const fresh: AuditRecord[] = [];
      let unsure = false;
      for (const r of incoming) {
        if (r.seq <= head) continue; // already in the loaded pages (or older than them)
        const m = matchLive(filter, r);
        if (m === 'yes') fresh.push(r);
        else if (m === 'unsure') unsure = true;
      }
      if (fresh.length > 0) {
        // Newest first on screen; a batch can arrive out of order.
        fresh.sort((a, b) => b.seq - a.seq);
        let next = fresh.concat(records);
        let cursor = nextCursor;
        if (next.length > maxLoaded) {
          next = next.slice(0, maxLoaded);
          // The dropped tail is reachable again by paging from the last record kept.
          cursor = (next[next.length - 1] as AuditRecord).seq;
        }
        set({ records: next, total: (total ?? 0) + fresh.length, nextCursor: cursor });
      }
      return unsure;
    };

    const scheduleRequery = () => {
      if (requeryTimer !== null) return;
      requeryTimer = setTimeout(() => {
        requeryTimer = null;
        refreshTop();
      }, requeryMs);
    };

    /** First page of `filter`, replacing the list; live records that arrive meanwhile are held for the answer. */
    const queryFirst = (filter: AuditFilter) => {
      filterTimer = clearTimer(filterTimer);
      requeryTimer = clearTimer(requeryTimer);
      const mine = ++generation;
      stale = false;
      pendingLive = [];
      // The new first page includes whatever was held back while paused.
      set({ filter, status: 'loading', loadingMore: false, error: null, heldLive: 0 });
      deps.query(queryInput(filter, {})).then(
        (page) => {
          if (mine !== generation) return;
          const held = pendingLive ?? [];
          pendingLive = null;
          set((s) => ({
            records: page.records,
            total: page.total,
            nextCursor: page.nextCursor,
            status: 'ready',
            epoch: s.epoch + 1,
          }));
          if (applyLive(held)) scheduleRequery();
        },
        (err: unknown) => {
          if (mine !== generation) return;
          pendingLive = null;
          set({ status: 'error', error: messageOf(err) });
          deps.onError(err);
        },
      );
    };

    /**
     * The newest page again, merged on top of what is loaded (scroll position and older pages kept).
     * Falls back to replacing the list when the new records do not reach down to the loaded top.
     */
    const refreshTop = () => {
      const { status, filter } = get();
      if (status !== 'ready' || pendingLive !== null) return;
      const mine = generation; // a filter change or reset while in flight drops the answer
      pendingLive = [];
      deps.query(queryInput(filter, {})).then(
        (page) => {
          if (mine !== generation) return;
          const held = pendingLive ?? [];
          pendingLive = null;
          const { records } = get();
          const head = records[0]?.seq ?? 0;
          const newer = page.records.filter((r) => r.seq > head);
          const reaches = newer.length < page.records.length || page.nextCursor === null;
          if (!reaches) {
            queryFirst(filter);
            return;
          }
          set({ records: newer.length > 0 ? newer.concat(records) : records, total: page.total });
          if (applyLive(held)) scheduleRequery();
        },
        (err: unknown) => {
          if (mine !== generation) return;
          pendingLive = null;
          deps.onError(err);
        },
      );
    };

    const fetchAllTotal = () => {
      const mine = ++allGeneration;
      pendingAllSeqs = [];
      // One record is enough: the answer's total is the log's size, its first record the log's top.
      deps.query({ limit: 1 }).then(
        (page) => {
          if (mine !== allGeneration) return;
          const head = page.records[0]?.seq ?? 0;
          const later = (pendingAllSeqs ?? []).filter((seq) => seq > head);
          pendingAllSeqs = null;
          allHead = Math.max(head, ...later);
          set({ allTotal: page.total + new Set(later).size });
        },
        (err: unknown) => {
          if (mine !== allGeneration) return;
          pendingAllSeqs = null;
          deps.onError(err);
        },
      );
    };

    return {
      ...INITIAL,

      setDraft: (draft, opts) => {
        const parsed = parseDraft(draft);
        if (!parsed.ok) {
          // Nothing is sent; a query already scheduled for an earlier valid draft still goes out.
          set({ draft, draftError: { field: parsed.field, message: parsed.message } });
          return;
        }
        set({ draft, draftError: null });
        const same = filterKey(parsed.filter) === filterKey(get().filter);
        if (same && filterTimer === null) return;
        filterTimer = clearTimer(filterTimer);
        if (same && get().status !== 'loading') return;
        if (opts?.immediate || debounceMs <= 0) {
          queryFirst(parsed.filter);
          return;
        }
        // Dim the list at once: what it shows is no longer what the toolbar says.
        generation++;
        pendingLive = null;
        set({ status: 'loading', loadingMore: false });
        filterTimer = setTimeout(() => {
          filterTimer = null;
          queryFirst(parsed.filter);
        }, debounceMs);
      },

      open: () => {
        active = true;
        const { status } = get();
        if (status === 'idle' || status === 'error' || stale) queryFirst(get().filter);
        if (get().allTotal === null && pendingAllSeqs === null) fetchAllTotal();
      },

      close: () => {
        active = false;
      },

      refresh: () => queryFirst(get().filter),

      loadMore: () => {
        const { status, loadingMore, nextCursor, filter } = get();
        if (status !== 'ready' || loadingMore || nextCursor === null) return;
        const mine = generation;
        set({ loadingMore: true });
        deps.query(queryInput(filter, { before: nextCursor })).then(
          (page) => {
            if (mine !== generation) return;
            const { records } = get();
            const last = records[records.length - 1]?.seq ?? Infinity;
            const older = page.records.filter((r) => r.seq < last);
            // `total` stays ours: main's count here may already include live records we added.
            set({ records: records.concat(older), nextCursor: page.nextCursor, loadingMore: false });
          },
          (err: unknown) => {
            if (mine !== generation) return;
            set({ loadingMore: false });
            deps.onError(err);
          },
        );
      },

      appendLive: (incoming) => {
        if (incoming.length === 0) return;
        const sorted = [...incoming].sort((a, b) => a.seq - b.seq);
        if (pendingAllSeqs !== null) {
          pendingAllSeqs.push(...sorted.map((r) => r.seq));
        } else {
          const { allTotal } = get();
          const added = sorted.filter((r) => r.seq > allHead);
          if (added.length > 0) {
            allHead = (added[added.length - 1] as AuditRecord).seq;
            if (allTotal !== null) set({ allTotal: allTotal + added.length });
          }
        }

        const { status } = get();
        if (status === 'idle') return;
        if (!active) {
          // Not on screen: keep nothing; the next open() fetches the top again.
          stale = true;
          return;
        }
        if (pendingLive !== null) {
          pendingLive.push(...sorted);
          return;
        }
        // A debounced filter query is yet to go out; its answer will include these records.
        if (status !== 'ready') return;
        if (get().paused) {
          // Counted, not shown: the operator is reading. Resuming fetches the top again.
          const { filter, heldLive } = get();
          const head = get().records[0]?.seq ?? 0;
          const n = sorted.filter((r) => r.seq > head && matchLive(filter, r) !== 'no').length;
          if (n > 0) set({ heldLive: heldLive + n });
          return;
        }
        if (applyLive(sorted)) scheduleRequery();
      },

      setPaused: (paused) => {
        if (paused === get().paused) return;
        set({ paused, heldLive: 0 });
        if (!paused && active) refreshTop();
      },

      select: (selected) => set({ selected }),

      showFor: (target) => {
        const serial = target.serial?.trim() ?? '';
        const cn = target.cn?.trim() ?? '';
        const draft = serial !== '' ? { ...EMPTY_AUDIT_DRAFT, serial } : { ...EMPTY_AUDIT_DRAFT, cn };
        set({ selected: null, paused: false, heldLive: 0 });
        get().setDraft(draft, { immediate: true });
        deps.onShow?.();
      },

      reset: () => {
        filterTimer = clearTimer(filterTimer);
        requeryTimer = clearTimer(requeryTimer);
        generation++;
        allGeneration++;
        pendingLive = null;
        pendingAllSeqs = null;
        allHead = 0;
        active = false;
        stale = false;
        set({ ...INITIAL });
      },
    };
  });
}

export const useAuditStore = createAuditStore({
  query: (input) => call('audit.query', input),
  onError: reportError,
  onShow: () => useUiStore.getState().setScreen('audit'),
});

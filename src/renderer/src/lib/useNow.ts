import { useEffect, useLayoutEffect, useSyncExternalStore } from 'react';

/**
 * The one clock of the UI (issue 10): every screen that shows time left reads the same `now`, so the
 * Clients table and the Dashboard never disagree on a certificate. One timer, running while anything
 * shows time; it ticks as often as the most demanding visible screen asks, and at least every
 * TICK_MS. Waking from sleep or returning to the window ticks at once (timers are late after sleep).
 */

export const TICK_MS = 15_000;

type Listener = () => void;

let now = Date.now();
const listeners = new Set<Listener>();
/** The interval each mounted user asked for. */
const wanted = new Map<symbol, number>();
let timer: number | null = null;
let period = 0;

/** Advances the shared clock to the wall clock and tells every reader. */
export function tickNow(at: number = Date.now()): void {
  now = at;
  for (const l of [...listeners]) l();
}

/** The shared clock's current value, for code outside React. */
export function currentNow(): number {
  return now;
}

/** Calls `listener` after every tick (it reads `currentNow()`); returns the unsubscribe. */
export function onTick(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const onWake = () => {
  if (document.visibilityState === 'visible') tickNow();
};

function reschedule(): void {
  const next = wanted.size === 0 ? 0 : Math.min(TICK_MS, ...wanted.values());
  if (next === period) return;
  if (timer !== null) window.clearInterval(timer);
  timer = null;
  period = next;
  if (next === 0) {
    document.removeEventListener('visibilitychange', onWake);
    window.removeEventListener('focus', onWake);
    return;
  }
  timer = window.setInterval(() => tickNow(), next);
  if (wanted.size === 1) {
    document.addEventListener('visibilitychange', onWake);
    window.addEventListener('focus', onWake);
  }
}

/**
 * The shared current time (epoch ms). `intervalMs` is how stale the caller may show it (a live age
 * wants 5 s); the clock never ticks less often than TICK_MS while anyone reads it.
 */
export function useNow(intervalMs: number = TICK_MS): number {
  // A screen that opens reads the wall clock, not the last tick (up to TICK_MS old): the shared
  // clock moves for everyone at once, before the paint, so what shows still agrees everywhere.
  useLayoutEffect(() => {
    if (Date.now() - now >= 1_000) tickNow();
  }, []);
  useEffect(() => {
    const id = Symbol('useNow');
    wanted.set(id, Math.max(1_000, intervalMs));
    reschedule();
    return () => {
      wanted.delete(id);
      reschedule();
    };
  }, [intervalMs]);
  return useSyncExternalStore(onTick, currentNow);
}

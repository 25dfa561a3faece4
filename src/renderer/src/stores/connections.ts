import { create } from 'zustand';
import type { AuditRecord, ConnectionInfo } from '../../../shared/model';
import { pruneSamples, type CountSample } from '../lib/series';

interface ConnectionsState {
  readonly connections: readonly ConnectionInfo[];
  /** Open-connection counts over time, for the chart. */
  readonly samples: readonly CountSample[];
  /** Refusal audit records seen (seq, time in ms, how many refusals), for the chart. */
  readonly refusals: readonly { readonly seq: number; readonly t: number; readonly n: number }[];
  setConnections(connections: readonly ConnectionInfo[], now?: number): void;
  addRefusals(records: readonly AuditRecord[]): void;
  /** Records the current count again so a quiet period still draws. */
  tick(now?: number): void;
}

export const REFUSED_TYPE = 'gateway.connection.refused';
/** How far back refusals are kept (the chart shows the last 10 minutes of it). */
export const REFUSAL_WINDOW_MS = 15 * 60_000;
/** A flood summary: `details.count` refusals the gateway counted without logging each one. */
export const REFUSED_SUPPRESSED_TYPE = 'gateway.connection.refused.suppressed';

function refusalsIn(r: AuditRecord): number {
  if (r.type === REFUSED_TYPE) return 1;
  if (r.type !== REFUSED_SUPPRESSED_TYPE) return 0;
  const count = r.details['count'];
  return typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? count : 0;
}

export const useConnectionsStore = create<ConnectionsState>()((set, get) => ({
  connections: [],
  samples: [],
  refusals: [],
  setConnections: (connections, now = Date.now()) =>
    set({
      connections,
      samples: pruneSamples([...get().samples, { t: now, count: connections.length }], now),
    }),
  addRefusals: (records) => {
    const cutoff = Date.now() - REFUSAL_WINDOW_MS;
    const known = new Set(get().refusals.map((r) => r.seq));
    const fresh: { seq: number; t: number; n: number }[] = [];
    for (const r of records) {
      const n = refusalsIn(r);
      if (n === 0 || known.has(r.seq)) continue;
      const t = Date.parse(r.time);
      if (t >= cutoff) fresh.push({ seq: r.seq, t, n });
    }
    if (fresh.length === 0) return;
    set({ refusals: [...get().refusals.filter((r) => r.t >= cutoff), ...fresh] });
  },
  tick: (now = Date.now()) =>
    set({ samples: pruneSamples([...get().samples, { t: now, count: get().connections.length }], now) }),
}));

/** How many live connections present this serial (normalized hex). */
export function liveCountForSerial(connections: readonly ConnectionInfo[], serial: string): number {
  let n = 0;
  for (const c of connections) if (c.serial.toLowerCase() === serial) n++;
  return n;
}

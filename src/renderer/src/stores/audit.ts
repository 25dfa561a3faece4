import { create } from 'zustand';
import type { AuditRecord } from '../../../shared/model';
import { mergeAudit } from '../lib/audit-filter';

interface AuditState {
  readonly records: readonly AuditRecord[];
  readonly loaded: boolean;
  readonly loading: boolean;
  /** Replaces the list with an `audit.query` answer, keeping any newer records that arrived meanwhile. */
  load(records: readonly AuditRecord[]): void;
  append(records: readonly AuditRecord[]): void;
  setLoading(loading: boolean): void;
}

export const useAuditStore = create<AuditState>()((set, get) => ({
  records: [],
  loaded: false,
  loading: false,
  load: (records) => {
    const merged = mergeAudit(records, get().records);
    set({ records: merged ?? records, loaded: true, loading: false });
  },
  append: (incoming) => {
    const merged = mergeAudit(get().records, incoming);
    if (merged) set({ records: merged });
  },
  setLoading: (loading) => set({ loading }),
}));

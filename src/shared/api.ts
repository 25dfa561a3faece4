import type { CallInput, CallName, CallResult, EventName, EventPayloads } from './contract';
import type { Result } from './errors';

/**
 * What the preload exposes as `window.mtls`: one named async function per call in the contract,
 * and `on(event, listener)` returning an unsubscribe function. Nothing else (no raw ipcRenderer).
 */
export type MtlsCalls = { readonly [C in CallName]: (input: CallInput<C>) => Promise<Result<CallResult<C>>> };

export interface MtlsApi {
  readonly call: MtlsCalls;
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
}

declare global {
  interface Window {
    readonly mtls: MtlsApi;
  }
}

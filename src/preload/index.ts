import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { MtlsApi, MtlsCalls } from '../shared/api';
import type { CallName, EventName, EventPayloads } from '../shared/contract';
import type { Result } from '../shared/errors';
import {
  CALL_NAME_LIST,
  EVENT_NAME_LIST,
  RENDERER_READY_CHANNEL,
  callChannel,
  eventChannel,
} from '../shared/channels';

/**
 * Exposes exactly `MtlsApi` (DESIGN.md §4): one named function per call and `on` for the contract's
 * events. Never raw ipcRenderer, never process.env. This runs sandboxed, where `require` reaches only
 * `electron`, so it imports nothing at run time but `electron` and the zod-free `shared/channels`
 * (type imports vanish in the build).
 */

async function invoke(name: CallName, input: unknown): Promise<Result<unknown>> {
  try {
    return (await ipcRenderer.invoke(callChannel(name), input)) as Result<unknown>;
  } catch {
    // Main answers every call with a Result; a rejection means the channel itself failed (e.g. during shutdown).
    return { ok: false, error: { code: 'INTERNAL', message: `IPC call ${name} failed` } };
  }
}

// Built from the zod-free name list; the `as` is checked by contract.ts, which keeps the list equal to the calls.
const call = Object.freeze(
  Object.fromEntries(CALL_NAME_LIST.map((name) => [name, (input: unknown) => invoke(name, input)])),
) as unknown as MtlsCalls;

const subscribed = new Set<EventName>();

function on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
  if (!(EVENT_NAME_LIST as readonly string[]).includes(event))
    throw new Error(`unknown event "${String(event)}"`);
  if (typeof listener !== 'function') throw new Error('listener must be a function');
  // Hand the page the payload only: the IPC event object would leak `sender` (ipcRenderer itself).
  const handler = (_e: IpcRendererEvent, payload: EventPayloads[E]): void => listener(payload);
  const channel = eventChannel(event);
  ipcRenderer.on(channel, handler);
  if (!subscribed.has(event)) {
    subscribed.add(event);
    // Main holds this event until the page listens for it.
    ipcRenderer.send(RENDERER_READY_CHANNEL, event);
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    ipcRenderer.removeListener(channel, handler);
  };
}

const api: MtlsApi = { call, on };

contextBridge.exposeInMainWorld('mtls', api);

import type { IpcMain, IpcMainEvent, IpcMainInvokeEvent, WebContents } from 'electron';
import {
  CALL_NAME_LIST,
  EVENT_NAME_LIST,
  RENDERER_READY_CHANNEL,
  callChannel,
  eventChannel,
} from '../../shared/channels';
import { createEventGate, type EventSource, type IpcDispatcher, type IpcSender } from './ipc';

/** What the dispatcher's sender policy sees of an Electron IPC event. */
export function senderOf(event: IpcMainInvokeEvent | IpcMainEvent): IpcSender {
  const frame = event.senderFrame;
  if (!frame) return null; // the frame navigated away or was destroyed before the message was handled
  return {
    url: frame.url,
    webContentsId: event.sender.id,
    isMainFrame: frame === event.sender.mainFrame,
  };
}

/**
 * Binds every `mtls:<call>` channel to the dispatcher and forwards service events to the window as
 * `mtls:event:<name>`, held until the page has subscribed. Returns an unbind function.
 */
export function bindIpc(
  ipcMain: IpcMain,
  webContents: WebContents,
  dispatcher: IpcDispatcher,
  events?: EventSource,
): () => void {
  const channels = CALL_NAME_LIST.map(callChannel);
  for (const channel of channels) {
    ipcMain.handle(channel, (event, input: unknown) => dispatcher.dispatch(channel, senderOf(event), input));
  }

  const gate = createEventGate((name, payload) => {
    if (!webContents.isDestroyed()) webContents.send(eventChannel(name), payload);
  });
  const onReady = (event: IpcMainEvent, name: unknown): void => {
    // Only the window we forward to may open its own gate.
    if (event.sender.id !== webContents.id || typeof name !== 'string') return;
    gate.ready(name);
  };
  ipcMain.on(RENDERER_READY_CHANNEL, onReady);
  // A reload or navigation drops the page's listeners: hold events until the new page subscribes.
  const onStartLoading = (): void => gate.reset();
  webContents.on('did-start-loading', onStartLoading);

  const unsubscribers = events
    ? EVENT_NAME_LIST.map((name) => events.on(name, (payload) => gate.emit(name, payload)))
    : [];

  return () => {
    for (const channel of channels) ipcMain.removeHandler(channel);
    ipcMain.removeListener(RENDERER_READY_CHANNEL, onReady);
    if (!webContents.isDestroyed()) webContents.removeListener('did-start-loading', onStartLoading);
    for (const off of unsubscribers) off();
  };
}

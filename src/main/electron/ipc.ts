import type { z } from 'zod';
import {
  CHANNEL_PREFIX,
  calls,
  isCallName,
  type CallName,
  type CallParsedInput,
  type CallResult,
  type EventName,
  type EventPayloads,
} from '../../shared/contract';
import { EVENT_NAME_LIST } from '../../shared/channels';
import type { ErrorCode, Result } from '../../shared/errors';
import { isConsoleError } from '../errors';

/**
 * The IPC front door onto the console service (DESIGN.md §4), kept free of `electron` so that it is
 * unit-tested as is and reused by the e2e bridge. Order of checks: sender, channel, input; the
 * service is called only when all three pass, so a refused message changes nothing.
 */

/** Who sent a message: the sending frame (Electron's `senderFrame`, Playwright's binding source) or a bare id. */
export type IpcSender =
  | {
      readonly url: string;
      /** `event.sender.id`: the webContents the frame belongs to. */
      readonly webContentsId?: number;
      /** False for iframes: only the app's top frame may call. */
      readonly isMainFrame?: boolean;
    }
  | number
  | null
  | undefined;

/** Runs one call with its parsed input; `ConsoleService.handle` has this shape. */
export type CallHandler = <C extends CallName>(call: C, input: CallParsedInput<C>) => Promise<CallResult<C>>;

export interface IpcDispatcherOptions {
  readonly handle: CallHandler;
  readonly isAllowedSender: (sender: IpcSender) => boolean;
  /** Gets unexpected (non-ConsoleError) failures with their stack, for main's own log; never for the renderer. */
  readonly onInternalError?: (call: CallName, error: unknown) => void;
}

export interface IpcDispatcher {
  /** Never rejects: every outcome is a `Result`. */
  dispatch(channel: string, sender: IpcSender, rawInput: unknown): Promise<Result<unknown>>;
}

const MAX_MESSAGE = 300;
export const INTERNAL_MESSAGE = 'internal error in the console service (details are in the main process log)';

function fail(code: ErrorCode, message: string): Result<never> {
  return { ok: false, error: { code, message: oneLine(message) } };
}

/** Error messages cross to the UI as one short line: no stack, no multi-line dumps. */
function oneLine(message: string): string {
  const line = message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line;
}

/** `name: must be …` — the first issue, naming the field the operator has to fix. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'input: invalid';
  if (issue.code === 'unrecognized_keys')
    return `input: unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'input';
  return `${field}: ${issue.message}`;
}

export function createIpcDispatcher(opts: IpcDispatcherOptions): IpcDispatcher {
  async function run<C extends CallName>(call: C, rawInput: unknown): Promise<Result<unknown>> {
    const schema: z.ZodType = calls[call].input;
    const parsed = schema.safeParse(rawInput);
    if (!parsed.success) return fail('INVALID_INPUT', `${call}: ${describeZodError(parsed.error)}`);
    try {
      // The schema for `call` produced this value, so it is that call's parsed input.
      const value = await opts.handle(call, parsed.data as CallParsedInput<C>);
      return { ok: true, value };
    } catch (e) {
      if (isConsoleError(e)) return fail(e.code, e.message);
      opts.onInternalError?.(call, e);
      return fail('INTERNAL', INTERNAL_MESSAGE);
    }
  }

  return {
    async dispatch(channel, sender, rawInput) {
      let allowed = false;
      try {
        allowed = opts.isAllowedSender(sender);
      } catch {
        allowed = false;
      }
      if (!allowed) return fail('FORBIDDEN', 'sender is not the console window');
      const name =
        typeof channel === 'string' && channel.startsWith(CHANNEL_PREFIX)
          ? channel.slice(CHANNEL_PREFIX.length)
          : '';
      if (!isCallName(name))
        return fail('FORBIDDEN', `unknown channel "${oneLine(String(channel)).slice(0, 80)}"`);
      return run(name, rawInput);
    },
  };
}

export interface SenderPolicyOptions {
  /** The app window's webContents id (a function: the window may be recreated). */
  readonly webContentsId: () => number | undefined;
  /** The URL the window loads: `file:///…/out/renderer/index.html` or the dev server's URL. */
  readonly appUrl: string;
}

/**
 * Accepts only the app's own top frame on the app's own page (VS Code's validatedIpcMain, Electron
 * Fiddle): a navigated-away window, an iframe or another webContents is refused.
 */
export function createSenderPolicy(opts: SenderPolicyOptions): (sender: IpcSender) => boolean {
  const app = new URL(opts.appUrl);
  return (sender) => {
    if (sender === null || sender === undefined || typeof sender === 'number') return false;
    const id = opts.webContentsId();
    if (id === undefined || sender.webContentsId !== id) return false;
    if (sender.isMainFrame !== true) return false;
    let url: URL;
    try {
      url = new URL(sender.url);
    } catch {
      return false;
    }
    // file: URLs have no origin ("null"), so compare protocol and path; http(s) dev server: the origin.
    if (app.protocol === 'file:') return url.protocol === 'file:' && url.pathname === app.pathname;
    return url.origin === app.origin;
  };
}

/** Anything with the service's `on(event, listener) → unsubscribe` shape. */
export interface EventSource {
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
}

export interface EventGate {
  /** Queue or send one event. */
  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void;
  /** The renderer subscribed to `event`: flush what was held for it. Unknown names are ignored. */
  ready(event: string): void;
  /** A new page is loading: hold everything again until it subscribes. */
  reset(): void;
}

/** Snapshot events replace each other, so only the newest is held; audit batches are kept in order up to a cap. */
const SNAPSHOT_EVENTS: ReadonlySet<EventName> = new Set<EventName>(['connections.changed', 'status.changed']);
const MAX_HELD_BATCHES = 1000;

/**
 * Holds events until the renderer has a listener for them (Electron Fiddle holds until "ready"):
 * an event sent to a page still loading would be lost.
 */
export function createEventGate(
  send: <E extends EventName>(event: E, payload: EventPayloads[E]) => void,
): EventGate {
  const ready = new Set<EventName>();
  const held = new Map<EventName, unknown[]>();
  const isEvent = (s: string): s is EventName => (EVENT_NAME_LIST as readonly string[]).includes(s);
  return {
    emit(event, payload) {
      if (ready.has(event)) {
        send(event, payload);
        return;
      }
      const queue = held.get(event) ?? [];
      if (SNAPSHOT_EVENTS.has(event)) queue.length = 0;
      queue.push(payload);
      if (queue.length > MAX_HELD_BATCHES) queue.shift();
      held.set(event, queue);
    },
    ready(event) {
      if (!isEvent(event) || ready.has(event)) return;
      ready.add(event);
      const queue = held.get(event) ?? [];
      held.delete(event);
      // Each queued payload was pushed by emit() for this same event.
      for (const payload of queue) send(event, payload as EventPayloads[typeof event]);
    },
    reset() {
      ready.clear();
      held.clear();
    },
  };
}

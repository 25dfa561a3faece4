/**
 * The gateway's channel to its parent. Under `child_process.fork` that is Node's IPC channel;
 * under Electron's `utilityProcess` it is `process.parentPort`. Detected at run time so one
 * bundle serves both, and this folder never imports `electron`.
 */
export interface ParentLink {
  readonly kind: 'node-ipc' | 'electron-parent-port';
  send(msg: unknown): void;
  onMessage(cb: (msg: unknown) => void): void;
  /** Called once when the parent goes away. */
  onClose(cb: () => void): void;
  /** Resolves when queued messages have been handed to the OS (best effort on parentPort). */
  flush(): Promise<void>;
}

/** The subset of Electron's `process.parentPort` we rely on. */
interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  postMessage(message: unknown): void;
}

function isParentPort(v: unknown): v is ParentPortLike {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['on'] === 'function' && typeof o['postMessage'] === 'function';
}

export function detectParentLink(proc: NodeJS.Process = process): ParentLink | null {
  const port = (proc as unknown as { parentPort?: unknown }).parentPort;
  if (isParentPort(port)) return parentPortLink(port);
  if (typeof proc.send === 'function' && proc.connected) return nodeIpcLink(proc);
  return null;
}

function nodeIpcLink(proc: NodeJS.Process): ParentLink {
  let pending = 0;
  let waiters: Array<() => void> = [];
  const settle = (): void => {
    if (pending > 0) return;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  return {
    kind: 'node-ipc',
    send(msg) {
      if (!proc.connected || !proc.send) return;
      pending++;
      proc.send(msg, undefined, {}, () => {
        pending--;
        settle();
      });
    },
    onMessage(cb) {
      proc.on('message', (m: unknown) => cb(m));
    },
    onClose(cb) {
      proc.once('disconnect', cb);
    },
    flush() {
      return pending === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

function parentPortLink(port: ParentPortLike): ParentLink {
  return {
    kind: 'electron-parent-port',
    send(msg) {
      port.postMessage(msg);
    },
    onMessage(cb) {
      port.on('message', (e: { data: unknown }) => cb(e.data));
    },
    onClose(cb) {
      // Electron ends utility processes with their parent; 'close' is handled where the port emits it.
      port.on('close', () => cb());
    },
    flush() {
      return new Promise((resolve) => setImmediate(resolve));
    },
  };
}

import net from 'node:net';
import tls from 'node:tls';
import { Http1Parser, type MessageHead } from './http1';

/** What an upstream connection reports to the exchange that holds it. */
export interface UpstreamUser {
  /** Return true when the response has no body whatever its headers say (HEAD). */
  onHead(head: MessageHead): boolean;
  onBody(chunk: Buffer): void;
  onEnd(): void;
  /** A parse error, a reset or a close before the response was complete. */
  onFailure(error: Error & { code?: string }, beforeResponse: boolean): void;
}

/**
 * One keep-alive socket to the upstream with its response parser. Listeners are attached once and
 * dispatch to the exchange holding the socket now; data with no exchange to go to ends the socket.
 */
export class UpstreamConn {
  user: UpstreamUser | null = null;
  /** True once a response byte arrived for the current user. */
  responded = false;
  /** Requests served on this socket: a reused socket may have been closed by the upstream meanwhile. */
  uses = 0;
  private readonly parser: Http1Parser;
  private broken = false;

  constructor(
    readonly socket: net.Socket,
    private readonly gone: (c: UpstreamConn) => void,
  ) {
    this.parser = new Http1Parser('response', {
      // A response nobody asked for (after the last one ended, in the same read): an upstream out
      // of step with its requests, whose bytes could reach the next client. Never reused.
      begin: () => {
        if (!this.user) {
          this.broken = true;
          socket.destroy();
        }
      },
      head: (h) => this.user?.onHead(h) ?? false,
      body: (chunk) => this.user?.onBody(chunk),
      end: () => this.user?.onEnd(),
    });
    socket.setNoDelay(true);
    // Connect timeout and idle keep-alive timeout (the pool sets either); in use it is 0.
    socket.on('timeout', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      const r = this.parser.finish();
      this.broken = true;
      if (!r.ok) this.fail(Object.assign(new Error(r.reason), { code: r.code }));
      else this.fail(Object.assign(new Error('upstream closed the connection'), { code: 'UPSTREAM_CLOSED' }));
      socket.destroy();
    });
    socket.on('error', (err: Error & { code?: string }) => this.fail(err));
    socket.on('close', () => {
      this.broken = true;
      this.fail(Object.assign(new Error('upstream closed the connection'), { code: 'UPSTREAM_CLOSED' }));
      this.parser.free();
      this.gone(this);
    });
  }

  /** Reusable for the next request: open, and its last response ended cleanly. */
  get reusable(): boolean {
    return !this.broken && !this.socket.destroyed;
  }

  markBroken(): void {
    this.broken = true;
  }

  private onData(chunk: Buffer): void {
    if (!this.user) {
      // Bytes nobody asked for (a response to nothing): the socket cannot be trusted any more.
      this.socket.destroy();
      return;
    }
    this.responded = true;
    const r = this.parser.execute(chunk);
    if (!r.ok) {
      this.broken = true;
      this.fail(Object.assign(new Error(`bad upstream response: ${r.reason}`), { code: r.code }));
      this.socket.destroy();
    }
  }

  private fail(err: Error & { code?: string }): void {
    const user = this.user;
    if (!user) return;
    this.user = null;
    user.onFailure(err, !this.responded);
  }
}

interface Waiter {
  readonly cb: (err: Error | null, conn: UpstreamConn | null) => void;
}

/**
 * The upstream connections of one proxy: idle ones are reused most-recent first and closed after
 * KEEPALIVE_MS (shorter than Node's and nginx's 5 s, so the upstream rarely closes one first).
 * Each client connection holds at most one at a time, so the wait queue is bounded by the
 * gateway's connection cap.
 */
export class UpstreamPool {
  private readonly idle: UpstreamConn[] = [];
  private readonly waiters: Waiter[] = [];
  private total = 0;
  private connecting = 0;
  private closed = false;
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;

  constructor(
    url: URL,
    private readonly maxSockets: number,
  ) {
    this.secure = url.protocol === 'https:';
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = url.port === '' ? (this.secure ? 443 : 80) : Number(url.port);
  }

  /** Calls back with a connected socket (at once when one is idle); cancel() withdraws the wait. */
  acquire(cb: (err: Error | null, conn: UpstreamConn | null) => void): { cancel(): void } {
    if (this.closed) {
      cb(new Error('gateway stopping'), null);
      return { cancel: () => undefined };
    }
    let idle = this.idle.pop();
    while (idle && !idle.reusable) idle = this.idle.pop();
    if (idle) {
      idle.socket.setTimeout(0);
      cb(null, idle);
      return { cancel: () => undefined };
    }
    const waiter: Waiter = { cb };
    this.waiters.push(waiter);
    this.fill();
    return {
      cancel: () => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
      },
    };
  }

  /** Back to the pool after a clean response; anything else is destroyed. */
  release(conn: UpstreamConn): void {
    conn.user = null;
    conn.responded = false;
    if (this.closed || !conn.reusable) {
      conn.socket.destroy();
      return;
    }
    const next = this.waiters.shift();
    if (next) {
      next.cb(null, conn);
      return;
    }
    this.idle.push(conn);
    conn.socket.setTimeout(KEEPALIVE_MS);
  }

  discard(conn: UpstreamConn): void {
    conn.user = null;
    conn.markBroken();
    conn.socket.destroy();
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.cb(new Error('gateway stopping'), null);
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }

  private fill(): void {
    while (this.waiters.length > this.connecting && this.total < this.maxSockets) this.connect();
  }

  private connect(): void {
    this.total++;
    this.connecting++;
    const socket = this.secure
      ? tls.connect({
          host: this.host,
          port: this.port,
          servername: net.isIP(this.host) ? undefined : this.host,
        })
      : net.connect({ host: this.host, port: this.port });
    let connected = false;
    const conn = new UpstreamConn(socket, (c) => {
      if (!connected) {
        this.connecting--;
        // A failed connect fails one waiter (the one it was opened for); the others get new tries.
        this.waiters.shift()?.cb(connectError ?? new Error('upstream connect failed'), null);
      }
      this.onGone(c);
    });
    let connectError: Error | undefined;
    socket.once('error', (err: Error) => {
      connectError ??= err;
    });
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    socket.once('timeout', () => {
      connectError ??= Object.assign(new Error(`upstream connect timed out after ${CONNECT_TIMEOUT_MS} ms`), {
        code: 'ETIMEDOUT',
      });
    });
    socket.once(this.secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      this.connecting--;
      socket.setTimeout(0);
      const w = this.waiters.shift();
      if (w) w.cb(null, conn);
      else this.release(conn);
    });
  }

  private onGone(conn: UpstreamConn): void {
    this.total--;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    if (!this.closed) this.fill();
  }
}

const KEEPALIVE_MS = 4_000;
const CONNECT_TIMEOUT_MS = 10_000;

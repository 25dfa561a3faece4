import net from 'node:net';
import tls from 'node:tls';
import { Http1Parser, type MessageHead } from './http1';

/** What an upstream connection reports to the exchange that holds it. */
export interface UpstreamUser {
  /** Return true when the response has no body whatever its headers say (HEAD). */
  onHead(head: MessageHead): boolean;
  onBody(chunk: Buffer): void;
  onEnd(): void;
  /** The bytes of one socket read were all parsed (onBody output may be written out now). */
  onReadEnd(): void;
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
  /** When it last went back to the pool (the pool's sweep closes it after KEEPALIVE_MS). */
  idleSince = 0;
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
    // The connect timeout (the pool sets it until connected).
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
    const user = this.user;
    const r = this.parser.execute(chunk);
    if (!r.ok) {
      this.broken = true;
      this.fail(Object.assign(new Error(`bad upstream response: ${r.reason}`), { code: r.code }));
      this.socket.destroy();
      return;
    }
    // The user that read these bytes, even if its response ended and released this socket.
    user.onReadEnd();
  }

  private fail(err: Error & { code?: string }): void {
    const user = this.user;
    if (!user) return;
    this.user = null;
    user.onFailure(err, !this.responded);
  }
}

/** Who waits for a socket (the exchange itself: no closure per request). */
export interface UpstreamWaiter {
  upstreamReady(err: Error | null, conn: UpstreamConn | null): void;
}

const NOTHING_TO_CANCEL = { cancel: (): void => undefined };

/**
 * The upstream connections of one proxy: idle ones are reused most-recent first and closed after
 * KEEPALIVE_MS (shorter than Node's and nginx's 5 s, so the upstream rarely closes one first) by a
 * sweep, not a socket timer re-armed per request (a Timeout and a bound function each time).
 * Each client connection holds at most one at a time, so the wait queue is bounded by the
 * gateway's connection cap.
 */
export class UpstreamPool {
  private readonly idle: UpstreamConn[] = [];
  private readonly waiters: UpstreamWaiter[] = [];
  private readonly sweeper: NodeJS.Timeout;
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
    this.sweeper = setInterval(() => this.sweepIdle(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Calls back with a connected socket (at once when one is idle); cancel() withdraws the wait. */
  acquire(waiter: UpstreamWaiter): { cancel(): void } {
    if (this.closed) {
      waiter.upstreamReady(new Error('gateway stopping'), null);
      return NOTHING_TO_CANCEL;
    }
    let idle = this.idle.pop();
    while (idle && !idle.reusable) idle = this.idle.pop();
    if (idle) {
      waiter.upstreamReady(null, idle);
      return NOTHING_TO_CANCEL;
    }
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
      next.upstreamReady(null, conn);
      return;
    }
    conn.idleSince = Date.now();
    this.idle.push(conn);
  }

  discard(conn: UpstreamConn): void {
    conn.user = null;
    conn.markBroken();
    conn.socket.destroy();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const w of this.waiters.splice(0)) w.upstreamReady(new Error('gateway stopping'), null);
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
        this.waiters.shift()?.upstreamReady(connectError ?? new Error('upstream connect failed'), null);
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
      if (w) w.upstreamReady(null, conn);
      else this.release(conn);
    });
  }

  /** Closes the sockets idle for KEEPALIVE_MS; the oldest are first in the list. */
  private sweepIdle(): void {
    const now = Date.now();
    let stale = 0;
    while (stale < this.idle.length && now - (this.idle[stale] as UpstreamConn).idleSince >= KEEPALIVE_MS)
      stale++;
    for (const c of this.idle.splice(0, stale)) c.socket.destroy();
  }

  private onGone(conn: UpstreamConn): void {
    this.total--;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    if (!this.closed) this.fill();
  }
}

/** Closed after 3.5 to 4 s idle. */
const KEEPALIVE_MS = 3_500;
const SWEEP_MS = 500;
const CONNECT_TIMEOUT_MS = 10_000;

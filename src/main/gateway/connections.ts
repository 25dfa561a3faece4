import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ConnectionInfo } from '../../shared/model';
import type { CloseReason } from './protocol';
import { canonicalSerial, type ClientIdentity } from './verify';

/** One authenticated client connection, from its verified handshake to its close. */
export interface LiveConnection {
  readonly id: string;
  readonly identity: ClientIdentity;
  /** canonicalSerial(identity.serial), computed once: the revocation check runs per request. */
  readonly serialKey: string;
  readonly remoteAddress: string;
  readonly since: number;
  readonly socket: TLSSocket;
  requests: number;
  /** Requests (or one upgraded stream) being served now: a graceful stop waits for these. */
  inFlight: number;
  /** Set by whoever closes the connection on purpose; absent when the client hung up. */
  closeReason?: CloseReason;
  lastActivity: number;
  lastBytes: number;
  /** Bytes read when the connection last had no request in flight and nothing pending. */
  requestMark: number;
  /** Since when bytes of a request have been arriving without its headers completing. */
  partialSince: number | null;
  /** Source port, TLS version and cipher: read once, at the first snapshot (never on the hot path). */
  tls?: { readonly remotePort?: number; readonly tlsVersion?: string; readonly cipher?: string };
}

/** What the viewer shows about a session besides its identity; fixed for the connection's life. */
function sessionFacts(socket: TLSSocket): NonNullable<LiveConnection['tls']> {
  const port = socket.remotePort;
  const version = socket.getProtocol();
  const cipher = socket.getCipher() as { name?: string } | undefined;
  return {
    ...(typeof port === 'number' ? { remotePort: port } : {}),
    ...(typeof version === 'string' ? { tlsVersion: version } : {}),
    ...(typeof cipher?.name === 'string' ? { cipher: cipher.name } : {}),
  };
}

export class ConnectionTable {
  private readonly byId = new Map<string, LiveConnection>();
  private readonly bySocket = new WeakMap<Socket, LiveConnection>();
  /** Live connections per canonical serial, for the per-identity cap. */
  private readonly perSerial = new Map<string, number>();
  /** Bumped on every change a viewer would notice (membership, request counts). */
  private version = 0;

  add(socket: TLSSocket, identity: ClientIdentity, remoteAddress: string, now: number): LiveConnection {
    const key = canonicalSerial(identity.serial);
    const conn: LiveConnection = {
      id: randomBytes(8).toString('hex'),
      identity,
      serialKey: key,
      remoteAddress,
      since: now,
      socket,
      requests: 0,
      inFlight: 0,
      lastActivity: now,
      lastBytes: 0,
      requestMark: socket.bytesRead,
      partialSince: null,
    };
    this.byId.set(conn.id, conn);
    this.bySocket.set(socket, conn);
    this.perSerial.set(key, (this.perSerial.get(key) ?? 0) + 1);
    this.version++;
    return conn;
  }

  remove(conn: LiveConnection): void {
    if (!this.byId.delete(conn.id)) return;
    const key = conn.serialKey;
    const n = (this.perSerial.get(key) ?? 1) - 1;
    if (n <= 0) this.perSerial.delete(key);
    else this.perSerial.set(key, n);
    this.version++;
  }

  /** Live connections of one certificate serial. */
  countOf(serial: string): number {
    return this.perSerial.get(canonicalSerial(serial)) ?? 0;
  }

  /**
   * Connections whose certificate is past its notAfter: closed by the caller whatever their
   * traffic, so a busy connection cannot outlive its certificate (issue 8, item 7).
   */
  expired(now: number): LiveConnection[] {
    return this.all().filter((c) => now > c.identity.notAfter);
  }

  /** The connection a socket belongs to (the http server hands us the same TLSSocket back). */
  of(socket: Socket): LiveConnection | undefined {
    return this.bySocket.get(socket);
  }

  touch(): void {
    this.version++;
  }

  get changeVersion(): number {
    return this.version;
  }

  get size(): number {
    return this.byId.size;
  }

  all(): LiveConnection[] {
    return [...this.byId.values()];
  }

  select(target: { id: string } | { serial: string }): LiveConnection[] {
    if ('id' in target) {
      const c = this.byId.get(target.id);
      return c ? [c] : [];
    }
    const s = canonicalSerial(target.serial);
    return this.all().filter((c) => c.serialKey === s);
  }

  /** Closes a connection now; the first reason given wins. */
  close(conn: LiveConnection, reason: CloseReason): void {
    conn.closeReason ??= reason;
    conn.socket.destroy();
  }

  /** A request finished: bytes read from here on belong to the next one. */
  requestDone(conn: LiveConnection): void {
    conn.requestMark = conn.socket.bytesRead;
    conn.partialSince = null;
  }

  /**
   * Updates activity from byte counters. Returns the connections silent for longer than idleMs, and
   * those that started a request but have not completed its headers within headersMs: a peer that
   * trickles header bytes is never idle, yet must not hold a slot forever (slowloris).
   */
  sweep(
    now: number,
    idleMs: number,
    headersMs: number,
  ): { idle: LiveConnection[]; slow: LiveConnection[]; moved: boolean } {
    const idle: LiveConnection[] = [];
    const slow: LiveConnection[] = [];
    let moved = false;
    for (const c of this.byId.values()) {
      const bytes = c.socket.bytesRead + c.socket.bytesWritten;
      if (bytes !== c.lastBytes) {
        c.lastBytes = bytes;
        c.lastActivity = now;
        moved = true;
      } else if (now - c.lastActivity >= idleMs) {
        idle.push(c);
      }
      if (c.inFlight > 0 || c.socket.bytesRead === c.requestMark) {
        c.partialSince = null;
      } else if (c.partialSince === null) {
        c.partialSince = now;
      } else if (now - c.partialSince >= headersMs) {
        slow.push(c);
      }
    }
    return { idle, slow, moved };
  }

  snapshot(): ConnectionInfo[] {
    return this.all().map((c) => ({
      id: c.id,
      cn: c.identity.cn,
      serial: c.identity.serial,
      remoteAddress: c.remoteAddress,
      ...(c.tls ??= sessionFacts(c.socket)),
      since: new Date(c.since).toISOString(),
      bytesIn: c.socket.bytesRead,
      bytesOut: c.socket.bytesWritten,
      requests: c.requests,
    }));
  }
}

import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { HandshakeBudget, type HandshakeBudgetLimits, type Ticket } from './admission';
import type { GatewayTlsMaterial } from './protocol';

/** What the gateway learns about a socket at accept time, before any byte of TLS. */
export interface Accepted {
  /** The peer address captured at accept time, so it survives a reset (issue 8, item 12). */
  readonly remote: string;
  readonly prefix: string;
  /** Bytes the client sent before its handshake completed: its certificate chain is in there. */
  handshakeBytes(): number;
}

export interface ListenerHandlers {
  /** A handshake completed; nothing has been read from the socket yet. */
  secure(socket: tls.TLSSocket, accepted: Accepted): void;
  /** The handshake failed or timed out; the listener destroys the socket afterwards. */
  handshakeFailed(err: Error & { code?: string }, remote: string): void;
  /** A socket refused at accept time: the pre-authentication budget is spent. */
  dropped(remote: string, detail: string): void;
}

export interface ListenerLimits extends HandshakeBudgetLimits {
  readonly handshakeTimeoutMs: number;
  /** Authenticated slots; only used to size the hard backstop on open sockets. */
  readonly maxConnections: number;
}

/** Everything that goes into a secure context, so a hot swap cannot silently drop a setting. */
function contextOptions(m: GatewayTlsMaterial): tls.SecureContextOptions {
  return { key: m.keyPem, cert: m.certPem, ca: m.caPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

interface Pending {
  readonly ticket: Ticket;
  readonly raw: net.Socket;
  readonly accepted: Accepted;
  timer: NodeJS.Timeout | undefined;
  timedOut: boolean;
}

const handshakeTimeoutError = (): Error & { code: string } =>
  Object.assign(new Error('TLS handshake timeout'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });

/**
 * The TLS 1.3 listener. A plain TCP server accepts and admits each socket against the
 * pre-authentication budget, then hands it to a tls.Server that never listens itself
 * (`server.emit('connection')`, as net documents). The TLS server asks for a client certificate
 * but never rejects in OpenSSL (`rejectUnauthorized: false`): the gateway decides after the
 * handshake, so every refusal is recorded with its reason and the client is told it.
 */
export class TlsListener {
  readonly server: net.Server;
  private readonly tlsServer: tls.Server;
  private readonly budget: HandshakeBudget;
  private readonly pending = new WeakMap<net.Socket, Pending>();
  private material: GatewayTlsMaterial;
  private limits: ListenerLimits;
  private readonly handshakeFailed: ListenerHandlers['handshakeFailed'];

  constructor(material: GatewayTlsMaterial, limits: ListenerLimits, handlers: ListenerHandlers) {
    this.material = material;
    this.limits = limits;
    this.budget = new HandshakeBudget(limits);
    this.tlsServer = tls.createServer({
      ...contextOptions(material),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      // Our own per-socket deadline (onDeadline) applies a saved setting live; Node's is only a
      // backstop at the largest value the config allows (0 would mean Node's default, 120 s).
      handshakeTimeout: 600_001,
    });
    this.server = net.createServer((raw) => this.onAccept(raw, handlers));
    this.setBackstop();
    // Past the backstop net.Server refuses at accept time; counted as a handshake-budget refusal.
    this.server.on('drop', (data) =>
      handlers.dropped(data?.remoteAddress ?? 'unknown', 'open sockets at the hard limit'),
    );
    this.tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
      const p = this.pendingOf(socket);
      if (p) {
        clearTimeout(p.timer);
        p.timer = undefined;
      }
      handlers.secure(socket, p?.accepted ?? fallbackAccepted(socket));
    });
    this.tlsServer.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      const p = this.pendingOf(socket);
      try {
        // A deadline we enforced ourselves was already recorded when it fired.
        if (!p?.timedOut)
          handlers.handshakeFailed(err, p?.accepted.remote ?? socket.remoteAddress ?? 'unknown');
      } finally {
        // With a tlsClientError listener installed Node leaves the socket open: close it ourselves.
        socket.destroy();
      }
    });
    this.handshakeFailed = handlers.handshakeFailed;
  }

  private onAccept(raw: net.Socket, handlers: ListenerHandlers): void {
    const remote = raw.remoteAddress ?? 'unknown';
    // Swallow socket errors here; tlsClientError or close reports what matters.
    raw.on('error', () => undefined);
    const admission = this.budget.admit(remote, Date.now());
    if (!admission.ok) {
      raw.destroy();
      handlers.dropped(remote, admission.detail);
      return;
    }
    const { ticket } = admission;
    const p: Pending = {
      ticket,
      raw,
      accepted: { remote, prefix: ticket.prefix, handshakeBytes: () => raw.bytesRead },
      timer: undefined,
      timedOut: false,
    };
    p.timer = setTimeout(() => this.onDeadline(p), this.limits.handshakeTimeoutMs);
    this.pending.set(raw, p);
    raw.once('close', () => {
      clearTimeout(p.timer);
      this.budget.release(ticket);
    });
    this.tlsServer.emit('connection', raw);
  }

  /** Not re-armed by handshake bytes, so a slow trickle cannot hold a pre-auth slot. */
  private onDeadline(p: Pending): void {
    p.timer = undefined;
    if (p.raw.destroyed) return;
    p.timedOut = true;
    this.handshakeFailed(handshakeTimeoutError(), p.accepted.remote);
    p.raw.destroy();
  }

  /** Node keeps the accepted TCP socket as the TLS socket's `_parent` (not in its typings). */
  private pendingOf(socket: tls.TLSSocket): Pending | undefined {
    const parent = (socket as unknown as { _parent?: net.Socket })._parent;
    return parent ? this.pending.get(parent) : undefined;
  }

  /** The socket passed authentication: it leaves the pre-authentication budget. */
  authenticated(socket: tls.TLSSocket): void {
    const p = this.pendingOf(socket);
    if (p) this.budget.release(p.ticket);
  }

  /** The source sent an oversized chain: rate-limit its next handshakes. */
  penalize(prefix: string): void {
    this.budget.penalize(prefix, Date.now());
  }

  /** Live limits: new handshakes see them at once; sockets already admitted keep their deadline. */
  setLimits(limits: ListenerLimits): void {
    this.limits = limits;
    this.budget.setLimits(limits);
    this.setBackstop();
  }

  /** A hard cap on open sockets, so no accounting bug can exhaust file descriptors. */
  private setBackstop(): void {
    // Refused sockets still reading their answer stay in the handshake budget, so this covers all.
    this.server.maxConnections = this.limits.maxHandshakes + this.limits.maxConnections;
  }

  get pendingHandshakes(): number {
    return this.budget.pending;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Hot rotation: new handshakes use the new material; established sessions are untouched. */
  update(change: { server?: { keyPem: string; certPem: string }; caPem?: string }): void {
    const next: GatewayTlsMaterial = {
      keyPem: change.server?.keyPem ?? this.material.keyPem,
      certPem: change.server?.certPem ?? this.material.certPem,
      caPem: change.caPem ?? this.material.caPem,
    };
    // createSecureContext throws on a bad key/cert pair before anything is swapped.
    tls.createSecureContext(contextOptions(next));
    this.tlsServer.setSecureContext(contextOptions(next));
    this.material = next;
  }

  stopAccepting(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      // close() stops accepting at once; its callback would wait for every socket, so don't.
      this.server.close();
      resolve();
    });
  }

  openSockets(): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

/** Only if Node ever stops exposing `_parent`: the address is read late, as before. */
function fallbackAccepted(socket: tls.TLSSocket): Accepted {
  const remote = socket.remoteAddress ?? 'unknown';
  return { remote, prefix: remote, handshakeBytes: () => 0 };
}

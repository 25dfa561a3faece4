import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { GatewayTlsMaterial } from './protocol';

export interface ListenerHandlers {
  /** A handshake completed; nothing has been read from the socket yet. */
  secure(socket: tls.TLSSocket): void;
  /** The handshake failed or timed out; the listener destroys the socket afterwards. */
  handshakeFailed(err: Error & { code?: string }, socket: tls.TLSSocket): void;
  /** A connection was refused at accept time because maxConnections were open. */
  dropped(remoteAddress: string): void;
}

/** Everything that goes into a secure context, so a hot swap cannot silently drop a setting. */
function contextOptions(m: GatewayTlsMaterial): tls.SecureContextOptions {
  return { key: m.keyPem, cert: m.certPem, ca: m.caPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

/**
 * The TLS 1.3 listener. It asks for a client certificate but never rejects in OpenSSL
 * (`rejectUnauthorized: false`): the gateway decides after the handshake, so every refusal can be
 * recorded with its reason instead of a bare handshake alert.
 */
export class TlsListener {
  readonly server: tls.Server;
  private material: GatewayTlsMaterial;

  constructor(
    material: GatewayTlsMaterial,
    limits: { maxConnections: number; handshakeTimeoutMs: number },
    handlers: ListenerHandlers,
  ) {
    this.material = material;
    this.server = tls.createServer({
      ...contextOptions(material),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      // Node's handshake timer is not re-armed by handshake bytes, so a slow trickle cannot hold a slot.
      handshakeTimeout: limits.handshakeTimeoutMs,
    });
    // net.Server refuses at accept time (and emits 'drop') once this many sockets are open,
    // including those still in their handshake.
    this.server.maxConnections = limits.maxConnections;
    this.server.on('secureConnection', (socket: tls.TLSSocket) => handlers.secure(socket));
    this.server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      try {
        handlers.handshakeFailed(err, socket);
      } finally {
        // With a tlsClientError listener installed Node leaves the socket open: close it ourselves.
        socket.destroy();
      }
    });
    this.server.on('drop', (data) => handlers.dropped(data?.remoteAddress ?? 'unknown'));
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
    this.server.setSecureContext(contextOptions(next));
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

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Running } from './request-lane';
import { rawResponseHead } from './request-headers';
import type { RequestOutcome } from './exchange';

/**
 * Only WebSocket upgrades are tunnelled (issue 8 item 10): an `h2c` upgrade would let raw HTTP/2
 * requests with any headers reach an h2c-capable upstream unaudited. RFC 6455 §4.1: a GET whose
 * Upgrade is exactly the token `websocket`.
 */
export function isWebSocketUpgrade(req: {
  readonly method: string;
  readonly http10: boolean;
  readonly facts: { readonly upgrade: string | undefined };
}): boolean {
  const upgrade = req.facts.upgrade;
  return (
    req.method === 'GET' &&
    !req.http10 &&
    typeof upgrade === 'string' &&
    upgrade.trim().toLowerCase() === 'websocket'
  );
}

/** A response written straight to a socket that Node's http server no longer manages. */
export function rawReply(socket: Duplex, status: number, text: string): void {
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nconnection: close\r\n` +
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export interface TunnelSpec {
  readonly url: URL;
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string | string[]>;
  readonly socket: Socket;
  readonly head: Buffer;
  readonly timeoutMs: number;
  /** An open tunnel with no byte either way for this long is closed (it is "in flight" for ever). */
  readonly idleMs: number;
}

export interface TunnelResult {
  readonly status: number;
  readonly outcome: RequestOutcome;
  readonly reason?: string;
  readonly error?: string;
}

/**
 * A WebSocket upgrade on a fresh upstream socket (node:http hands over the raw socket), then bytes
 * piped both ways until either side closes. Ends exactly once.
 */
export class Tunnel implements Running {
  private status = 0;
  private ended = false;
  private upReq: http.ClientRequest | null = null;
  private upSocket: Duplex | null = null;
  private verdict: { outcome: RequestOutcome; reason?: string; error?: string } | null = null;

  constructor(
    private readonly spec: TunnelSpec,
    private readonly onEnd: (result: TunnelResult) => void,
  ) {}

  start(): void {
    const { spec } = this;
    const { socket } = spec;
    const url = spec.url;
    socket.on('close', () => this.end());
    socket.on('error', () => socket.destroy());
    const mod = url.protocol === 'https:' ? https : http;
    const upReq = mod.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? undefined : Number(url.port),
      method: spec.method,
      path: spec.path,
      agent: false,
      headers: spec.headers,
    });
    this.upReq = upReq;
    const timer = setTimeout(() => {
      this.verdict ??= { outcome: 'timeout', error: `upstream sent no response within ${spec.timeoutMs} ms` };
      upReq.destroy(new Error('upstream timeout'));
    }, spec.timeoutMs);

    upReq.on('upgrade', (upRes, upSocket, upHead) => {
      clearTimeout(timer);
      this.upSocket = upSocket;
      this.status = upRes.statusCode ?? 101;
      if (socket.destroyed) {
        upSocket.destroy();
        return;
      }
      socket.write(rawResponseHead(upRes, false));
      if (upHead.length > 0) socket.write(upHead);
      if (spec.head.length > 0) upSocket.write(spec.head);
      upSocket.on('error', () => socket.destroy());
      upSocket.on('close', () => socket.destroy());
      socket.setTimeout(spec.idleMs, () => {
        this.verdict ??= { outcome: 'completed', reason: 'idle' };
        socket.destroy();
      });
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });

    // The upstream declined the upgrade: relay its plain answer and close.
    upReq.on('response', (upRes) => {
      clearTimeout(timer);
      this.status = upRes.statusCode ?? 502;
      socket.write(rawResponseHead(upRes, true));
      upRes.pipe(socket);
    });

    upReq.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (this.status !== 0 || socket.destroyed) {
        socket.destroy();
        return;
      }
      const timedOut = this.verdict?.outcome === 'timeout';
      this.status = timedOut ? 504 : 502;
      this.verdict ??= {
        outcome: 'upstream_error',
        error: err.code ? `${err.code}: ${err.message}` : err.message,
      };
      rawReply(socket, this.status, timedOut ? 'upstream timed out' : 'upstream unavailable');
    });
    upReq.end();
  }

  abort(why: 'client_closed' | 'shutdown'): void {
    this.verdict ??= { outcome: this.status === 101 ? 'completed' : 'aborted', reason: why };
    this.spec.socket.destroy();
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.upReq?.destroy();
    this.upSocket?.destroy();
    const v = this.verdict ?? { outcome: this.status === 0 ? 'aborted' : 'completed' };
    this.onEnd({ status: this.status, ...v });
  }
}

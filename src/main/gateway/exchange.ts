import type { BodySink, ClientHttp, ParsedRequest } from './client-http';
import type { MessageHead } from './http1';
import type { Running } from './request-lane';
import type { HeaderPolicy } from './request-headers';
import type { UpstreamConn, UpstreamPool, UpstreamUser, UpstreamWaiter } from './upstream-pool';

/** How a dispatched request ended: what its audit record says (issue 8 item 12). */
export type RequestOutcome = 'completed' | 'aborted' | 'timeout' | 'upstream_error';

export interface ExchangeResult {
  /** The status the client was sent; 0 when it was sent none. */
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly outcome: RequestOutcome;
  /** Why it did not complete, for aborted/timeout/upstream_error. */
  readonly reason?: string;
}

export interface ExchangeSpec {
  readonly pool: UpstreamPool;
  readonly policy: HeaderPolicy;
  readonly client: ClientHttp;
  readonly req: ParsedRequest;
  /** The upstream request-target (base path + normalised path + query). */
  readonly path: string;
  readonly upstreamHost: string;
  /** The connection's identity header lines (HeaderPolicy.identityLines). */
  readonly identity: string;
  /** Time for the upstream to send response headers once the request is dispatched (then 504). */
  readonly headersTimeoutMs: number;
  /** Longest silence of the upstream within a response body before the exchange is cut. */
  readonly bodyIdleMs: number;
  /** The connection closes after this response (the client asked, or the gateway is stopping). */
  readonly close: boolean;
}

/** RFC 9110 §9.2.2: these may be sent again when a reused keep-alive socket turned out closed. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

function errorText(err: Error & { code?: string }): string {
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

function contentLengthOf(raw: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return raw[i + 1];
  }
  return undefined;
}

const LAST_CHUNK = '0\r\n\r\n';
/** Above this a response write is a corked writev of its pieces, not a copy into one buffer. */
const COPY_LIMIT = 16 * 1024;

/**
 * One request relayed to the upstream over a pooled keep-alive socket: the head written as one
 * string, the body streamed with backpressure both ways, the response parsed by llhttp and framed
 * anew for the client. It ends exactly once with its true outcome, and every early end destroys the
 * upstream socket instead of returning it to the pool.
 */
export class Exchange implements Running, UpstreamUser, UpstreamWaiter, BodySink {
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private ended = false;
  private up: UpstreamConn | null = null;
  private wait: { cancel(): void } | null = null;
  private verdict: { outcome: RequestOutcome; reason?: string } | null = null;
  private retried = false;
  private bodySent: boolean;
  private chunkedIn: boolean;
  /** The client's response is chunked by the gateway (upstream chunked or close-delimited). */
  private chunkedOut = false;
  private closeAfter: boolean;
  private phase: 'waiting' | 'head' | 'body' | 'flushing' = 'waiting';
  private since = Date.now();
  private lastUpstream = Date.now();
  /** When the client last took or gave a byte while we waited on it (body upload, backpressure). */
  private clientWaitSince: number | null = null;
  private upstreamPaused = false;
  private readonly onClientDrain = (): void => this.clientDrained();
  private bodyPaused = false;
  /**
   * Response bytes parsed from the current upstream read, written to the client as one write when
   * the read ends (see flushOut).
   */
  private out: (string | Buffer)[] = [];
  private outBytes = 0;
  private upstreamKeepAlive = false;
  private readonly onUpstreamDrain = (): void => {
    this.bodyPaused = false;
    this.spec.client.resumeReading('upstream');
  };

  constructor(
    private readonly spec: ExchangeSpec,
    private readonly ended$: (result: ExchangeResult) => void,
  ) {
    this.bodySent = !spec.req.hasBody;
    this.chunkedIn = spec.req.facts.transferEncoding !== undefined;
    this.closeAfter = spec.close;
  }

  start(): void {
    const { req, client } = this.spec;
    // 100 Continue is sent when the request is dispatched, not while it waited in the lane.
    if (req.hasBody && req.body.received === 0 && req.facts.expect !== undefined && !req.http10) {
      client.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    if (req.hasBody) this.clientWaitSince = Date.now();
    this.acquire();
  }

  private acquire(): void {
    this.since = Date.now();
    this.wait = this.spec.pool.acquire(this);
  }

  upstreamReady(err: Error | null, conn: UpstreamConn | null): void {
    this.wait = null;
    if (this.ended) {
      if (conn) this.spec.pool.release(conn);
      return;
    }
    if (err || !conn) {
      this.failBeforeResponse(err ?? new Error('no upstream connection'), false);
      return;
    }
    this.up = conn;
    conn.user = this;
    conn.uses++;
    const { req, policy } = this.spec;
    // An empty body keeps its explicit length (a POST without one may get 411 Length Required).
    const framing = !req.hasBody
      ? req.facts.contentLength !== undefined
        ? 'content-length: 0\r\n'
        : ''
      : this.chunkedIn
        ? 'transfer-encoding: chunked\r\n'
        : `content-length: ${req.facts.contentLength ?? '0'}\r\n`;
    const head = policy.upstreamHead(
      req.method,
      this.spec.path,
      req.rawHeaders,
      req.facts,
      this.spec.upstreamHost,
      this.spec.identity,
      framing,
    );
    this.phase = 'head';
    this.lastUpstream = Date.now();
    if (!req.hasBody) {
      conn.socket.write(head, 'latin1');
      return;
    }
    conn.socket.cork();
    conn.socket.write(head, 'latin1');
    if (!this.retried) req.body.attach(this);
    conn.socket.uncork();
  }

  bodyChunk(chunk: Buffer): void {
    if (this.ended || !this.up) return;
    this.bytesIn += chunk.length;
    this.clientWaitSince = Date.now();
    const s = this.up.socket;
    let ok: boolean;
    if (this.chunkedIn) {
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
    } else ok = s.write(chunk);
    if (!ok && !this.bodyPaused) {
      this.bodyPaused = true;
      this.spec.client.pauseReading('upstream');
      s.once('drain', this.onUpstreamDrain);
    }
  }

  bodyEnd(): void {
    if (this.ended) return;
    this.bodySent = true;
    this.clientWaitSince = null;
    // The upstream's time to answer counts from the end of the request, as undici's does.
    this.since = Date.now();
    if (this.chunkedIn && this.up) this.up.socket.write(LAST_CHUNK, 'latin1');
  }

  onHead(h: MessageHead): boolean {
    if (this.ended) return false;
    const { req, client, policy } = this.spec;
    this.lastUpstream = Date.now();
    if (h.status < 200) {
      if (h.status === 101) {
        // A protocol switch nobody asked for: nothing on this socket can be trusted any more.
        this.failBeforeResponse(new Error('upstream switched protocols on a plain request'), false);
        return false;
      }
      // 1xx are interim (RFC 9110 §15.2): forward Early Hints' links, never take one as the answer.
      if (h.status === 103 && !req.http10) {
        let links = '';
        for (let i = 0; i + 1 < h.rawHeaders.length; i += 2) {
          if ((h.rawHeaders[i] as string).toLowerCase() === 'link')
            links += `link: ${h.rawHeaders[i + 1] as string}\r\n`;
        }
        if (links !== '') client.write(`HTTP/1.1 103 Early Hints\r\n${links}\r\n`);
      }
      return false;
    }
    this.status = h.status;
    this.phase = 'body';
    this.upstreamKeepAlive = h.keepAlive;
    const noBody = req.method === 'HEAD' || h.status === 204 || h.status === 304;
    // The request body is not all read: the connection cannot carry another request.
    if (!req.body.done && req.hasBody) this.closeAfter = true;
    let framing = '';
    const length = contentLengthOf(h.rawHeaders);
    if (noBody) {
      if (length !== undefined) framing = `content-length: ${length}\r\n`;
    } else if (length !== undefined && !h.rawHeaders.some(isTransferEncoding)) {
      framing = `content-length: ${length}\r\n`;
    } else if (req.http10) {
      // HTTP/1.0 has no chunked coding: the body ends when the connection does.
      this.closeAfter = true;
    } else {
      this.chunkedOut = true;
      framing = 'transfer-encoding: chunked\r\n';
    }
    const connection = this.closeAfter
      ? 'connection: close\r\n'
      : req.http10
        ? 'connection: keep-alive\r\n'
        : '';
    // The head waits for the body bytes of this same read (one write, one TLS record for both); a
    // stream of unknown length (SSE) gets its head at once, when this read ends.
    this.queueOut(
      `HTTP/1.1 ${h.status} ${h.statusText}\r\n` +
        policy.clientHeadLines(h.rawHeaders) +
        framing +
        connection +
        '\r\n',
    );
    return req.method === 'HEAD';
  }

  onBody(chunk: Buffer): void {
    if (this.ended) return;
    this.lastUpstream = Date.now();
    this.bytesOut += chunk.length;
    if (this.chunkedOut) {
      this.queueOut(`${chunk.length.toString(16)}\r\n`);
      this.queueOut(chunk);
      this.queueOut('\r\n');
    } else this.queueOut(chunk);
  }

  /** The upstream read ends: what it brought goes to the client, with backpressure. */
  onReadEnd(): void {
    if (this.ended || this.out.length === 0) return;
    const ok = this.flushOut();
    if (!ok && !this.upstreamPaused && this.up) {
      this.upstreamPaused = true;
      this.clientWaitSince ??= Date.now();
      this.up.socket.pause();
      this.spec.client.socket.once('drain', this.onClientDrain);
    }
  }

  onEnd(): void {
    if (this.ended || this.status === 0) return; // the end of an interim (1xx) response
    const { pool, client } = this.spec;
    if (this.chunkedOut) this.queueOut(LAST_CHUNK);
    this.flushOut();
    const up = this.up;
    this.up = null;
    if (up) {
      up.socket.removeListener('drain', this.onUpstreamDrain);
      if (this.upstreamPaused) up.socket.resume();
      // Reused only when both directions ended cleanly on it and the upstream keeps it open.
      if (this.bodySent && !this.closeAfter && this.upstreamKeepAlive) pool.release(up);
      else pool.discard(up);
    }
    this.verdict ??= { outcome: 'completed' };
    this.upstreamPaused = false;
    // Done once the client's socket has handed the whole response to the kernel (the watchdog
    // cuts a client that never takes it): only then may the next request or a close follow.
    this.phase = 'flushing';
    if (client.unflushed === 0) this.finish();
    else {
      this.clientWaitSince ??= Date.now();
      client.whenFlushed(this);
    }
  }

  /** The client's socket has handed every byte of the response to the kernel. */
  flushed(): void {
    if (this.phase === 'flushing') this.finish();
  }

  onFailure(err: Error & { code?: string }, beforeResponse: boolean): void {
    if (this.ended) return;
    const up = this.up;
    this.up = null;
    if (up) this.spec.pool.discard(up);
    if (beforeResponse && this.status === 0) {
      // A kept-alive socket the upstream closed meanwhile: send again once, on a fresh one, when
      // nothing of the request could have been acted on twice.
      const { req } = this.spec;
      if (up && up.uses > 1 && !this.retried && !req.hasBody && IDEMPOTENT.has(req.method)) {
        this.retried = true;
        this.acquire();
        return;
      }
      this.failBeforeResponse(err, false);
      return;
    }
    this.failUpstream(err);
  }

  /** Client closed or gateway stopping: the upstream request is aborted, its socket destroyed. */
  abort(why: 'client_closed' | 'shutdown'): void {
    if (this.ended) return;
    this.verdict ??= { outcome: 'aborted', reason: why };
    this.dropUpstream();
    this.end();
  }

  /**
   * Watchdog (every WATCHDOG_MS): upstream silent too long before its head (504) or within its
   * body, or a client that neither sends the body it announced nor reads the response it asked
   * for, which would otherwise hold an upstream socket for ever.
   */
  check(now: number, clientStallMs: number): void {
    if (this.ended) return;
    if (this.clientWaitSince !== null && now - this.clientWaitSince >= clientStallMs) {
      this.verdict ??= this.bodySent
        ? { outcome: 'aborted', reason: 'client_not_reading' }
        : { outcome: 'timeout', reason: 'client_body_stalled' };
      this.dropUpstream();
      this.spec.client.socket.destroy();
      this.end();
      return;
    }
    if (this.upstreamPaused || this.phase === 'flushing') return;
    if (this.status === 0) {
      if ((this.bodySent || this.phase === 'waiting') && now - this.since >= this.spec.headersTimeoutMs) {
        this.failBeforeResponse(
          Object.assign(new Error(`upstream sent no response within ${this.spec.headersTimeoutMs} ms`), {
            code: 'HEADERS_TIMEOUT',
          }),
          true,
        );
      }
    } else if (now - this.lastUpstream >= this.spec.bodyIdleMs) {
      this.verdict ??= {
        outcome: 'timeout',
        reason: `upstream silent for ${this.spec.bodyIdleMs} ms mid-body`,
      };
      this.failUpstream(new Error('body timeout'));
    }
  }

  private clientDrained(): void {
    if (this.ended) return;
    this.clientWaitSince = null;
    if (this.upstreamPaused) {
      this.upstreamPaused = false;
      this.up?.socket.resume();
    }
  }

  private queueOut(data: string | Buffer): void {
    this.out.push(data);
    this.outBytes += data.length;
  }

  /**
   * Writes what is queued as one buffer: one pass through the socket's stream machinery and one
   * TLS record, where cork and writev cost a microtask and a write request per piece. Large bodies
   * are not copied: they go as a corked writev.
   */
  private flushOut(): boolean {
    const out = this.out;
    const n = out.length;
    if (n === 0) return true;
    const client = this.spec.client;
    const total = this.outBytes;
    let ok: boolean;
    if (n === 1) ok = client.send(out[0] as string | Buffer);
    else if (total > COPY_LIMIT) {
      client.socket.cork();
      ok = true;
      for (const piece of out) ok = client.send(piece);
      client.socket.uncork();
    } else {
      const buf = Buffer.allocUnsafe(total);
      let at = 0;
      // Heads and chunk framing are latin1 text: one byte per character.
      for (const piece of out)
        at += typeof piece === 'string' ? buf.write(piece, at, 'latin1') : piece.copy(buf, at);
      ok = client.send(buf);
    }
    out.length = 0;
    this.outBytes = 0;
    return ok;
  }

  /** No response head was sent yet: the client gets a 502 (or 504) of the gateway's own. */
  private failBeforeResponse(err: Error & { code?: string }, timedOut: boolean): void {
    if (this.ended) return;
    this.dropUpstream();
    const { client, req } = this.spec;
    this.status = timedOut ? 504 : 502;
    this.verdict ??= {
      outcome: timedOut ? 'timeout' : 'upstream_error',
      reason: timedOut ? err.message : errorText(err),
    };
    // The request body may be unread (upstream refused early): the connection cannot be reused.
    const close = this.closeAfter || (req.hasBody && !req.body.done);
    if (req.hasBody) req.body.discard();
    client.reply(this.status, timedOut ? 'upstream timed out' : 'upstream unavailable', close, req.http10);
    this.bytesOut = 0;
    this.finish();
  }

  /** Mid-response: HTTP/1.1 can only say so by closing the connection (the client sees a short body). */
  private failUpstream(err: Error & { code?: string }): void {
    if (this.ended) return;
    this.verdict ??= { outcome: 'upstream_error', reason: errorText(err) };
    this.dropUpstream();
    this.spec.client.socket.destroy();
    this.end();
  }

  private dropUpstream(): void {
    this.wait?.cancel();
    this.wait = null;
    const up = this.up;
    this.up = null;
    if (up) {
      up.socket.removeListener('drain', this.onUpstreamDrain);
      this.spec.pool.discard(up);
    }
  }

  private finish(): void {
    if (this.ended) return;
    if (this.closeAfter) this.closeClient();
    this.end();
  }

  private closeClient(): void {
    const { client } = this.spec;
    client.stopParsing();
    client.socket.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    const { client } = this.spec;
    this.out.length = 0;
    client.whenFlushed(null);
    client.socket.removeListener('drain', this.onClientDrain);
    client.resumeReading('upstream');
    const v = this.verdict ?? { outcome: 'aborted' as const, reason: 'client_closed' };
    this.ended$({
      status: this.status,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      outcome: v.outcome,
      ...(v.reason !== undefined ? { reason: v.reason } : {}),
    });
  }
}

function isTransferEncoding(name: string, i: number): boolean {
  return i % 2 === 0 && name.length === 17 && name.toLowerCase() === 'transfer-encoding';
}

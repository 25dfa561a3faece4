import type http from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { headersFromRaw, type HeaderPolicy } from './request-headers';
import type { Running } from './request-lane';

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
  readonly pool: Dispatcher;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly policy: HeaderPolicy;
  /** Time for the upstream to send response headers once the request is sent (then 504). */
  readonly headersTimeoutMs: number;
  /** Longest silence of the upstream within a response body before the exchange is cut. */
  readonly bodyIdleMs: number;
  /** The client sent `Expect: 100-continue`: say so only now that the request is being dispatched. */
  readonly expectContinue: boolean;
}

/** RFC 9112 §6.3: a request has a body only when it says so with Content-Length or Transfer-Encoding. */
export function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function errorText(err: Error & { code?: string }): string {
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

class ClientGone extends Error {
  constructor(why: string) {
    super(why);
  }
}

/**
 * One request relayed to the upstream through undici's dispatcher (no per-request stream objects,
 * backpressure both ways), ending exactly once with its true outcome. Every path that ends it early
 * aborts the upstream request, which destroys its upstream socket instead of leaving it paused.
 */
export class UpstreamExchange implements Running, Dispatcher.DispatchHandlers {
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private ended = false;
  private abortUpstream: ((err: Error) => void) | null = null;
  /** Set by the first decisive event; later ones (the socket closing because of it) keep it. */
  private verdict: { outcome: RequestOutcome; reason?: string } | null = null;
  private bodyDone: boolean;
  /** When the client last took or gave a byte while we waited on it (body upload, backpressure). */
  private clientWaitSince: number | null = null;

  constructor(
    private readonly spec: ExchangeSpec,
    private readonly onEnd: (result: ExchangeResult) => void,
  ) {
    this.bodyDone = !hasBody(spec.req);
  }

  start(): void {
    const { spec } = this;
    const { req, res } = spec;
    if (spec.expectContinue) res.writeContinue();
    // Most API calls (GET, HEAD, DELETE) carry no body: then there is no stream to relay at all.
    if (this.bodyDone) req.resume();
    else this.clientWaitSince = Date.now();
    res.once('finish', () => {
      if (!this.verdict) this.verdict = { outcome: 'completed' };
      this.end();
    });
    spec.pool.dispatch(
      {
        method: spec.method as Dispatcher.HttpMethod,
        path: spec.path,
        headers: spec.headers,
        // Async iteration pulls chunk by chunk: backpressure to the client, and nothing read before
        // undici is ready (a 'data' listener here would start the flow and drop early chunks).
        body: this.bodyDone ? null : Readable.from(this.countedBody(), { objectMode: false }),
        headersTimeout: spec.headersTimeoutMs,
        bodyTimeout: spec.bodyIdleMs,
      },
      // The exchange is its own handler: no per-request closures on the hot path.
      this,
    );
  }

  onConnect(abort: (err: Error) => void): void {
    // Aborted while still waiting for a pooled socket: not one byte goes upstream.
    if (this.ended) abort(new ClientGone('client went away'));
    else this.abortUpstream = abort;
  }

  onData(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    const more = this.spec.res.write(chunk);
    if (!more) this.clientWaitSince ??= Date.now();
    return more;
  }

  onComplete(): void {
    const { res } = this.spec;
    // Waiting for the client to take the rest counts as waiting on the client.
    if (res.writableNeedDrain) this.clientWaitSince ??= Date.now();
    res.end();
  }

  /** Client closed or gateway stopping: the upstream request is aborted, its socket destroyed. */
  abort(why: 'client_closed' | 'shutdown'): void {
    if (this.ended) return;
    this.verdict ??= { outcome: 'aborted', reason: why };
    this.abortUpstream?.(new ClientGone(why));
    this.end();
  }

  /**
   * Watchdog (called about once a second): a client that neither sends the body it announced nor
   * reads the response it asked for would otherwise hold an upstream socket for ever.
   */
  check(now: number, clientStallMs: number): void {
    if (this.ended || this.clientWaitSince === null) return;
    if (now - this.clientWaitSince < clientStallMs) return;
    this.verdict ??= this.bodyDone
      ? { outcome: 'aborted', reason: 'client_not_reading' }
      : { outcome: 'timeout', reason: 'client_body_stalled' };
    this.abortUpstream?.(new ClientGone(this.verdict.reason ?? 'stalled'));
    this.spec.req.socket.destroy();
    this.end();
  }

  private async *countedBody(): AsyncGenerator<Buffer> {
    for await (const chunk of this.spec.req as AsyncIterable<Buffer>) {
      this.bytesIn += chunk.length;
      this.clientWaitSince = Date.now();
      yield chunk;
    }
    this.bodyDone = true;
    this.clientWaitSince = null;
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[] | string[] | null,
    resume: () => void,
    statusText: string,
  ): boolean {
    const { res, policy } = this.spec;
    const headers = headersFromRaw(rawHeaders);
    if (statusCode < 200) {
      // 1xx are interim (RFC 9110 §15.2): forward Early Hints' links, never take one as the answer.
      if (statusCode === 103 && headers['link'] !== undefined && !this.ended) {
        res.writeEarlyHints({ link: headers['link'] });
      }
      return true;
    }
    this.status = statusCode;
    res.writeHead(statusCode, statusText, policy.clientResponseHeaders(headers));
    // Server-sent events and other streams of unknown length: send the headers now, each chunk
    // as it comes. A sized body goes out with its headers in one TLS record instead.
    if (headers['content-length'] === undefined) res.flushHeaders();
    res.on('drain', () => {
      this.clientWaitSince = null;
      resume();
    });
    return true;
  }

  onError(err: Error & { code?: string }): void {
    if (this.ended || err instanceof ClientGone) return;
    const { res } = this.spec;
    const timedOut = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT';
    if (res.headersSent) {
      // Mid-body: HTTP/1.1 can only say so by closing the connection (the client sees a short body).
      this.verdict ??= { outcome: timedOut ? 'timeout' : 'upstream_error', reason: errorText(err) };
      res.destroy();
      this.end();
      return;
    }
    this.status = timedOut ? 504 : 502;
    this.verdict ??= {
      outcome: timedOut ? 'timeout' : 'upstream_error',
      reason: timedOut ? `upstream sent no response within ${this.spec.headersTimeoutMs} ms` : errorText(err),
    };
    const body = timedOut ? 'upstream timed out\n' : 'upstream unavailable\n';
    // The request body may be unread (upstream refused early): the connection cannot be reused.
    if (!this.bodyDone) res.shouldKeepAlive = false;
    res.writeHead(this.status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    const v = this.verdict ?? { outcome: 'aborted' as const, reason: 'client_closed' };
    this.onEnd({
      status: this.spec.res.headersSent ? this.status || this.spec.res.statusCode : 0,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      outcome: v.outcome,
      ...(v.reason !== undefined ? { reason: v.reason } : {}),
    });
  }
}

import type { TLSSocket } from 'node:tls';
import { STATUS_CODES } from 'node:http';
import { Http1Parser, TOO_MANY_HEADERS, type MessageHead } from './http1';
import { requestFacts, type RequestFacts } from './request-headers';

/** Where a request body goes once its request is dispatched. */
export interface BodySink {
  bodyChunk(chunk: Buffer): void;
  bodyEnd(): void;
}

const DISCARD: BodySink = { bodyChunk: () => undefined, bodyEnd: () => undefined };

/**
 * A request body as it arrives: buffered while its request waits in the lane (bounded by pausing
 * the socket, see ClientHttp), streamed to its sink once dispatched.
 */
export class RequestBody {
  private chunks: Buffer[] = [];
  private sink: BodySink | null = null;
  received = 0;
  done = false;

  constructor(private readonly buffered: (delta: number) => void) {}

  push(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.sink) this.sink.bodyChunk(chunk);
    else {
      this.chunks.push(chunk);
      this.buffered(chunk.length);
    }
  }

  end(): void {
    this.done = true;
    this.sink?.bodyEnd();
  }

  /** Everything buffered so far goes to the sink now, the rest as it comes. */
  attach(sink: BodySink): void {
    const chunks = this.chunks;
    this.chunks = [];
    this.sink = sink;
    let n = 0;
    for (const c of chunks) {
      n += c.length;
      sink.bodyChunk(c);
    }
    if (n > 0) this.buffered(-n);
    if (this.done) sink.bodyEnd();
  }

  discard(): void {
    this.attach(DISCARD);
  }
}

/** The body of every request without one (shared: llhttp sends it no bytes, only its end). */
class NoBody extends RequestBody {
  constructor() {
    super(() => undefined);
    this.done = true;
  }

  override push(): void {}

  override attach(sink: BodySink): void {
    sink.bodyEnd();
  }
}
const NO_BODY: RequestBody = new NoBody();

/** One parsed request, queued in its connection's lane until it is dispatched. */
export interface ParsedRequest {
  readonly method: string;
  readonly url: string;
  readonly http10: boolean;
  readonly rawHeaders: readonly string[];
  readonly facts: RequestFacts;
  /** llhttp's verdict: Connection: upgrade with Upgrade, or CONNECT. Parsing stopped after it. */
  readonly upgrade: boolean;
  /** The connection may carry another request after this one. */
  readonly keepAlive: boolean;
  readonly hasBody: boolean;
  readonly tooManyHeaders: boolean;
  readonly body: RequestBody;
  /** Upgrade only: the bytes after the head (the first bytes of the new protocol). */
  upgradeHead: Buffer;
}

export interface ClientHttpEvents {
  request(req: ParsedRequest): void;
  /** A malformed request: nothing more is parsed; the owner answers or closes. */
  parseError(code: string, reason: string): void;
}

/** Bodies buffered for queued requests beyond this pause reading (TCP backpressure to the client). */
const MAX_BUFFERED_BODY = 64 * 1024;

/**
 * The HTTP/1.1 side of one verified client connection: parses what the client sends with llhttp,
 * hands each request to the owner in order, and writes what the gateway answers. Reading pauses
 * while queued bodies exceed MAX_BUFFERED_BODY or the upstream cannot take a body's bytes.
 */
export class ClientHttp {
  private parser: Http1Parser | null;
  private current: ParsedRequest | null = null;
  private bufferedBody = 0;
  private readonly pausedBy = new Set<'buffer' | 'upstream'>();
  private readonly onData = (chunk: Buffer): void => this.parse(chunk);
  /** Inside llhttp's execute(): the parser is freed only after it returns. */
  private executing = false;
  private stopped = false;
  private endsAfterCurrent = false;
  /** Response writes not yet handed to the kernel (send), and who waits for them (whenFlushed). */
  unflushed = 0;
  private flushWaiter: { flushed(): void } | null = null;
  // One callback per connection, not per request: write requests hold it until they complete.
  private readonly onWritten = (): void => {
    if (--this.unflushed > 0) return;
    const w = this.flushWaiter;
    this.flushWaiter = null;
    w?.flushed();
  };

  constructor(
    readonly socket: TLSSocket,
    private readonly events: ClientHttpEvents,
  ) {
    this.parser = new Http1Parser('request', {
      head: (h) => {
        this.onHead(h);
        return false;
      },
      body: (chunk) => {
        if (!this.stopped) this.current?.body.push(chunk);
      },
      end: () => this.onMessageEnd(),
    });
    socket.on('data', this.onData);
    socket.once('close', () => this.stopParsing());
  }

  /** Writes bytes of a response; false when the socket's buffer is full (wait for 'drain'). */
  write(data: string | Buffer): boolean {
    if (this.socket.destroyed) return false;
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  /** Writes bytes of a response, counted in `unflushed` until the socket has handed them on. */
  send(data: string | Buffer): boolean {
    if (this.socket.destroyed) return false;
    this.unflushed++;
    return typeof data === 'string'
      ? this.socket.write(data, 'latin1', this.onWritten)
      : this.socket.write(data, this.onWritten);
  }

  /** Told once `unflushed` is back to 0; null withdraws it. */
  whenFlushed(waiter: { flushed(): void } | null): void {
    this.flushWaiter = waiter;
  }

  /** A short plain-text answer of the gateway's own; `close` ends the connection after it. */
  reply(status: number, text: string, close: boolean, http10 = false): void {
    this.replyWith(status, `${text}\n`, 'text/plain; charset=utf-8', close, http10);
  }

  /** An answer of the gateway's own with a body of a given type. */
  replyWith(status: number, body: string, type: string, close: boolean, http10 = false): void {
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `content-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      (close ? 'connection: close\r\n' : http10 ? 'connection: keep-alive\r\n' : '') +
      '\r\n';
    if (this.socket.destroyed) return;
    this.socket.cork();
    this.socket.write(head, 'latin1');
    if (close) {
      this.stopParsing();
      this.socket.end(body);
    } else this.socket.write(body);
    this.socket.uncork();
    // A paused socket (a refused upgrade) would never read the peer's FIN and linger until the idle sweep.
    if (close) this.socket.resume();
  }

  /** Backpressure from the upstream (a body it cannot take yet) or from buffered bodies. */
  pauseReading(why: 'buffer' | 'upstream'): void {
    this.pausedBy.add(why);
    this.socket.pause();
  }

  resumeReading(why: 'buffer' | 'upstream'): void {
    this.pausedBy.delete(why);
    if (this.pausedBy.size === 0 && !this.stopped) this.socket.resume();
  }

  /** Nothing more is parsed: the connection closes after the current response, or was upgraded. */
  stopParsing(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.socket.removeListener('data', this.onData);
    if (!this.executing) this.freeParser();
  }

  private freeParser(): void {
    this.parser?.free();
    this.parser = null;
  }

  /** Hands the socket over to a tunnel: no more parsing, and no 'data' until the tunnel pipes it. */
  detach(): void {
    this.stopParsing();
    this.socket.pause();
  }

  private parse(chunk: Buffer): void {
    const parser = this.parser;
    if (parser === null || this.stopped) return;
    this.executing = true;
    let r;
    try {
      r = parser.execute(chunk);
    } finally {
      this.executing = false;
    }
    if (this.stopped) {
      this.freeParser();
      return;
    }
    if (!r.ok) {
      this.stopParsing();
      this.events.parseError(r.code, r.reason);
      return;
    }
    if (this.endsAfterCurrent && this.current === null) {
      this.stopParsing();
      return;
    }
    const cur = this.current;
    if (cur?.upgrade === true) {
      // llhttp stops after an upgrade head: the rest belongs to the new protocol. The request is
      // handed on only now, with those bytes, and nothing more is parsed.
      cur.upgradeHead = chunk.subarray(r.consumed);
      this.detach();
      this.events.request(cur);
    }
  }

  private onHead(h: MessageHead): void {
    if (this.stopped) return;
    const facts = requestFacts(h.rawHeaders);
    const hasBody =
      facts.transferEncoding !== undefined ||
      (facts.contentLength !== undefined && facts.contentLength !== '0');
    const req: ParsedRequest = {
      method: h.method,
      url: h.url,
      http10: h.versionMajor === 1 && h.versionMinor === 0,
      rawHeaders: h.rawHeaders,
      facts,
      upgrade: h.upgrade,
      keepAlive: h.keepAlive,
      hasBody,
      tooManyHeaders: h.rawHeaders[0] === TOO_MANY_HEADERS,
      body: hasBody ? new RequestBody(this.onBuffered) : NO_BODY,
      upgradeHead: EMPTY,
    };
    this.current = req;
    if (req.upgrade) return;
    // A request after which the connection closes ends the parsing: anything sent behind it is
    // never read (node:http does the same).
    if (!req.keepAlive) this.endsAfterCurrent = true;
    this.events.request(req);
  }

  private onMessageEnd(): void {
    const cur = this.current;
    if (cur === null || this.stopped) return;
    cur.body.end();
    if (cur.upgrade) return;
    this.current = null;
    if (this.endsAfterCurrent) this.stopParsing();
  }

  private readonly onBuffered = (delta: number): void => {
    this.bufferedBody += delta;
    if (this.bufferedBody > MAX_BUFFERED_BODY) this.pauseReading('buffer');
    else if (this.pausedBy.has('buffer')) this.resumeReading('buffer');
  };
}

const EMPTY = Buffer.alloc(0);

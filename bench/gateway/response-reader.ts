/**
 * Just enough of an HTTP/1.1 response parser for the load client: where a response ends
 * (Content-Length, chunked, or no body) and its status. One response at a time, as the client never
 * has more than one request outstanding on a connection. Bytes arrive as Buffers and are only turned
 * into a string for the head (a few hundred bytes), so the client stays cheaper than the servers.
 */

export interface ResponseDone {
  readonly status: number;
  /** The server said `Connection: close`: the connection will not carry another request. */
  readonly close: boolean;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** Heads larger than this are not what either server sends; the response counts as malformed. */
const MAX_HEAD = 16 * 1024;

type Body =
  | { readonly kind: 'length'; readonly end: number }
  | { kind: 'chunked'; pos: number }
  /** No framing at all (HTTP/1.0 style): the body ends when the server closes. */
  | { readonly kind: 'until-close' };

export class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; close: boolean; body: Body } | null = null;

  /** Adds received bytes; returns the response once it is complete, `null` while more is needed. */
  push(chunk: Buffer): ResponseDone | null {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.head === null && !this.parseHead()) return null;
    return this.bodyDone();
  }

  /** The server closed the connection: a response framed by the close ends here. */
  closed(): ResponseDone | null {
    if (this.head?.body.kind !== 'until-close') return null;
    const { status } = this.head;
    this.reset(0);
    return { status, close: true };
  }

  /** Bytes received and not yet part of a finished response (a stray byte means a protocol error). */
  get pending(): number {
    return this.buf.length;
  }

  private parseHead(): boolean {
    const end = this.buf.indexOf(HEAD_END);
    if (end === -1) {
      if (this.buf.length > MAX_HEAD) throw new Error('response head too large');
      return false;
    }
    const text = this.buf.toString('latin1', 0, end);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (!m) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(text.slice(0, 40))}`);
    const status = Number(m[1]);
    const close = /\r\nconnection:[^\r]*\bclose\b/i.test(text);
    const bodyStart = end + HEAD_END.length;
    let body: Body;
    const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(text);
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = { kind: 'length', end: bodyStart };
    } else if (/\r\ntransfer-encoding:[^\r]*\bchunked\b/i.test(text)) {
      body = { kind: 'chunked', pos: bodyStart };
    } else if (length) {
      body = { kind: 'length', end: bodyStart + Number(length[1]) };
    } else {
      body = { kind: 'until-close' };
    }
    this.head = { status, close, body };
    return true;
  }

  private bodyDone(): ResponseDone | null {
    const head = this.head;
    if (head === null) return null;
    const body = head.body;
    let end: number;
    switch (body.kind) {
      case 'length':
        if (this.buf.length < body.end) return null;
        end = body.end;
        break;
      case 'chunked': {
        const e = this.chunkedEnd(body);
        if (e === null) return null;
        end = e;
        break;
      }
      case 'until-close':
        return null;
      default: {
        const never: never = body;
        throw new Error(`unknown body kind ${String(never)}`);
      }
    }
    this.reset(end);
    // 1xx heads (100 Continue) precede the real response; the client sends no Expect, so treat as final.
    return { status: head.status, close: head.close };
  }

  /** Walks chunk headers from where the last call stopped; the offset just past the last CRLF, or null. */
  private chunkedEnd(body: { pos: number }): number | null {
    for (;;) {
      const lineEnd = this.buf.indexOf(CRLF, body.pos);
      if (lineEnd === -1) return null;
      const sizeText = this.buf.toString('latin1', body.pos, lineEnd).split(';')[0]!.trim();
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new Error(`bad chunk size ${JSON.stringify(sizeText)}`);
      const size = parseInt(sizeText, 16);
      const dataStart = lineEnd + CRLF.length;
      if (size === 0) {
        // Optional trailers, then an empty line.
        if (this.buf.length < dataStart + 2) return null;
        if (this.buf[dataStart] === 0x0d && this.buf[dataStart + 1] === 0x0a) return dataStart + 2;
        const t = this.buf.indexOf(HEAD_END, dataStart);
        return t === -1 ? null : t + HEAD_END.length;
      }
      const next = dataStart + size + CRLF.length;
      if (this.buf.length < next) return null;
      body.pos = next;
    }
  }

  private reset(consumed: number): void {
    this.buf = this.buf.subarray(consumed);
    this.head = null;
  }
}

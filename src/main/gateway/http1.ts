/**
 * HTTP/1.1 message framing with Node's own llhttp parser (the one node:http uses, strict mode), fed
 * straight from the verified TLS socket and from upstream sockets. It saves node:http's and
 * undici's per-request stream objects (issue 12) while keeping llhttp's request-smuggling rules:
 * conflicting Content-Length, Transfer-Encoding with Content-Length, bare LF, obs-fold and bad
 * tokens are all parse errors.
 */

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | (Error & { code?: string; reason?: string });
  finish(): number | (Error & { code?: string; reason?: string }) | undefined;
  close(): void;
  [slot: number]: unknown;
}

interface HttpCommon {
  readonly HTTPParser: {
    new (): LlhttpParser;
    readonly REQUEST: number;
    readonly RESPONSE: number;
    readonly kOnMessageBegin: number;
    readonly kOnHeaders: number;
    readonly kOnHeadersComplete: number;
    readonly kOnBody: number;
    readonly kOnMessageComplete: number;
    readonly kOnExecute: number;
  };
  readonly methods: readonly string[];
}

function loadHttpCommon(): HttpCommon {
  // getBuiltinModule keeps the bundler out of it; `_http_common` is public (node:http's own parser).
  const mod = process.getBuiltinModule('_http_common') as Partial<HttpCommon> | undefined;
  if (!mod?.HTTPParser || !Array.isArray(mod.methods)) {
    throw new Error('this Node has no llhttp parser binding (_http_common)');
  }
  return mod as HttpCommon;
}

const common = loadHttpCommon();
const { HTTPParser } = common;
const LENIENT_NONE = 0;

/** A message head as llhttp reports it; raw header names keep the sender's spelling. */
export interface MessageHead {
  /** Requests only. */
  readonly method: string;
  readonly url: string;
  /** Responses only. */
  readonly status: number;
  readonly statusText: string;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** name, value, name, value, … */
  readonly rawHeaders: readonly string[];
  readonly upgrade: boolean;
  readonly keepAlive: boolean;
}

export interface ParserEvents {
  /** A new message starts (its first byte was read). */
  begin?(): void;
  /** Return true to say this message has no body whatever its headers say (a response to HEAD). */
  head(head: MessageHead): boolean;
  body(chunk: Buffer): void;
  end(): void;
}

export type ExecuteResult =
  | { readonly ok: true; readonly consumed: number }
  | { readonly ok: false; readonly code: string; readonly reason: string };

/** Header pairs beyond this are a 431, as a header block of more than 16 KB is. */
export const MAX_HEADER_PAIRS = 200;

export class Http1Parser {
  private readonly parser: LlhttpParser;
  private pendingHeaders: string[] = [];
  private pendingUrl = '';
  private tooManyHeaders = false;
  private inBody = false;
  private freed = false;

  constructor(kind: 'request' | 'response', events: ParserEvents, maxHeaderBytes = 16_384) {
    const p = new HTTPParser();
    p.initialize(
      kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE,
      {},
      maxHeaderBytes,
      LENIENT_NONE,
    );
    if (events.begin) p[HTTPParser.kOnMessageBegin] = events.begin;
    // More than 32 header pairs arrive in batches before the head is complete.
    p[HTTPParser.kOnHeaders] = (headers: string[], url: string): void => {
      // Trailer fields of a chunked body arrive here too: they are dropped, never relayed, and
      // never mistaken for the next message's headers.
      if (this.inBody) return;
      if (this.pendingHeaders.length + headers.length > 2 * MAX_HEADER_PAIRS) this.tooManyHeaders = true;
      else for (const h of headers) this.pendingHeaders.push(h);
      this.pendingUrl += url;
    };
    p[HTTPParser.kOnHeadersComplete] = (
      versionMajor: number,
      versionMinor: number,
      headers: string[] | undefined,
      method: number | undefined,
      url: string | undefined,
      status: number | undefined,
      statusText: string | undefined,
      upgrade: boolean,
      keepAlive: boolean,
    ): number => {
      let raw = headers;
      if (raw === undefined) {
        raw = this.pendingHeaders;
        this.pendingHeaders = [];
      }
      this.inBody = true;
      const fullUrl = url ?? this.pendingUrl;
      this.pendingUrl = '';
      if (this.tooManyHeaders || raw.length > 2 * MAX_HEADER_PAIRS) {
        this.tooManyHeaders = false;
        // Reported through the events as a head with too many headers; the owner answers 431.
        raw = [TOO_MANY_HEADERS, ''];
      }
      const skipBody = events.head({
        method: method === undefined ? '' : (common.methods[method] ?? ''),
        url: fullUrl,
        status: status ?? 0,
        statusText: statusText ?? '',
        versionMajor,
        versionMinor,
        rawHeaders: raw,
        upgrade,
        keepAlive,
      });
      return skipBody ? 1 : 0;
    };
    p[HTTPParser.kOnBody] = (chunk: Buffer): void => events.body(chunk);
    p[HTTPParser.kOnMessageComplete] = (): void => {
      this.inBody = false;
      this.pendingHeaders = [];
      events.end();
    };
    this.parser = p;
  }

  /**
   * Parses a chunk. On an upgrade, parsing stops after the head: `consumed` is where the upgraded
   * protocol's bytes begin.
   */
  execute(chunk: Buffer): ExecuteResult {
    const r = this.parser.execute(chunk);
    if (typeof r === 'number') return { ok: true, consumed: r };
    return { ok: false, code: r.code ?? 'HPE_UNKNOWN', reason: r.reason ?? r.message };
  }

  /** The peer closed: completes a close-delimited body; an error if a message was cut short. */
  finish(): ExecuteResult {
    const r = this.parser.finish();
    if (r === undefined || typeof r === 'number') return { ok: true, consumed: 0 };
    return { ok: false, code: r.code ?? 'HPE_UNKNOWN', reason: r.reason ?? r.message };
  }

  /** Deletes the native parser (node:http's free() only recycles it); never call inside execute(). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.parser.close();
  }
}

/** Marks a head whose header count exceeded MAX_HEADER_PAIRS (not a valid token, so never sent). */
export const TOO_MANY_HEADERS = ' too many headers';

import type http from 'node:http';
import type { ClientIdentity } from './verify';

/** RFC 9110 §7.6.1 connection-specific fields, plus Proxy-Connection, Keep-Alive and h2c's HTTP2-Settings. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Request headers that claim something about the client (its certificate, name or address). Only
 * the gateway may say these things, so whatever the client sent under these names is dropped
 * (issue 8 item 5; Envoy's `mutateRequestHeaders` does the same for the headers it sets). Names are
 * compared lowercased with `_` read as `-`: nginx (`underscores_in_headers on`), CGI and WSGI fold
 * `X_Client_Cert_Serial` into the same variable as `X-Client-Cert-Serial`.
 */
export const IDENTITY_HEADER_NAMES: readonly string[] = [
  'forwarded', // RFC 7239
  'client-cert', // RFC 9440
  'client-cert-chain', // RFC 9440
  'x-client-cert',
  'x-client-dn',
  'x-client-verify',
  'x-client-ip',
  'x-real-ip',
  'true-client-ip',
  'x-remote-user',
  'remote-user',
  'x-ssl-cert',
  'ssl-client-cert',
  'x-arr-clientcert', // Azure App Service
];

/** Whole families: X-Forwarded-* (For, Proto, Host, User, Client-Cert, Tls-Client-Cert*, …) and the like. */
export const IDENTITY_HEADER_PREFIXES: readonly string[] = [
  'x-forwarded-',
  'x-client-cert-',
  'x-ssl-client-',
  'x-amzn-mtls-',
];

/** Lowercase, `_` read as `-`: the form in which header names are compared. */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replace(/_/g, '-') : lower;
}

export interface HeaderPolicyOptions {
  /** More names to strip (compared like the built-in ones); a trailing `*` strips a whole prefix. */
  readonly stripHeaders?: readonly string[];
  /** Also send RFC 9440 `Client-Cert: :<base64 DER>:` (off by default). */
  readonly clientCertHeader?: boolean;
  /** Also put the URL-encoded PEM into XFCC as `Cert="…"`, as Envoy does (off by default). */
  readonly xfccCert?: boolean;
  /** Rewrite `Origin: https://<the Host the client used>` to the upstream's own origin. */
  readonly rewriteOrigin?: boolean;
  /** The upstream's origin (`http://127.0.0.1:18970`), for rewriteOrigin. */
  readonly upstreamOrigin?: string;
  /** Headers the gateway adds (upstream credentials), replacing any value the client sent. */
  readonly credentials?: readonly {
    readonly name: string;
    readonly value: string;
    readonly methods?: readonly string[];
  }[];
}

/** What the gateway knows about the request's connection; `certDer` only when a cert option is on. */
export interface HeaderContext {
  readonly identity: ClientIdentity;
  readonly remoteAddress: string;
  readonly upstreamHost: string;
  readonly certDer?: () => Buffer;
  /** The request's method, for credentials limited to some methods (object form only). */
  readonly method?: string;
}

function namedInConnection(value: string | string[] | undefined): Set<string> | null {
  // The common values name no other header: skip building a set on every request and response.
  if (value === undefined || value === 'keep-alive' || value === 'close') return null;
  const list = Array.isArray(value) ? value.join(',') : value;
  return new Set(
    list
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}

function isHopByHop(name: string, named: Set<string> | null): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (named !== null && named.has(name));
}

/**
 * What a head does with a header name, remembered per spelling: clients and upstreams send the same
 * few names on every message, and lowercasing and matching each one cost an allocation and a scan
 * per header per request (issue 12). Bounded: long names are not remembered, and a full cache is
 * emptied, so a client sending ever new names only makes its own requests slower.
 */
class NameVerdicts {
  private readonly seen = new Map<string, number>();

  constructor(private readonly decide: (lowercased: string) => number) {}

  of(name: string): number {
    const cached = this.seen.get(name);
    if (cached !== undefined) return cached;
    const verdict = this.decide(name.toLowerCase());
    if (name.length <= MAX_REMEMBERED_NAME) {
      if (this.seen.size >= MAX_REMEMBERED_NAMES) this.seen.clear();
      this.seen.set(name, verdict);
    }
    return verdict;
  }
}

const MAX_REMEMBERED_NAME = 64;
const MAX_REMEMBERED_NAMES = 512;
/** Verdicts: relay the header, drop it, relay it through the Origin rewrite, or it is Connection. */
const KEEP = 0;
const DROP = 1;
const ORIGIN = 2;
const CONNECTION = 3;

/** Response headers the gateway never relays: it frames the body itself (Content-Length, hop-by-hop). */
const responseNames = new NameVerdicts((key) =>
  key === 'connection' ? CONNECTION : key === 'content-length' || isHopByHop(key, null) ? DROP : KEEP,
);

function pemOf(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** Envoy's XFCC quoting: a quoted value escapes `"` and `\`. */
export function xfccValue(id: ClientIdentity, certPem?: string): string {
  const cn = id.cn.replace(/[\\"]/g, (c) => `\\${c}`);
  const cert = certPem === undefined ? '' : `;Cert="${encodeURIComponent(certPem)}"`;
  return `Hash=${id.hash}${cert};Subject="CN=${cn}"`;
}

/** Builds request headers for the upstream and filters response headers for the client. */
export class HeaderPolicy {
  private readonly names: Set<string>;
  private readonly prefixes: string[];
  /** Names of the injected credentials (compared as headerKey): whatever the client sent is dropped. */
  private readonly credentialKeys: Set<string>;
  /** Request header names dropped from the upstream head (besides those the Connection header names). */
  private readonly requestNames = new NameVerdicts((key) =>
    key === 'host' ||
    key === 'expect' ||
    key === 'content-length' ||
    isHopByHop(key, null) ||
    this.isIdentityHeader(key) ||
    (this.credentialKeys.size > 0 && this.credentialKeys.has(headerKey(key)))
      ? DROP
      : key === 'origin'
        ? ORIGIN
        : KEEP,
  );

  constructor(private readonly opts: HeaderPolicyOptions = {}) {
    this.names = new Set(IDENTITY_HEADER_NAMES);
    this.prefixes = [...IDENTITY_HEADER_PREFIXES];
    this.credentialKeys = new Set((opts.credentials ?? []).map((c) => headerKey(c.name)));
    for (const extra of opts.stripHeaders ?? []) {
      const k = headerKey(extra.trim());
      if (k.endsWith('*')) this.prefixes.push(k.slice(0, -1));
      else if (k !== '') this.names.add(k);
    }
  }

  /** True for a header only the gateway may set. */
  isIdentityHeader(name: string): boolean {
    const k = headerKey(name);
    if (this.names.has(k)) return true;
    for (const p of this.prefixes) if (k.startsWith(p)) return true;
    return false;
  }

  /**
   * Hop-by-hop and identity headers the client sent are removed first; the gateway's own are set
   * after, so no client-sent value can precede or shadow them.
   */
  upstreamRequestHeaders(
    incoming: http.IncomingHttpHeaders,
    ctx: HeaderContext,
    upgrade: string | null,
  ): Record<string, string | string[]> {
    const named = namedInConnection(incoming.connection);
    const out: Record<string, string | string[]> = {};
    for (const key in incoming) {
      const value = incoming[key];
      // Expect is answered by the gateway itself (100-continue when the request is dispatched).
      if (value === undefined || key === 'host' || key === 'expect') continue;
      if (isHopByHop(key, named) || this.isIdentityHeader(key)) continue;
      if (this.credentialKeys.has(headerKey(key))) continue;
      out[key] = key === 'origin' && typeof value === 'string' ? this.origin(value, incoming.host) : value;
    }
    for (const c of this.opts.credentials ?? []) {
      if (c.methods === undefined || c.methods.includes(ctx.method ?? 'GET'))
        out[c.name.toLowerCase()] = c.value;
    }
    if (upgrade !== null) {
      out['connection'] = 'upgrade';
      out['upgrade'] = upgrade;
    }
    // Like nginx's default `proxy_set_header Host $proxy_host`: a loopback API that checks Host
    // (DNS-rebinding defence) sees its own name; the client's Host travels in X-Forwarded-Host.
    out['host'] = ctx.upstreamHost;
    if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host;
    out['x-forwarded-for'] = ctx.remoteAddress;
    out['x-forwarded-proto'] = 'https';
    const der = (this.opts.xfccCert || this.opts.clientCertHeader) && ctx.certDer ? ctx.certDer() : null;
    out['x-forwarded-client-cert'] = xfccValue(
      ctx.identity,
      der && this.opts.xfccCert ? pemOf(der) : undefined,
    );
    out['x-client-cert-serial'] = ctx.identity.serial;
    // RFC 9440 §2: the leaf as a Structured Field Byte Sequence.
    if (der && this.opts.clientCertHeader) out['client-cert'] = `:${der.toString('base64')}:`;
    return out;
  }

  /**
   * The upstream request head, built as one string from the client's raw header lines (their
   * order and spelling kept): hop-by-hop, identity, Host, Expect and framing headers dropped, then
   * the gateway's own. `identity` is the block from identityLines(), computed once per connection;
   * `framing` is the body's framing line(s) for the upstream, already terminated.
   */
  upstreamHead(
    method: string,
    path: string,
    raw: readonly string[],
    facts: RequestFacts,
    upstreamHost: string,
    identity: string,
    framing: string,
  ): string {
    const named = namedInConnection(facts.connection);
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${upstreamHost}\r\n`;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      const verdict = this.requestNames.of(name);
      if (verdict === DROP || (named !== null && named.has(name.toLowerCase()))) continue;
      const value = raw[i + 1] as string;
      head += `${name}: ${verdict === ORIGIN ? this.origin(value, facts.host) : value}\r\n`;
    }
    if (facts.host !== undefined) head += `x-forwarded-host: ${facts.host}\r\n`;
    return head + identity + this.credentialLines(method) + framing + '\r\n';
  }

  /**
   * A browser on the gateway's public origin (`https://` + the Host it used) is, to an upstream
   * with a localhost-Origin CSRF guard, a foreign site; when the operator opts in, it is presented
   * as the upstream's own origin. Any other Origin passes unchanged, so the guard still refuses
   * cross-site pages.
   */
  private origin(value: string, host: string | undefined): string {
    if (!this.opts.rewriteOrigin || this.opts.upstreamOrigin === undefined || host === undefined)
      return value;
    return value.toLowerCase() === `https://${host.toLowerCase()}` ? this.opts.upstreamOrigin : value;
  }

  private credentialLines(method: string): string {
    let lines = '';
    for (const c of this.opts.credentials ?? []) {
      if (c.methods === undefined || c.methods.includes(method)) lines += `${c.name}: ${c.value}\r\n`;
    }
    return lines;
  }

  /** The gateway's identity headers for one connection, as header lines (the same for every request). */
  identityLines(ctx: HeaderContext): string {
    const der = (this.opts.xfccCert || this.opts.clientCertHeader) && ctx.certDer ? ctx.certDer() : null;
    // Names and serials are validated at issuance; a CR, LF or NUL would still split the head.
    const safe = (v: string): string => v.replace(/[\0\r\n]/g, '');
    const xfcc = xfccValue(ctx.identity, der && this.opts.xfccCert ? pemOf(der) : undefined);
    let lines =
      `x-forwarded-for: ${safe(ctx.remoteAddress)}\r\nx-forwarded-proto: https\r\n` +
      `x-forwarded-client-cert: ${safe(xfcc)}\r\nx-client-cert-serial: ${safe(ctx.identity.serial)}\r\n`;
    if (der && this.opts.clientCertHeader) lines += `client-cert: :${der.toString('base64')}:\r\n`;
    return lines;
  }

  /**
   * The client's response head from the upstream's raw header lines: hop-by-hop fields dropped
   * (the gateway frames the body itself), everything else in the upstream's order and spelling.
   */
  clientHeadLines(raw: readonly string[]): string {
    let connection: string | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (responseNames.of(raw[i] as string) === CONNECTION) {
        connection =
          connection === undefined ? (raw[i + 1] as string) : `${connection},${raw[i + 1] as string}`;
      }
    }
    const named = namedInConnection(connection);
    let lines = '';
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      if (responseNames.of(name) !== KEEP || (named !== null && named.has(name.toLowerCase()))) continue;
      lines += `${name}: ${raw[i + 1] as string}\r\n`;
    }
    return lines;
  }

  /** Response headers from upstream minus hop-by-hop ones (Node re-frames the body itself). */
  clientResponseHeaders(incoming: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
    const named = namedInConnection(incoming.connection);
    const out: http.OutgoingHttpHeaders = {};
    for (const name in incoming) {
      const value = incoming[name];
      if (value === undefined || isHopByHop(name, named)) continue;
      out[name] = value;
    }
    return out;
  }
}

/** The few fields of a request head the gateway acts on, found in one pass over its raw lines. */
export interface RequestFacts {
  readonly host: string | undefined;
  readonly hostCount: number;
  readonly contentLength: string | undefined;
  readonly transferEncoding: string | undefined;
  readonly expect: string | undefined;
  readonly upgrade: string | undefined;
  readonly connection: string | undefined;
}

export function requestFacts(raw: readonly string[]): RequestFacts {
  let host: string | undefined;
  let hostCount = 0;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let expect: string | undefined;
  let upgrade: string | undefined;
  let connection: string | undefined;
  const join = (prev: string | undefined, v: string): string => (prev === undefined ? v : `${prev}, ${v}`);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    // Most names are none of these: compare lengths before lowercasing.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          host = raw[i + 1];
          hostCount++;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') expect = join(expect, raw[i + 1] as string);
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') upgrade = join(upgrade, raw[i + 1] as string);
        break;
      case 10:
        if (name.toLowerCase() === 'connection') connection = join(connection, raw[i + 1] as string);
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') contentLength = raw[i + 1];
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          transferEncoding = join(transferEncoding, raw[i + 1] as string);
        }
        break;
    }
  }
  return { host, hostCount, contentLength, transferEncoding, expect, upgrade, connection };
}

/** Raw response head lines for a socket we write ourselves (upgrade answers), hop-by-hop removed if `close`. */
export function rawResponseHead(res: http.IncomingMessage, close: boolean): string {
  const lines = [`HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}`];
  const named = namedInConnection(res.headers.connection);
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const key = name.toLowerCase();
    // A 101 keeps Connection/Upgrade (they are the point); a refusal is re-framed as close-delimited.
    if (close && (isHopByHop(key, named) || key === 'content-length')) continue;
    lines.push(`${name}: ${raw[i + 1] as string}`);
  }
  if (close) lines.push('connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

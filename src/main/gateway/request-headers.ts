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
}

/** What the gateway knows about the request's connection; `certDer` only when a cert option is on. */
export interface HeaderContext {
  readonly identity: ClientIdentity;
  readonly remoteAddress: string;
  readonly upstreamHost: string;
  readonly certDer?: () => Buffer;
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

  constructor(private readonly opts: HeaderPolicyOptions = {}) {
    this.names = new Set(IDENTITY_HEADER_NAMES);
    this.prefixes = [...IDENTITY_HEADER_PREFIXES];
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
      out[key] = value;
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

/** undici reports response headers as raw name/value buffers; repeated names become arrays, as in node:http. */
export function headersFromRaw(raw: Buffer[] | string[] | null): http.IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  if (!raw) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    const value = raw[i + 1]!.toString();
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = name === 'set-cookie' ? [prev, value] : `${prev}, ${value}`;
  }
  return out;
}

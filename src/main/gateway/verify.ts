import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import type { RefusalReason } from './protocol';

/** RFC 5280 §4.2.1.12 id-kp-clientAuth. */
export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** Compares serials as integers: lowercase, no colons, no leading zeros ("0a1f" and "a1f" are one serial). */
export function canonicalSerial(hex: string): string {
  const s = hex.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/**
 * The in-memory revocation set. DESIGN.md §8 keys revocations by issuer and serial; the gateway trusts
 * only our own CAs (two while a CA rollover runs), whose serials are 16 random bytes kept unique across
 * them by the state database, so the serial alone is the key here.
 */
export class RevocationSet {
  private serials = new Set<string>();

  /** Replaces the set; returns the canonical serials that were not revoked before. */
  replace(serials: readonly string[]): string[] {
    const next = new Set(serials.map(canonicalSerial));
    const added = [...next].filter((s) => !this.serials.has(s));
    this.serials = next;
    return added;
  }

  has(serial: string): boolean {
    return this.serials.has(canonicalSerial(serial));
  }

  /** has() for a serial already in canonicalSerial form. */
  hasCanonical(key: string): boolean {
    return this.serials.has(key);
  }

  get size(): number {
    return this.serials.size;
  }
}

/** The CA bundle, parsed once per update; used to re-check resumed sessions against the current trust. */
export class TrustStore {
  private cas: X509Certificate[] = [];

  constructor(caPem: string) {
    this.replace(caPem);
  }

  replace(caPem: string): void {
    const blocks = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error('CA bundle holds no certificate');
    this.cas = blocks.map((b) => new X509Certificate(b));
  }

  /** True when `leafDer` is signed directly by a CA of the bundle (our CA issues leaves directly). */
  issuedByTrusted(leafDer: Buffer): boolean {
    const leaf = new X509Certificate(leafDer);
    return this.cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  }
}

export interface ClientIdentity {
  readonly cn: string;
  readonly serial: string;
  readonly issuer: string;
  /** SHA-256 of the certificate DER, lowercase hex (Envoy XFCC `Hash`). */
  readonly hash: string;
  /** Epoch ms: the connection is closed at this instant and no request is dispatched after it. */
  readonly notAfter: number;
  /** Epoch ms. */
  readonly notBefore: number;
  /** The subject's OUs: the groups access rules match (issued with `--group`). */
  readonly groups: readonly string[];
}

export type Verdict =
  | { readonly ok: true; readonly identity: ClientIdentity }
  | {
      readonly ok: false;
      readonly reason: RefusalReason;
      /** Present when a certificate was shown; its CN is the client's claim, trusted only if ok. */
      readonly presented?: ClientIdentity;
      /** True when the presented cert is signed by our CA, so its CN and serial may be attributed. */
      readonly attributable: boolean;
      readonly detail?: string;
    };

/** OpenSSL verify codes as Node reports them in `authorizationError`, mapped to our reasons. */
function reasonForVerifyError(code: string): RefusalReason {
  switch (code) {
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
    case 'CERT_UNTRUSTED':
    case 'CERT_REJECTED':
      return 'unknown_ca';
    case 'CERT_HAS_EXPIRED':
      return 'expired';
    case 'CERT_NOT_YET_VALID':
      return 'not_yet_valid';
    // OpenSSL checks the "sslclient" purpose on the server side, which includes the EKU.
    case 'INVALID_PURPOSE':
      return 'wrong_eku';
    case 'CERT_REVOKED':
      return 'revoked';
    default:
      return 'invalid_certificate';
  }
}

function firstValue(v: string | string[] | undefined): string {
  if (Array.isArray(v)) return v[0] ?? '';
  return v ?? '';
}

function allValues(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function identityOf(cert: PeerCertificate): ClientIdentity {
  return {
    cn: firstValue(cert.subject?.CN as string | string[] | undefined),
    serial: cert.serialNumber.toLowerCase(),
    issuer: firstValue(cert.issuer?.CN as string | string[] | undefined),
    hash: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    notAfter: Date.parse(cert.valid_to),
    notBefore: Date.parse(cert.valid_from),
    groups: allValues(cert.subject?.OU as string | string[] | undefined),
  };
}

export interface VerifyInput {
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  /** `getPeerCertificate()`: an empty object when the client sent none. */
  readonly cert: PeerCertificate | DetailedPeerCertificate | Record<string, never>;
  readonly resumed: boolean;
  readonly now: number;
  readonly revoked: RevocationSet;
  readonly trust: TrustStore;
}

function hasCert(c: VerifyInput['cert']): c is PeerCertificate {
  return 'raw' in c && Buffer.isBuffer(c.raw) && c.raw.length > 0;
}

/**
 * Decides whether a completed handshake may carry application data. OpenSSL's own verdict covers
 * the chain on full handshakes; dates, EKU and revocation are checked here on EVERY connection,
 * because a resumed TLS 1.3 session reuses the verdict stored in its ticket, which predates any
 * later revocation, expiry or CA change.
 */
export function verifyClient(input: VerifyInput): Verdict {
  const { cert } = input;
  if (!hasCert(cert)) return { ok: false, reason: 'no_certificate', attributable: false };
  const presented = identityOf(cert);
  let trustedMemo: boolean | undefined;
  const trusted = (): boolean => (trustedMemo ??= input.trust.issuedByTrusted(cert.raw));
  // A foreign CA can mint any CN: only attribute a refusal to a client our CA really signed.
  const refuse = (reason: RefusalReason, detail?: string): Verdict => ({
    ok: false,
    reason,
    presented,
    attributable: trusted(),
    ...(detail === undefined ? {} : { detail }),
  });
  if (!input.authorized) {
    const code = input.authorizationError ?? 'UNKNOWN';
    // OpenSSL reports the LAST error of the chain walk, so an expired foreign cert shows up as
    // CERT_HAS_EXPIRED: trust is decided first, and only our own CA's certs get a finer reason.
    if (!trusted()) return refuse('unknown_ca', code);
    return refuse(reasonForVerifyError(code), code);
  }
  if (input.resumed && !trusted()) {
    return refuse('unknown_ca', 'resumed session from a CA no longer trusted');
  }
  if (input.revoked.has(presented.serial)) return refuse('revoked');
  if (!(input.now >= presented.notBefore)) return refuse('not_yet_valid');
  if (!(input.now <= presented.notAfter)) return refuse('expired');
  if (!(cert.ext_key_usage ?? []).includes(CLIENT_AUTH_OID)) {
    return refuse('wrong_eku', 'extendedKeyUsage lacks clientAuth');
  }
  return { ok: true, identity: presented };
}

/** Reads what verifyClient needs from a server-side TLS socket right after its handshake. */
export function verifySocket(
  socket: TLSSocket,
  ctx: { revoked: RevocationSet; trust: TrustStore; now: number },
): Verdict {
  return verifyClient({
    authorized: socket.authorized,
    authorizationError: socket.authorizationError?.toString(),
    cert: socket.getPeerCertificate(),
    resumed: socket.isSessionReused(),
    ...ctx,
  });
}

/** Classifies a `tlsClientError` (the handshake never completed). */
export function reasonForHandshakeError(err: Error & { code?: string }): RefusalReason {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'handshake_timeout';
  if (
    code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' ||
    code === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE' ||
    code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' ||
    code === 'ERR_SSL_VERSION_TOO_LOW'
  ) {
    return 'protocol_version';
  }
  return 'bad_handshake';
}

/**
 * A P-256 or RSA-2048 leaf alone makes a client handshake of about 1.7-2.3 KB; past this a chain may
 * hold several certificates, and only then is it walked (the walk builds a JS object per certificate).
 */
const SINGLE_CERT_HANDSHAKE_BYTES = 2_560;

/**
 * Bounds on what a client may present (issue 8, item 8). Node runs OpenSSL's chain walk inside
 * the handshake and offers no hook before it (no verify depth, no max_cert_list), so these run
 * right after it: the client is refused with a reason, and its source prefix is rate-limited so
 * repeating the attack costs the gateway an accept, not another walk.
 */
export function chainProblem(
  socket: TLSSocket,
  handshakeBytes: number,
  limits: { maxHandshakeBytes: number; maxChainLength: number },
): { reason: RefusalReason; detail: string } | null {
  if (handshakeBytes <= SINGLE_CERT_HANDSHAKE_BYTES) return null;
  // Bytes read include whatever the client sent right after its Finished in the same read (a
  // request with a body): they only say "look closer". The verdict comes from the chain itself.
  let length = 0;
  let bytes = 0;
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<DetailedPeerCertificate>();
  // The walk ends at a self-issued certificate (its issuerCertificate is itself).
  while (cert && 'raw' in cert && !seen.has(cert) && length <= limits.maxChainLength) {
    seen.add(cert);
    length++;
    bytes += cert.raw.length;
    cert = cert.issuerCertificate;
  }
  const tooLong = length > limits.maxChainLength;
  if (bytes > limits.maxHandshakeBytes || (tooLong && handshakeBytes > limits.maxHandshakeBytes)) {
    return {
      reason: 'certificate_too_large',
      detail: `${Math.max(bytes, handshakeBytes)} handshake bytes (limit ${limits.maxHandshakeBytes})`,
    };
  }
  if (tooLong) {
    return { reason: 'chain_too_long', detail: `more than ${limits.maxChainLength} certificates` };
  }
  return null;
}

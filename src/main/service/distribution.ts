/**
 * The console's plain-HTTP listener for relying parties (DESIGN.md §2, issue 9): the current CRL
 * (DER, from the database) at `/crl` and an RFC 6960 OCSP responder at `/ocsp` (POST, and GET with
 * the base64 request in the path).
 *
 * Responses are signed by a delegated OCSP certificate, never the CA key. Its key lives only in this
 * process's memory: it is issued at start and re-issued at 2/3 of its 30 days, so there is no second
 * sealed key in the state dir to protect, back up or migrate, and a key that is never written
 * anywhere cannot leak from a disk or a backup. The price is one CA signature per start (audited).
 *
 * Status is read from the database for every request (primary-key lookups), so a revocation
 * committed by any process on the state dir is answered at once. Requests are not audited (a public,
 * unauthenticated read); starting, stopping and each responder certificate are.
 *
 * When the operator switches metrics on, the same listener answers `GET /metrics` (issue 11 §4); it
 * is on loopback unless the operator explicitly allowed another address (console-service.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrivateKey } from 'node:crypto';
import { ConsoleError } from '../errors';
import { appendAudit, type AuditEntryInput, type AuditSigner } from '../audit';
import type { StateDb } from '../db';
import {
  answerOcspAmong,
  exportPrivateKeyPkcs8Der,
  importPrivateKey,
  issueOcspResponderCert,
  ocspErrorResponse,
  ocspIssuer,
  randomSerial,
  type OcspCertStatus,
  type OcspIssuer,
  type OcspSigner,
} from '../pki';
import type { UnsealedCa } from './ca-ops';
import { readCrl, readSerialStatus } from './state';
import { DAY_MS, parseHostPort } from '../../shared/validation';

export interface DistributionHostOptions {
  readonly state: () => StateDb;
  readonly unsealCa: () => Promise<UnsealedCa>;
  /**
   * Every CA not retired (both during a CA rollover): each gets its own delegated OCSP signer. Absent:
   * only `unsealCa`'s.
   */
  readonly unsealCas?: () => Promise<UnsealedCa[]>;
  readonly now: () => Date;
  /** Lifetime of the delegated OCSP signing certificate (default 30 days). */
  readonly responderValidityMs?: number;
  /** How often the responder certificate is checked for renewal and the CA for a change (default 1 h). */
  readonly checkMs?: number;
  /** nextUpdate − thisUpdate of each OCSP answer: how long a cache may keep it (default 5 min). */
  readonly answerValidityMs?: number;
  /** Where problems of the running listener are reported (stderr by default). */
  readonly onError?: (message: string) => void;
  /**
   * The Prometheus exposition for `GET /metrics` (metrics.ts), asked per request; null while metrics
   * are switched off, which answers 404 as if the route did not exist.
   */
  readonly metrics?: () => Promise<{ contentType: string; body: string } | null>;
}

export type DistributionState =
  | { readonly kind: 'stopped' }
  | {
      readonly kind: 'running';
      /** The bound address (a port 0 resolved). */
      readonly listen: string;
      /** The address it was asked to bind, as saved. */
      readonly requested: string;
      readonly url: string | null;
      readonly responder: { readonly serial: string; readonly notAfter: string };
    };

const RESPONDER_VALIDITY_MS = 30 * DAY_MS;
const ANSWER_VALIDITY_MS = 5 * 60_000;
const CHECK_MS = 60 * 60_000;
/** Requests name a few certificates; a signed request with its chain still fits easily. */
const MAX_OCSP_REQUEST_BYTES = 16 * 1024;
const OCSP_RESPONSE_TYPE = 'application/ocsp-response';
/** A report repeated by every request is printed once per this long. */
const ERROR_REPORT_MS = 10_000;

interface Responder {
  readonly caId: number;
  readonly signer: OcspSigner;
  readonly issuer: OcspIssuer;
  readonly caPem: string;
  readonly serial: string;
  readonly notBefore: Date;
}

/** The active CAs' ids, to notice a rollover started or retired by any process (one small read). */
function activeStamp(state: StateDb): string {
  return state.read(() => {
    const row = state.db
      .prepare(
        'SELECT group_concat(id) AS ids FROM (SELECT id FROM cas WHERE retired_at IS NULL ORDER BY id)',
      )
      .get() as { ids?: unknown } | undefined;
    return typeof row?.ids === 'string' ? row.ids : '';
  });
}

export class DistributionHost {
  private server: Server | null = null;
  /** The issuing CA's responder (the last of `responders`): the one `state()` reports. */
  private responder: Responder | null = null;
  /** One per active CA, oldest first. */
  private responders: Responder[] = [];
  private casStamp = '';
  private upkeepRunning: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: { listen: string; requested: string; url: string | null; basePath: string } | null = null;
  private lastReport = { message: '', at: 0 };

  constructor(private readonly opts: DistributionHostOptions) {}

  state(): DistributionState {
    if (!this.running || !this.responder) return { kind: 'stopped' };
    return {
      kind: 'running',
      listen: this.running.listen,
      requested: this.running.requested,
      url: this.running.url,
      responder: {
        serial: this.responder.serial,
        notAfter: this.responder.signer.notAfter.toISOString(),
      },
    };
  }

  /**
   * Issues the responder certificate, then binds `listen`. Rejects (GATEWAY) when the address cannot
   * be bound, VAULT_LOCKED when the CA key cannot be opened; nothing keeps running then.
   */
  async start(listen: string, url: string | null): Promise<DistributionState> {
    if (this.server) throw new ConsoleError('GATEWAY', 'the CRL and OCSP listener is already running');
    const addr = parseHostPort(listen);
    if (!addr)
      throw new ConsoleError('INVALID_INPUT', `distribution listen address "${listen}" is not HOST:PORT`);
    const ca = await this.opts.unsealCa();
    const cas = this.opts.unsealCas ? await this.opts.unsealCas() : [ca];
    const stamp = activeStamp(this.opts.state());
    const responders: Responder[] = [];
    for (const c of cas) responders.push(await this.issueResponder(c));
    const responder = responders.at(-1);
    if (!responder) throw new ConsoleError('CORRUPT_STATE', 'the state holds no active CA');
    const server = createServer({ maxHeaderSize: 8192 }, (req, res) => this.handle(req, res));
    // Small, slow-loris-proof limits: every legitimate request here is one short exchange.
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    server.maxConnections = 256;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new ConsoleError(
            'GATEWAY',
            `the CRL and OCSP listener could not bind ${listen}: ${e.code ?? e.message}`,
          ),
        ),
      );
      server.listen(addr.port, addr.host.replace(/^\[|\]$/g, ''), () => resolve());
    });
    server.on('error', (e) => this.report(`CRL and OCSP listener: ${e.message}`));
    const bound = server.address() as AddressInfo;
    const actual = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
    try {
      this.record(ca.signer, [
        ...responders.map((r) => responderIssued(r, 'start')),
        { type: 'distribution.started', actor: { kind: 'system' }, details: { listen: actual, url } },
      ]);
    } catch (e) {
      await closeServer(server);
      throw e;
    }
    this.server = server;
    this.responder = responder;
    this.responders = responders;
    this.casStamp = stamp;
    this.running = {
      listen: actual,
      requested: listen,
      url,
      basePath: url === null ? '' : new URL(url).pathname.replace(/\/+$/, ''),
    };
    this.timer = setInterval(() => void this.upkeep(), this.opts.checkMs ?? CHECK_MS);
    this.timer.unref();
    return this.state();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.server = null;
    await closeServer(server);
    const listen = this.running?.listen;
    this.running = null;
    this.responder = null;
    this.responders = [];
    try {
      // Unsigned: the CA key may be locked away by now; the next checkpoint covers it.
      this.record(null, [{ type: 'distribution.stopped', actor: { kind: 'system' }, details: { listen } }]);
    } catch (e) {
      this.report(`the CRL and OCSP listener stopped, but its audit record failed: ${(e as Error).message}`);
    }
  }

  /**
   * Re-issues the responder certificate once 2/3 of its lifetime is gone, or at once when the CA
   * changed; a failure (a locked vault) is reported and retried at the next check, while the
   * current certificate still has about 10 days to run.
   */
  async upkeep(): Promise<void> {
    // One at a time: a rollover noticed by several requests at once issues its responders once.
    this.upkeepRunning ??= this.upkeepOnce().finally(() => (this.upkeepRunning = null));
    return this.upkeepRunning;
  }

  private async upkeepOnce(): Promise<void> {
    if (this.responders.length === 0 || !this.server) return;
    try {
      const now = this.opts.now().getTime();
      const state = this.opts.state();
      const stamp = activeStamp(state);
      const due = (r: Responder): boolean => {
        const lifetime = r.signer.notAfter.getTime() - r.notBefore.getTime();
        return now >= r.notBefore.getTime() + (lifetime * 2) / 3;
      };
      if (stamp === this.casStamp && !this.responders.some(due)) return;
      const cas = this.opts.unsealCas ? await this.opts.unsealCas() : [await this.opts.unsealCa()];
      const next: Responder[] = [];
      const records: AuditEntryInput[] = [];
      for (const ca of cas) {
        const current = this.responders.find((r) => r.caId === ca.id && r.caPem === ca.certPem);
        if (current && !due(current)) {
          next.push(current);
          continue;
        }
        const fresh = await this.issueResponder(ca);
        next.push(fresh);
        records.push(responderIssued(fresh, current ? 'renewal' : 'ca-changed', current?.serial));
      }
      const signerCa = cas.at(-1);
      if (records.length > 0 && signerCa) this.record(signerCa.signer, records);
      if (this.server && next.length > 0) {
        this.responders = next;
        this.responder = next.at(-1) ?? null;
        this.casStamp = stamp;
      }
    } catch (e) {
      this.report(`the OCSP responder certificate could not be renewed (retrying): ${(e as Error).message}`);
    }
  }

  private async issueResponder(ca: UnsealedCa): Promise<Responder> {
    const now = this.opts.now();
    const { cert, keys } = await issueOcspResponderCert({
      ca: { certPem: ca.certPem, privateKey: await importPrivateKey(ca.keyDer, ca.meta.algorithm) },
      algorithm: ca.meta.algorithm,
      commonName: `${ca.name} OCSP responder`,
      validityMs: this.opts.responderValidityMs ?? RESPONDER_VALIDITY_MS,
      now,
      serial: randomSerial(),
    });
    // The private key goes from WebCrypto to a KeyObject once; it is never exported or sealed.
    const keyDer = await exportPrivateKeyPkcs8Der(keys.privateKey);
    return {
      caId: ca.id,
      signer: {
        certDer: cert.certDer,
        key: createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }),
        algorithm: ca.meta.algorithm,
        notAfter: cert.notAfter,
      },
      issuer: ocspIssuer(ca.certPem),
      caPem: ca.certPem,
      serial: cert.serial,
      notBefore: cert.notBefore,
    };
  }

  private record(signer: AuditSigner | null, entries: AuditEntryInput[]): void {
    const state = this.opts.state();
    const now = this.opts.now();
    state.tx(() =>
      appendAudit(
        state.db,
        entries.map((e) => ({ ...e, time: now })),
        signer ? { signer } : {},
      ),
    );
  }

  private report(message: string): void {
    const at = Date.now();
    if (message === this.lastReport.message && at - this.lastReport.at < ERROR_REPORT_MS) return;
    this.lastReport = { message, at };
    (this.opts.onError ?? ((m: string) => process.stderr.write(`mtls-console: ${m}\n`)))(message);
  }

  /** The route under the configured URL's path (`/pki/crl` → `/crl`); the bare routes work too. */
  private route(rawPath: string): string {
    const base = this.running?.basePath ?? '';
    return base !== '' && rawPath.startsWith(`${base}/`) ? rawPath.slice(base.length) : rawPath;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const path = this.route(rawPath);
    const method = req.method ?? 'GET';
    if (path === '/crl') {
      if (method !== 'GET' && method !== 'HEAD') return plain(res, 405, 'use GET', { allow: 'GET, HEAD' });
      return this.serveCrl(res, method === 'HEAD');
    }
    // Each CA's own CRL (`/crl` is the issuing CA's): what certificates of a later CA name.
    const perCa = /^\/crl\/([1-9]\d{0,5})$/.exec(path);
    if (perCa) {
      if (method !== 'GET' && method !== 'HEAD') return plain(res, 405, 'use GET', { allow: 'GET, HEAD' });
      return this.serveCrl(res, method === 'HEAD', Number(perCa[1]));
    }
    if (path === '/ocsp' || path === '/ocsp/') {
      if (method !== 'POST')
        return plain(res, 405, 'POST an OCSP request, or GET /ocsp/<base64>', { allow: 'GET, POST' });
      return this.readOcspBody(req, res);
    }
    if (path.startsWith('/ocsp/')) {
      if (method !== 'GET')
        return plain(res, 405, 'use GET /ocsp/<base64> or POST /ocsp', { allow: 'GET, POST' });
      return this.answer(res, decodeGetRequest(path.slice('/ocsp/'.length)));
    }
    if (path === '/metrics' && this.opts.metrics) {
      if (method !== 'GET' && method !== 'HEAD') return plain(res, 405, 'use GET', { allow: 'GET, HEAD' });
      return void this.serveMetrics(this.opts.metrics, res, method === 'HEAD');
    }
    plain(res, 404, 'not found: this listener serves /crl and /ocsp');
  }

  private async serveMetrics(
    metrics: NonNullable<DistributionHostOptions['metrics']>,
    res: ServerResponse,
    headOnly: boolean,
  ): Promise<void> {
    let exposition: { contentType: string; body: string } | null;
    try {
      exposition = await metrics();
    } catch (e) {
      this.report(`metrics could not be gathered: ${(e as Error).message}`);
      return plain(res, 503, 'metrics are not available');
    }
    if (exposition === null)
      return plain(res, 404, 'not found: metrics are off (mtls-console distribution --metrics on)');
    if (res.headersSent || res.destroyed) return;
    const body = Buffer.from(exposition.body);
    res.writeHead(200, {
      'content-type': exposition.contentType,
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(headOnly ? undefined : body);
  }

  private serveCrl(res: ServerResponse, headOnly: boolean, caId?: number): void {
    let crl: { der: Buffer; thisUpdate: string } | null;
    try {
      const state = this.opts.state();
      crl = state.read(() => {
        if (caId === undefined) return readCrl(state.db);
        const known = state.db.prepare('SELECT 1 FROM ca_crls WHERE ca_id = ?').get(caId) !== undefined;
        return known ? readCrl(state.db, caId) : null;
      });
    } catch (e) {
      this.report(`the CRL could not be read: ${(e as Error).message}`);
      return plain(res, 503, 'the CRL is not available');
    }
    if (crl === null) return plain(res, 404, `not found: no CA ${caId ?? ''} here`);
    res.writeHead(200, {
      'content-type': 'application/pkix-crl',
      'content-length': crl.der.length,
      'last-modified': new Date(crl.thisUpdate).toUTCString(),
      // Re-signed on every revocation: a cache in front would only delay one.
      'cache-control': 'no-cache',
    });
    res.end(headOnly ? undefined : crl.der);
  }

  private readOcspBody(req: IncomingMessage, res: ServerResponse): void {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/ocsp-request') {
      req.resume();
      return plain(res, 415, 'Content-Type must be application/ocsp-request');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_OCSP_REQUEST_BYTES) {
      res.setHeader('connection', 'close');
      return plain(res, 413, `an OCSP request is at most ${MAX_OCSP_REQUEST_BYTES} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OCSP_REQUEST_BYTES) {
        res.setHeader('connection', 'close');
        plain(res, 413, `an OCSP request is at most ${MAX_OCSP_REQUEST_BYTES} bytes`);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!res.headersSent) this.answer(res, Buffer.concat(chunks));
    });
    req.on('error', () => undefined); // a client gone mid-body needs no answer
  }

  private answer(res: ServerResponse, request: Buffer | null): void {
    res.setHeader('cache-control', 'no-cache');
    const send = (body: Buffer) => {
      res.writeHead(200, { 'content-type': OCSP_RESPONSE_TYPE, 'content-length': body.length });
      res.end(body);
    };
    if (request === null) return send(ocspErrorResponse('malformedRequest'));
    const now = this.opts.now();
    // A certificate whose renewal kept failing is past use: say "try later" rather than sign with it.
    const responders = this.responders.filter((r) => r.signer.notAfter.getTime() > now.getTime());
    if (responders.length === 0) return send(ocspErrorResponse('tryLater'));
    try {
      const state = this.opts.state();
      // A rollover started or retired by another process: new signers are issued in the background.
      if (activeStamp(state) !== this.casStamp) void this.upkeep();
      const { response } = answerOcspAmong(request, {
        authorities: responders.map((responder) => ({
          issuer: responder.issuer,
          signer: responder.signer,
          status: (serial: string) => this.status(state, serial, responder),
        })),
        now,
        validityMs: this.opts.answerValidityMs ?? ANSWER_VALIDITY_MS,
      });
      send(response);
    } catch (e) {
      this.report(`OCSP: ${(e as Error).message}`);
      send(ocspErrorResponse('internalError'));
    }
  }

  private status(state: StateDb, serial: string, responder: Responder): OcspCertStatus {
    const found = state.read(() => readSerialStatus(state.db, serial));
    if (found === null) return serial === responder.serial ? { kind: 'good' } : { kind: 'unknown' };
    // Keyed by issuer and serial: another CA's serial is not this CA's to answer for.
    if (found.issuerCa !== responder.caId) return { kind: 'unknown' };
    if (found.kind === 'server' || found.revocation === null) return { kind: 'good' };
    return {
      kind: 'revoked',
      revokedAt: new Date(found.revocation.revokedAt),
      reason: found.revocation.reason,
    };
  }
}

/**
 * RFC 6960 Appendix A.1: GET {url}/{url-encoding of base64 of the DER request}. Clients differ in
 * what they escape (`/`, `+`, `=`), so both forms are taken; null when it is not base64 at all.
 */
function decodeGetRequest(encoded: string): Buffer | null {
  let text: string;
  try {
    text = decodeURIComponent(encoded);
  } catch {
    return null;
  }
  if (text.length === 0 || text.length > MAX_OCSP_REQUEST_BYTES || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    return null;
  }
  return Buffer.from(text, 'base64');
}

function plain(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const body = `${message}\n`;
  res.writeHead(status, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function responderIssued(
  r: Responder,
  why: 'start' | 'renewal' | 'ca-changed',
  previous?: string,
): AuditEntryInput {
  return {
    type: 'ocsp.responder.issued',
    actor: { kind: 'system' },
    serial: r.serial,
    details: {
      serial: r.serial,
      notAfter: r.signer.notAfter.toISOString(),
      why,
      ...(previous ? { previousSerial: previous } : {}),
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive clients (nginx, curl) would otherwise hold close() open.
    server.closeAllConnections();
  });
}

import type { BodySink, ClientHttp, ParsedRequest } from './client-http';
import type { RenewOutcome } from './protocol';
import type { Running } from './request-lane';

/**
 * `POST /.well-known/mtls-console/renew` on the gateway's own listener (issue 9): a client renews
 * the certificate it is connected with. The body is empty (same key) or a PKCS#10 CSR (new key),
 * PEM or DER. The gateway holds no CA key: the parent signs and answers.
 */
export const RENEW_PATH = '/.well-known/mtls-console/renew';

/** A CSR is under 2 KB for EC and under 4 KB for RSA-8192; anything larger is not a CSR. */
const MAX_BODY = 16 * 1024;

export interface RenewResult {
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly outcome: 'completed' | 'aborted';
  readonly reason?: string;
}

function csrDer(body: Buffer): Buffer | null | 'bad' {
  if (body.length === 0) return null;
  const text = body.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const m =
      /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(
        text,
      );
    return m?.[1] ? Buffer.from(m[1].replace(/\s+/g, ''), 'base64') : 'bad';
  }
  // DER: a SEQUENCE.
  return body[0] === 0x30 ? body : 'bad';
}

export class RenewEndpoint implements Running, BodySink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private tooLarge = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: ClientHttp,
    private readonly req: ParsedRequest,
    private readonly renew: (csrDer: Buffer | undefined) => Promise<RenewOutcome>,
    private readonly done: (r: RenewResult) => void,
    /** The body and the signer's answer within this, or 408: a stalled client must not hold its slot. */
    private readonly deadlineMs: number,
  ) {}

  start(): void {
    this.timer = setTimeout(
      () => this.answer(408, 'the renewal request took too long\n', 'timeout', true),
      this.deadlineMs,
    );
    this.timer.unref();
    if (this.req.method !== 'POST') {
      this.answer(405, 'use POST to renew\n', 'method_not_allowed', true);
      return;
    }
    if (this.req.hasBody) this.req.body.attach(this);
    else this.bodyEnd();
  }

  bodyChunk(chunk: Buffer): void {
    if (this.ended || this.tooLarge) return;
    this.size += chunk.length;
    if (this.size > MAX_BODY) {
      this.tooLarge = true;
      this.answer(413, 'a renewal body is empty or one CSR (at most 16 KB)\n', 'too_large', true);
      return;
    }
    this.chunks.push(chunk);
  }

  bodyEnd(): void {
    if (this.ended || this.tooLarge) return;
    const der = csrDer(Buffer.concat(this.chunks));
    if (der === 'bad') {
      this.answer(400, 'the body is not a PKCS#10 certificate request (PEM or DER)\n', 'bad_csr');
      return;
    }
    this.renew(der ?? undefined).then(
      (o) => {
        if (o.ok)
          this.answer(200, o.certPem + o.caPem, undefined, false, 'application/pem-certificate-chain');
        else this.answer(o.status, `${o.error}\n`, o.error.slice(0, 200));
      },
      (err: unknown) => this.answer(500, 'renewal failed\n', (err as Error).message.slice(0, 200)),
    );
  }

  abort(why: 'client_closed' | 'shutdown'): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.done({ status: 0, bytesIn: this.size, bytesOut: 0, outcome: 'aborted', reason: why });
  }

  private answer(
    status: number,
    body: string,
    reason?: string,
    close = false,
    type = 'text/plain; charset=utf-8',
  ): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    const unread = this.req.hasBody && !this.req.body.done;
    if (unread) this.req.body.discard();
    this.client.replyWith(status, body, type, close || unread || !this.req.keepAlive, this.req.http10);
    this.done({
      status,
      bytesIn: this.size,
      bytesOut: Buffer.byteLength(body),
      outcome: 'completed',
      ...(reason !== undefined ? { reason } : {}),
    });
  }
}

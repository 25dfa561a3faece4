import type { TLSSocket } from 'node:tls';
import type { RefusalReason } from './protocol';

/**
 * What a refused client is told (issue 8, "A refused client gets no reason"). Node decides the
 * TLS 1.3 handshake before our checks run and lets us pick no alert, so after the handshake the
 * client gets a short HTTP answer with the reason, as nginx does (`400 No required SSL
 * certificate was sent`). The reason code is in the body so scripts can match it.
 */
const ANSWERS: Partial<Record<RefusalReason, readonly [number, string, string]>> = {
  no_certificate: [400, 'Bad Request', 'No required SSL certificate was sent'],
  unknown_ca: [400, 'Bad Request', 'The SSL certificate was not issued by a trusted CA'],
  expired: [400, 'Bad Request', 'The SSL certificate has expired'],
  not_yet_valid: [400, 'Bad Request', 'The SSL certificate is not yet valid'],
  revoked: [400, 'Bad Request', 'The SSL certificate has been revoked'],
  wrong_eku: [400, 'Bad Request', 'The SSL certificate is not valid for client authentication'],
  invalid_certificate: [400, 'Bad Request', 'The SSL certificate error'],
  chain_too_long: [400, 'Bad Request', 'The SSL certificate chain is too long'],
  certificate_too_large: [400, 'Bad Request', 'The SSL certificate chain is too large'],
  limit_reached: [503, 'Service Unavailable', 'Too many connections'],
  identity_limit: [429, 'Too Many Requests', 'Too many connections for this certificate'],
  shutting_down: [503, 'Service Unavailable', 'The gateway is shutting down'],
  audit_unavailable: [503, 'Service Unavailable', 'The gateway cannot record requests now'],
};

/** The HTTP answer for a refusal after the handshake, or undefined when there is none to give. */
export function refusalAnswer(reason: RefusalReason): string | undefined {
  const a = ANSWERS[reason];
  if (!a) return undefined;
  const [status, phrase, text] = a;
  const body = `${status} ${text} (${reason})\n`;
  return (
    `HTTP/1.1 ${status} ${phrase}\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
    (status === 503 || status === 429 ? 'Retry-After: 1\r\n' : '') +
    `\r\n${body}`
  );
}

/** Bytes of a refused client's request we read (and drop) while it reads our answer. */
const MAX_DISCARD = 64 * 1024;

/**
 * Answers and closes. The client's request is read and dropped (never parsed) for up to lingerMs:
 * closing with unread bytes would make the kernel send a reset that can destroy the answer.
 */
export function refuseWithAnswer(socket: TLSSocket, reason: RefusalReason, lingerMs: number): void {
  const answer = refusalAnswer(reason);
  if (answer === undefined || socket.destroyed) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  let discarded = 0;
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARD) socket.destroy();
  });
  socket.once('end', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
  socket.end(answer);
}

import { attempt, LiveKeepAlive, LiveStream, type ClientCreds } from './probes';
import { sleep, waitFor } from './procs';
import { num } from './report';

/**
 * Revocation enforcement in the gateway benchmark: how soon after `revoke` returns a revoked client's
 * new handshakes are refused and its live connections closed, on ours and on nginx (CRL + reload).
 */

export interface Victim {
  readonly serial: string;
  readonly creds: ClientCreds;
}

export interface RevResult {
  summary: string;
  details: string[];
  enforcedMs: number;
}

/** Retries new handshakes of `c` back to back until one is not accepted; returns [ms since `from`, verdict, tries]. */
async function untilRefused(
  port: number,
  c: Victim,
  from: number,
  boundMs: number,
): Promise<[number, string, number]> {
  let tries = 0;
  while (performance.now() - from < boundMs) {
    tries++;
    const v = await attempt(port, c.creds, 1000);
    if (v !== 'ok') return [performance.now() - from, v, tries];
  }
  return [NaN, 'still accepted', tries];
}

function closedAt(t: number, from: number, windowEnd: number, what: string): string {
  if (t === 0)
    return `${what}: still open and served after ${num((windowEnd - from) / 1000, 1)} s (never closed)`;
  const d = t - from;
  return d < 0
    ? `${what}: closed ${num(-d, 0)} ms BEFORE revoke returned`
    : `${what}: closed ${num(d, 0)} ms after revoke returned`;
}

export async function revocationOurs(
  port: number,
  victim: Victim,
  revoke: () => Promise<string>,
): Promise<RevResult> {
  const before = await attempt(port, victim.creds);
  if (before !== 'ok') throw new Error(`victim refused before revocation on ours (${before})`);
  const ka = await LiveKeepAlive.open(port, victim.creds, 20);
  const stream = await LiveStream.open(port, victim.creds);
  try {
    const t0 = performance.now();
    await revoke();
    const t1 = performance.now();
    const [refusedMs, verdict, tries] = await untilRefused(port, victim, t1, 3000);
    await waitFor(
      'live connections to close',
      () => (ka.closedAt && stream.closedAt ? true : undefined),
      2000,
    ).catch(() => undefined);
    const end = performance.now();
    const enforced = Math.max(
      refusedMs,
      ka.closedAt ? ka.closedAt - t1 : Infinity,
      stream.closedAt ? stream.closedAt - t1 : Infinity,
    );
    return {
      enforcedMs: enforced,
      summary:
        tries === 1 && !Number.isNaN(refusedMs)
          ? `new handshake refused on the first try after revoke returned (${verdict}, answer in ${num(refusedMs, 1)} ms); live connections closed too`
          : `new handshake refused ${num(refusedMs, 1)} ms after revoke returned (${verdict}, ${tries} tries)`,
      details: [
        `revoke CLI took ${num(t1 - t0, 0)} ms (one transaction: the revocation, the CRL signed at 10,001 entries, the audit records)`,
        closedAt(ka.closedAt, t1, end, 'live keep-alive conn (GET every 20 ms)'),
        closedAt(stream.closedAt, t1, end, 'live streaming response'),
      ],
    };
  } finally {
    ka.close();
    stream.close();
  }
}

export async function revocationNginx(
  port: number,
  victim: Victim,
  revoke: () => Promise<string>,
  crl: () => Promise<string>,
  reload: () => void,
): Promise<RevResult> {
  const before = await attempt(port, victim.creds);
  if (before !== 'ok') throw new Error(`victim refused before revocation on nginx (${before})`);
  const ka = await LiveKeepAlive.open(port, victim.creds, 20);
  const stream = await LiveStream.open(port, victim.creds);
  try {
    const t0 = performance.now();
    await revoke();
    const t1 = performance.now();
    await crl();
    const t2 = performance.now();
    reload();
    const t3 = performance.now();
    const [refusedMs, verdict, tries] = await untilRefused(port, victim, t1, 5000);
    // Watch the live connections for a bounded 5 s window after the refusal.
    const windowEnd = performance.now() + 5000;
    const kaOk0 = ka.ok;
    const ev0 = stream.events;
    while (performance.now() < windowEnd && !(ka.closedAt && stream.closedAt)) await sleep(50);
    const end = performance.now();
    const kaLine =
      ka.closedAt === 0
        ? `live keep-alive conn: still served (${ka.ok - kaOk0} more 200s) ${num((end - t1) / 1000, 1)} s after revoke — never closed`
        : `live keep-alive conn: closed ${num(ka.closedAt - t3, 0)} ms after the reload (the old worker's graceful exit closes EVERY idle keep-alive conn, revoked or not; ${ka.ok - kaOk0} more 200s after refusal)`;
    const streamLine =
      stream.closedAt === 0
        ? `live streaming response of the revoked client: still streaming (${stream.events - ev0} more events) ${num((end - t1) / 1000, 1)} s after revoke — never closed (old worker lingers until it ends)`
        : `live streaming response: closed ${num(stream.closedAt - t1, 0)} ms after revoke returned`;
    return {
      enforcedMs: refusedMs,
      summary: `new handshake refused ${num(refusedMs, 0)} ms after revoke returned (crl --out + reload; ${verdict}, ${tries} tries)`,
      details: [
        `revoke CLI ${num(t1 - t0, 0)} ms; crl --out ${num(t2 - t1, 0)} ms; SIGHUP → refusal ${num(refusedMs - (t3 - t1), 0)} ms`,
        `(refusal is HTTP 400 after a completed handshake: nginx's verify callback accepts and rejects per request)`,
        kaLine,
        streamLine,
      ],
    };
  } finally {
    ka.close();
    stream.close();
  }
}

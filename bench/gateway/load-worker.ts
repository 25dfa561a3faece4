import fs from 'node:fs';
import tls from 'node:tls';
import { z } from 'zod';
import { LatencyHistogram } from '../stats';
import type { LoadSummary } from './load-summary';
import { ResponseReader, type ResponseDone } from './response-reader';

/**
 * Keep-alive load client, run as its own process (pinned to the client core when the machine
 * allows): `conns` persistent mTLS connections on raw TLS sockets, each writing one pre-built
 * `GET /` and waiting for the whole response before the next (one outstanding request per
 * connection, no pipelining: what a browser or an HTTP client pool does). The Node https client
 * costs 55–75 µs per request, more than the servers it measures (issue 12); this costs a TLS
 * record each way and a scan of the response head.
 *
 * Once every connection has had its first response (or after a bounded wait), it picks the measured
 * window, `warmupMs` from then, and prints `window START END` (epoch ms) so the parent can read the
 * servers' CPU over the same interval; responses completing inside it are counted. At the end it
 * prints one small JSON line (a latency histogram, not the raw samples) and ends by itself once its
 * sockets are closed, so the parent always reads the whole line.
 */

const argsSchema = z.object({
  port: z.number().int().min(1).max(65535),
  cert: z.string().min(1),
  key: z.string().min(1),
  ca: z.string().min(1),
  conns: z.number().int().min(1).max(1000),
  warmupMs: z.number().int().nonnegative(),
  durationMs: z.number().int().positive(),
});

/** A response slower than this is counted as an error and its connection replaced. */
const RESPONSE_TIMEOUT_MS = 10_000;
const RECONNECT_DELAY_MS = 5;
/** The window opens after this even if some connection never got its first response. */
const READY_TIMEOUT_MS = 5000;

/** The measured window; both ends are +∞ until every connection is warm. */
interface Window {
  startAt: number;
  endAt: number;
}

interface Tally {
  count: number;
  total: number;
  errors: number;
  connects: number;
  firstError?: string;
  readonly hist: LatencyHistogram;
}

/** One connection's loop: connect, request, await the response, repeat until the window closes. */
function runLane(
  opts: tls.ConnectionOptions,
  request: Buffer,
  window: Window,
  tally: Tally,
  onFirstResponse: () => void,
): Promise<void> {
  let warm = false;
  const fail = (why: string): void => {
    tally.errors++;
    tally.firstError ??= why;
  };
  return new Promise((resolve) => {
    const connect = (): void => {
      if (Date.now() >= window.endAt) return resolve();
      tally.connects++;
      const reader = new ResponseReader();
      let sentAt = 0;
      let outstanding = false;
      let done = false;
      const sock = tls.connect(opts);
      const watchdog = setInterval(() => {
        if (outstanding && performance.now() - sentAt > RESPONSE_TIMEOUT_MS) {
          fail('response timeout');
          finish(true);
        }
      }, 1000);
      const send = (): void => {
        if (Date.now() >= window.endAt) return finish(false);
        outstanding = true;
        sentAt = performance.now();
        sock.write(request);
      };
      /** Ends this connection: politely once the window has closed, or broken (then reconnects). */
      const finish = (broken: boolean): void => {
        if (done) return;
        done = true;
        clearInterval(watchdog);
        if (broken) {
          sock.destroy();
          setTimeout(connect, RECONNECT_DELAY_MS);
          return;
        }
        // close_notify and FIN; a server that never answers them is cut after a bounded wait.
        const cut = setTimeout(() => sock.destroy(), 2000);
        sock.once('close', () => {
          clearTimeout(cut);
          resolve();
        });
        sock.end();
      };
      const complete = (res: ResponseDone): void => {
        outstanding = false;
        const now = Date.now();
        if (res.status !== 200) fail(`HTTP ${res.status}`);
        else {
          if (!warm) {
            warm = true;
            onFirstResponse();
          }
          tally.total++;
          if (now >= window.startAt && now < window.endAt) {
            tally.count++;
            tally.hist.record(performance.now() - sentAt);
          }
        }
        if (res.close) {
          if (now < window.endAt) fail('server closed the keep-alive connection');
          return finish(true);
        }
        send();
      };
      sock.once('secureConnect', send);
      sock.on('data', (chunk: Buffer) => {
        let res: ResponseDone | null;
        try {
          res = reader.push(chunk);
        } catch (e) {
          fail(e instanceof Error ? e.message : String(e));
          return finish(true);
        }
        if (res === null) return;
        if (!outstanding || reader.pending > 0) {
          fail('bytes the client did not ask for');
          return finish(true);
        }
        complete(res);
      });
      sock.on('error', (e: Error & { code?: string }) => {
        if (!done) fail(e.code ?? e.message);
        finish(true);
      });
      sock.on('close', () => {
        if (done) return;
        const res = outstanding ? reader.closed() : null;
        if (res !== null) return complete(res);
        fail(outstanding ? 'connection closed before the response' : 'connection closed');
        finish(true);
      });
    };
    connect();
  });
}

async function main(): Promise<void> {
  const a = argsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  const opts: tls.ConnectionOptions = {
    host: '127.0.0.1',
    port: a.port,
    servername: 'localhost',
    cert: fs.readFileSync(a.cert),
    key: fs.readFileSync(a.key),
    ca: fs.readFileSync(a.ca),
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  };
  // The same bytes for every request: the client does no per-request formatting work.
  const request = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1');
  const tally: Tally = { count: 0, total: 0, errors: 0, connects: 0, hist: new LatencyHistogram() };
  const window: Window = { startAt: Infinity, endAt: Infinity };
  const open = (): void => {
    if (window.startAt !== Infinity) return;
    clearTimeout(readyTimer);
    window.startAt = Date.now() + a.warmupMs;
    window.endAt = window.startAt + a.durationMs;
    process.stdout.write(`window ${window.startAt} ${window.endAt}\n`);
  };
  const readyTimer = setTimeout(open, READY_TIMEOUT_MS);
  let warm = 0;
  const onFirstResponse = (): void => {
    if (++warm === a.conns) open();
  };
  await Promise.all(
    Array.from({ length: a.conns }, () => runLane(opts, request, window, tally, onFirstResponse)),
  );
  const summary: LoadSummary = {
    count: tally.count,
    total: tally.total,
    errors: tally.errors,
    connects: tally.connects,
    ...(tally.firstError !== undefined ? { firstError: tally.firstError } : {}),
    hist: tally.hist.toPairs(),
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`load worker: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

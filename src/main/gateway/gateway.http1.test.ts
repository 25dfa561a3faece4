import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { Gateway } from './gateway';
import { connect, inProcessGateway } from './harness.fixture';
import type { GatewayAuditEntry } from './protocol';
import { bounded } from './requests.fixture';

/**
 * HTTP/1.1 framing at the gateway's own parser (llhttp on the verified TLS socket) and its own
 * upstream client, attacked from both sides: smuggling and odd framing from a client, a hostile
 * upstream that answers out of step. Real TLS, real sockets; the gateway runs in-process.
 */

/** Everything a raw client received until the connection closed or `until` held. */
async function exchange(
  s: tls.TLSSocket,
  bytes: string | Buffer,
  until: (text: string) => boolean,
  ms = 5_000,
): Promise<string> {
  let text = '';
  const done = new Promise<void>((resolve) => {
    const check = (): void => {
      if (until(text)) resolve();
    };
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      check();
    });
    s.on('close', () => resolve());
  });
  s.write(bytes);
  await bounded(done, ms, `response to ${String(bytes).slice(0, 40)}`);
  return text;
}

const statusOf = (text: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
const responses = (text: string): number => (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length;

/** Answers every request with what it saw: method, url, framing headers, body length and hash. */
class EchoUpstream {
  readonly seen: { method: string; url: string; te?: string; cl?: string; length: number }[] = [];
  readonly server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (c: Buffer) => {
      length += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        ...(req.headers['transfer-encoding'] ? { te: req.headers['transfer-encoding'] } : {}),
        ...(req.headers['content-length'] ? { cl: req.headers['content-length'] } : {}),
        length,
      };
      this.seen.push(entry);
      const url = new URL(req.url ?? '/', 'http://x');
      const body = JSON.stringify({ ...entry, sha256: hash.digest('hex') });
      const delay = Number(url.searchParams.get('ms') ?? 0);
      setTimeout(() => {
        if (url.pathname === '/close-delimited') {
          // No length, no chunking: the body ends when the upstream closes (HTTP/1.0 style).
          res.socket?.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.setHeader('content-length', Buffer.byteLength(body));
        res.end(body);
      }, delay);
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('gateway HTTP/1.1 framing', () => {
  const pki = TestPki.create();
  const echo = new EchoUpstream();
  /** The records of the main gateway (the one in front of the echo upstream). */
  let audit: GatewayAuditEntry[] = [];
  const gateways: Gateway[] = [];
  let ca: Ca;
  let server: Pair;
  let alice: Pair;
  let port: number;

  async function startGateway(upstream: string): Promise<{ port: number; audit: GatewayAuditEntry[] }> {
    const g = await inProcessGateway({
      ca,
      server,
      config: { upstream },
      options: { upstreamTimeoutMs: 2_000 },
    });
    gateways.push(g.gateway);
    return g;
  }

  beforeAll(async () => {
    ca = await pki.ca('Framing CA');
    server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    ({ port, audit } = await startGateway(await echo.listen()));
  });

  afterAll(async () => {
    for (const g of gateways) await g.stop(100);
    await echo.close();
    pki.cleanup();
  });

  it('refuses smuggling framings with 4xx/501 and sends nothing of them upstream', async () => {
    const cases: [string, string][] = [
      [
        'CL + TE',
        'POST /smuggle-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled-1 HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      [
        'two lengths',
        'POST /smuggle-2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\nGET /smuggled-2 HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      [
        'space before colon',
        'POST /smuggle-3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /smuggled-3 HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      [
        'obs-fold',
        'POST /smuggle-4 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled-4 HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      ['bare LF', 'GET /smuggle-5 HTTP/1.1\nHost: x\n\nGET /smuggled-5 HTTP/1.1\nHost: x\n\n'],
      [
        'gzip, chunked',
        'POST /smuggle-6 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\nGET /smuggled-6 HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      ['two Hosts', 'GET /smuggle-7 HTTP/1.1\r\nHost: x\r\nHost: admin.internal\r\n\r\n'],
      ['no Host', 'GET /smuggle-8 HTTP/1.1\r\n\r\n'],
      ['NUL in a value', 'GET /smuggle-9 HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'],
      ['absolute-form', 'GET http://admin.internal/smuggle-10 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ];
    for (const [name, raw] of cases) {
      const s = await connect(port, ca, alice);
      const text = await exchange(s, raw, (t) => t.includes('\r\n\r\n'));
      s.destroy();
      const status = statusOf(text);
      expect([400, 501], `${name}: ${text.slice(0, 60)}`).toContain(status);
    }
    expect(echo.seen.filter((e) => /smuggl/.test(e.url))).toEqual([]);
    const refused = audit.filter((e) => e.type === 'gateway.request.refused');
    expect(refused.length).toBeGreaterThanOrEqual(cases.length);
    expect(refused.every((e) => e.actor.kind === 'client')).toBe(true);
  });

  it('relays a chunked upload as chunks, intact; an upload pipelined behind a slow request waits and arrives whole', async () => {
    const body = Buffer.alloc(300_000, 0x5a);
    const sha = createHash('sha256').update(body).digest('hex');
    const s = await connect(port, ca, alice);
    const chunked = Buffer.concat([
      Buffer.from('POST /up-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'),
      Buffer.from(`${(100_000).toString(16)};ext=1\r\n`),
      body.subarray(0, 100_000),
      Buffer.from(`\r\n${(200_000).toString(16)}\r\n`),
      body.subarray(100_000),
      Buffer.from('\r\n0\r\nX-Trailer: t\r\n\r\n'),
    ]);
    const pipelined = Buffer.concat([
      Buffer.from('GET /slow-first?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from(`POST /up-behind HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`),
      body,
      chunked,
    ]);
    const text = await exchange(s, pipelined, (t) => responses(t) === 3 && t.endsWith('}'), 10_000);
    s.destroy();
    const bodies = text.split(/HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\n/).slice(1);
    const parsed = bodies.map(
      (b) => JSON.parse(b) as { url: string; length: number; sha256: string; te?: string },
    );
    expect(parsed.map((p) => p.url)).toEqual(['/slow-first?ms=300', '/up-behind', '/up-chunked']);
    expect(parsed[1]).toMatchObject({ length: body.length, sha256: sha });
    expect(parsed[2]).toMatchObject({ length: body.length, sha256: sha, te: 'chunked' });
  });

  it('sends 100 Continue only when the request is dispatched; an unknown expectation gets 417', async () => {
    const s = await connect(port, ca, alice);
    const first = await exchange(
      s,
      'POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
      (t) => t.includes('\r\n\r\n'),
    );
    expect(first).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    const rest = await exchange(s, 'hello', (t) => t.endsWith('}'));
    expect(statusOf(rest)).toBe(200);
    expect(JSON.parse(rest.slice(rest.indexOf('\r\n\r\n') + 4))).toMatchObject({ url: '/expect', length: 5 });
    s.destroy();

    const t = await connect(port, ca, alice);
    const refused = await exchange(
      t,
      'POST /expect-odd HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 200-ok\r\n\r\n',
      (x) => x.includes('\r\n\r\n'),
    );
    t.destroy();
    expect(statusOf(refused)).toBe(417);
    expect(echo.seen.some((e) => e.url === '/expect-odd')).toBe(false);
  });

  it('HEAD keeps the length and sends no body; HTTP/1.0 gets keep-alive, and a body of unknown length ends with the connection', async () => {
    const s = await connect(port, ca, alice);
    const text = await exchange(
      s,
      'HEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /after-head HTTP/1.1\r\nHost: x\r\n\r\n',
      (t) => responses(t) === 2 && t.endsWith('}'),
    );
    s.destroy();
    const [head, second] = text.split(/(?=HTTP\/1\.1 )/);
    expect(head).toMatch(/content-length: \d+\r\n/i);
    expect(head?.endsWith('\r\n\r\n')).toBe(true);
    expect(JSON.parse(second!.slice(second!.indexOf('\r\n\r\n') + 4))).toMatchObject({ url: '/after-head' });

    const old = await connect(port, ca, alice);
    const ka = await exchange(old, 'GET /one-oh HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', (t) =>
      t.endsWith('}'),
    );
    expect(ka).toMatch(/\r\nconnection: keep-alive\r\n/i);
    const cd = await exchange(
      old,
      'GET /close-delimited HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
      () => false,
    );
    expect(old.destroyed || old.readableEnded).toBe(true);
    expect(cd).toMatch(/\r\nconnection: close\r\n/i);
    expect(cd).not.toMatch(/transfer-encoding/i);
    expect(cd.endsWith('}')).toBe(true);

    // An HTTP/1.1 client gets a body of unknown length chunked, and the connection stays usable.
    const c = await connect(port, ca, alice);
    const chunked = await exchange(c, 'GET /close-delimited HTTP/1.1\r\nHost: x\r\n\r\n', (t) =>
      t.endsWith('0\r\n\r\n'),
    );
    expect(chunked).toMatch(/transfer-encoding: chunked/i);
    const again = await exchange(c, 'GET /still-open HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('}'));
    expect(statusOf(again)).toBe(200);
    c.destroy();
  });

  it('answers 431 to an oversized head and 400 to a malformed request line, and records both', async () => {
    const from = audit.length;
    const big = await connect(port, ca, alice);
    const r1 = await exchange(
      big,
      `GET /big-head HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      (t) => t.includes('\r\n\r\n'),
    );
    big.destroy();
    expect(statusOf(r1)).toBe(431);
    const many = await connect(port, ca, alice);
    const lines = Array.from({ length: 250 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    const r2 = await exchange(many, `GET /many-headers HTTP/1.1\r\nHost: x\r\n${lines}\r\n`, (t) =>
      t.includes('\r\n\r\n'),
    );
    many.destroy();
    expect(statusOf(r2)).toBe(431);
    const bad = await connect(port, ca, alice);
    const r3 = await exchange(bad, 'GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    bad.destroy();
    expect(statusOf(r3)).toBe(400);
    expect(echo.seen.some((e) => /big-head|many-headers/.test(e.url))).toBe(false);
    await bounded(
      (async () => {
        while (audit.slice(from).filter((e) => e.type === 'gateway.request.refused').length < 3) {
          await new Promise((r) => setImmediate(r));
        }
      })(),
      2_000,
      'refusal records',
    );
    const reasons = audit
      .slice(from)
      .filter((e) => e.type === 'gateway.request.refused')
      .map((e) => e.details['reason']);
    expect(reasons).toEqual(['bad_request', 'bad_request', 'bad_request']);
  });

  it('relays a response however the upstream slices it: all in one read after Early Hints, or a byte per read', async () => {
    const body = 'ab'.repeat(200);
    const chunks = Array.from({ length: 200 }, () => '2\r\nab\r\n').join('');
    const response = `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
    const slicer = net.createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('data', (d: Buffer) => {
        if (d.toString('latin1').startsWith('GET /one-read ')) {
          sock.write(`HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n${response}`);
          return;
        }
        let i = 0;
        const dribble = (): void => {
          if (i < response.length) sock.write(response[i++] as string, () => setImmediate(dribble));
        };
        dribble();
      });
      sock.on('error', () => sock.destroy());
    });
    await new Promise<void>((r) => slicer.listen(0, '127.0.0.1', r));
    const { port: sport } = await startGateway(`http://127.0.0.1:${(slicer.address() as AddressInfo).port}`);
    /** The decoded body of the (last) chunked response in `text`. */
    const dechunk = (text: string): string => {
      let rest = text.slice(text.indexOf('\r\n\r\n', text.lastIndexOf('HTTP/1.1 200')) + 4);
      let out = '';
      for (;;) {
        const eol = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, eol), 16);
        if (!(size > 0)) return out;
        out += rest.slice(eol + 2, eol + 2 + size);
        rest = rest.slice(eol + 2 + size + 2);
      }
    };
    try {
      const s = await connect(sport, ca, alice);
      const ended = (t: string): boolean => t.endsWith('\r\n0\r\n\r\n');
      const first = await exchange(s, 'GET /one-read HTTP/1.1\r\nHost: x\r\n\r\n', ended);
      expect(first).toMatch(
        /^HTTP\/1\.1 103 Early Hints\r\nlink: <\/a\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 /,
      );
      expect(dechunk(first)).toBe(body);
      // The same connection goes on: nothing of the first response is left over or reordered.
      s.removeAllListeners('data');
      const second = await exchange(s, 'GET /dribble HTTP/1.1\r\nHost: x\r\n\r\n', ended, 15_000);
      expect(statusOf(second)).toBe(200);
      expect(responses(second)).toBe(1);
      expect(dechunk(second)).toBe(body);
      s.destroy();
    } finally {
      slicer.close();
    }
  });

  it('a hostile upstream that sends an extra response cannot answer the next request with it', async () => {
    // Every answer carries a second, unsolicited response in the same write.
    let n = 0;
    const hostile = net.createServer((sock) => {
      sock.on('data', () => {
        n++;
        sock.write(
          `HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nreal-${n % 10}` +
            'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nEVIL!',
        );
      });
      sock.on('error', () => sock.destroy());
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    const { port: hport } = await startGateway(`http://127.0.0.1:${(hostile.address() as AddressInfo).port}`);
    try {
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) {
        const s = await connect(hport, ca, alice);
        const first = await exchange(s, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n', (t) => /real-\d$/.test(t));
        const second = await exchange(s, 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n', (t) =>
          /(real-\d|EVIL!)$/.test(t),
        );
        s.destroy();
        bodies.push(first.slice(-6), second.slice(-6));
      }
      expect(bodies.every((b) => /^real-\d$/.test(b))).toBe(true);
    } finally {
      hostile.close();
    }
  });
});

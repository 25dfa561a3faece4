import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import {
  closed,
  connect,
  curl,
  curlStatus,
  fingerprint,
  Harness,
  request,
  run,
  Upstream,
} from './harness.fixture';

/** Rotation, upstream failures, streaming and upgrades through one running gateway. */
describe('gateway proxy', () => {
  const pki = TestPki.create();
  let upstream = new Upstream();
  const h = new Harness();
  let ca: Ca;
  let server: Pair;
  let alice: Pair;
  let port: number;

  beforeAll(async () => {
    ca = await pki.ca('Proxy Test CA');
    server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    await upstream.listen();
    port = await h.start(
      Harness.material(ca, server),
      { upstream: upstream.url },
      { upstreamTimeoutMs: 500 },
    );
  });

  afterAll(async () => {
    await h.stop();
    await upstream.close();
    pki.cleanup();
  });

  it('streams large bodies both ways intact', async () => {
    const size = 8 * 1024 * 1024;
    const file = path.join(os.tmpdir(), `mtls-body-${process.pid}.bin`);
    const body = crypto.randomBytes(size);
    fs.writeFileSync(file, body);
    try {
      const up = await curl(port, '/echo-hash', {
        ca,
        client: alice,
        args: ['-X', 'POST', '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`],
      });
      expect(curlStatus(up)).toBe(200);
      const echoed = JSON.parse(up.stdout.trimEnd().split('\n')[0] ?? '{}') as {
        length: number;
        sha256: string;
      };
      expect(echoed).toEqual({
        length: size,
        sha256: crypto.createHash('sha256').update(body).digest('hex'),
      });

      const down = await curl(port, `/big?bytes=${size}`, { ca, client: alice, args: ['-o', file] });
      expect(curlStatus(down)).toBe(200);
      const got = fs.readFileSync(file);
      expect(got.length).toBe(size);
      expect(got.subarray(size - 10).equals(Buffer.alloc(10, (size - 64 * 1024) % 251))).toBe(true);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('rotates the server cert for new handshakes while an open connection keeps working', async () => {
    const held = await connect(port, ca, alice);
    expect(held.getPeerCertificate().fingerprint256).toBe(fingerprint(server.certPem));
    expect((await request(held, '/before')).status).toBe(200);

    const next = await pki.server(ca, 'server2');
    h.sup.updateTls(Harness.material(ca, next));
    // The update is a message: poll new handshakes (bounded) until one presents the new cert.
    let seenNew = false;
    for (let i = 0; i < 50 && !seenNew; i++) {
      const s = await connect(port, ca, alice);
      seenNew = s.getPeerCertificate().fingerprint256 === fingerprint(next.certPem);
      s.destroy();
    }
    expect(seenNew).toBe(true);
    // An independent client sees it too.
    const o = await run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-CAfile',
        ca.certFile,
        '-cert',
        alice.certFile,
        '-key',
        alice.keyFile,
        '-showcerts',
      ],
      { input: '' },
    );
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(o.stdout)?.[0] ?? '';
    expect(fingerprint(pem)).toBe(fingerprint(next.certPem));
    // The rotated context is still TLS 1.3 only.
    const old = await run(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-CAfile', ca.certFile],
      { input: '' },
    );
    expect(old.code).not.toBe(0);
    // The connection opened before the rotation is still served on its old session.
    expect((await request(held, '/after')).status).toBe(200);
    expect(held.getPeerCertificate().fingerprint256).toBe(fingerprint(server.certPem));
    held.end();
    await closed(held);
  });

  it('answers 502 while the upstream is down and recovers after, leaking no sockets', async () => {
    const upPort = upstream.port;
    await upstream.close();
    const from = h.audit.length;
    const r = await curl(port, '/down', { ca, client: alice });
    expect(curlStatus(r)).toBe(502);
    const err = await h.waitAudit((e) => e.type === 'gateway.upstream.error', 10_000, from);
    expect(err.details).toMatchObject({ status: 502, path: '/down' });
    expect(String(err.details['error'])).toContain('ECONNREFUSED');

    upstream = new Upstream();
    await upstream.listen(upPort);
    expect(curlStatus(await curl(port, '/up', { ca, client: alice }))).toBe(200);
    await h.waitConnections((l) => l.length === 0);
    // Pooled upstream sockets close by the upstream's keep-alive timeout: none is leaked.
    await upstream.idle();
    expect(upstream.openSockets()).toBe(0);
  });

  it('answers 504 when the upstream is slower than the upstream timeout', async () => {
    const from = h.audit.length;
    const r = await curl(port, '/slow?ms=3000', { ca, client: alice });
    expect(curlStatus(r)).toBe(504);
    const err = await h.waitAudit((e) => e.type === 'gateway.upstream.error', 10_000, from);
    expect(err.details).toMatchObject({ status: 504, path: '/slow' });
    expect(curlStatus(await curl(port, '/slow?ms=10', { ca, client: alice }))).toBe(200);
  });

  it('streams server-sent events without buffering', async () => {
    const s = await connect(port, ca, alice);
    const arrivals: Array<{ t: number; text: string }> = [];
    s.on('data', (d: Buffer) => arrivals.push({ t: Date.now(), text: d.toString() }));
    s.write('GET /sse HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n');
    await closed(s);
    const all = arrivals.map((a) => a.text).join('');
    expect(all).toContain('text/event-stream');
    const first = arrivals.find((a) => a.text.includes('event 0'));
    const last = arrivals.find((a) => a.text.includes('event 2'));
    expect(first && last).toBeTruthy();
    // Events 50 ms apart upstream arrive apart here too: nothing waited for the end of the stream.
    expect(last!.t - first!.t).toBeGreaterThanOrEqual(60);
  });

  it('passes a WebSocket upgrade through and relays bytes both ways', async () => {
    const s = await connect(port, ca, alice);
    let buf = '';
    s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
    s.write(
      'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'X-Forwarded-Client-Cert: spoofed\r\n\r\n',
    );
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (buf.includes('\r\n\r\n')) {
          s.off('data', check);
          resolve();
        }
      };
      s.on('data', check);
    });
    expect(buf).toMatch(/^HTTP\/1\.1 101/);
    expect(buf).toContain('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const up = upstream.seen.find((x) => x.url === '/ws');
    expect(up?.headers['x-forwarded-client-cert']).toMatch(/^Hash=[0-9a-f]{64};Subject="CN=alice"$/);
    const echoed = new Promise<void>((resolve) => {
      const check = (): void => {
        if (buf.includes('ping-through-the-gateway')) resolve();
      };
      s.on('data', check);
    });
    s.write('ping-through-the-gateway');
    await echoed;
    s.end();
    await closed(s);
    const rec = await h.waitAudit((e) => e.type === 'gateway.request' && e.details['path'] === '/ws');
    expect(rec.details).toMatchObject({ status: 101, upgrade: true });
  });
});

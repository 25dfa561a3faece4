import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { closed, connect, Harness } from './harness.fixture';
import type { GatewayAuditEntry } from './protocol';
import { get, LoggingUpstream, RawReader } from './requests.fixture';

/**
 * Issue 8, request layer: each test replays an attack from the issue with a raw TLS client and
 * asserts what the client and a logging upstream actually saw, and what the audit says.
 */
describe('gateway request path under hostile clients', () => {
  const pki = TestPki.create();
  const upstream = new LoggingUpstream();
  const h = new Harness();
  let ca: Ca;
  let server: Pair;
  let alice: Pair;
  let mallory: Pair;
  let port: number;

  beforeAll(async () => {
    ca = await pki.ca('Request Path CA');
    server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    mallory = await pki.client(ca, 'mallory');
    await upstream.listen();
    port = await h.start(
      Harness.material(ca, server),
      // A short idle timeout shows a silent stream is not cut while its request is in flight.
      { upstream: upstream.url, idleTimeoutMs: 1_000 },
      { upstreamTimeoutMs: 3_000 },
    );
  });

  afterAll(async () => {
    await h.stop();
    await upstream.close();
    pki.cleanup();
  });

  const bySerial = (serial: string) => (e: GatewayAuditEntry) =>
    e.actor.kind === 'client' && e.actor.serial === serial.toLowerCase();
  const requests = (from: number, pred: (e: GatewayAuditEntry) => boolean) =>
    h.audit.slice(from).filter((e) => e.type === 'gateway.request' && pred(e));

  /** Audit entries travel in batches: waits (bounded) until `n` request records match, then a bit more. */
  async function settledRequests(from: number, pred: (e: GatewayAuditEntry) => boolean, n: number) {
    await h.waitAudit(() => requests(from, pred).length >= n, 5_000, from).catch(() => undefined);
    // One more audit batch, so a duplicate record would be seen too.
    const mark = h.audit.length;
    await fresh();
    await h.waitAudit((e) => e.type === 'gateway.request' && e.details['path'] === '/fresh', 5_000, mark);
    return requests(from, pred);
  }

  async function fresh(): Promise<void> {
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    s.write(get('/fresh', 'Connection: close\r\n'));
    await r.until(() => r.closed);
  }

  async function rawClient(who: Pair = alice): Promise<{ s: tls.TLSSocket; r: RawReader }> {
    const s = await connect(port, ca, who);
    return { s, r: new RawReader(s) };
  }

  /** A fresh client is served promptly: the gateway is not wedged. */
  async function freshClientServed(): Promise<void> {
    const t0 = Date.now();
    const { s, r } = await rawClient();
    s.write(get('/fresh'));
    await r.until(() => r.responses.length === 1, 1_000);
    expect(r.responses[0]?.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(1_000);
    s.destroy();
  }

  it('item 1: a pipelining flood closed early sends nothing queued upstream and leaves no socket stuck', async () => {
    const from = h.audit.length;
    const logged = upstream.log.length;
    const { s } = await rawClient();
    s.write(get('/slow?ms=300&t=item1') + get('/big?bytes=2000000').repeat(120));
    // Closed 50 ms after /slow reached the upstream, while it is still being served.
    await upstream.waitLogged((e) => e.url === '/slow?ms=300&t=item1');
    setTimeout(() => s.destroy(), 50);
    await closed(s);
    const slow = await h.waitAudit(
      (e) => e.type === 'gateway.request' && e.details['path'] === '/slow',
      5_000,
      from,
    );
    // Nothing queued behind /slow was sent, and no upstream socket is left stuck.
    expect(upstream.log.slice(logged).map((e) => e.url)).toEqual(['/slow?ms=300&t=item1']);
    await upstream.idle();
    await freshClientServed();
    // The true outcome: the client left before any answer, so no status was sent.
    expect(slow.details).toMatchObject({ outcome: 'aborted', status: 0 });
    const dropped = await h.waitAudit((e) => e.type === 'gateway.request.dropped', 5_000, from);
    expect(dropped.details).toMatchObject({ count: 120, why: 'client_closed' });
  });

  it('items 1, 6: pipelined requests are answered in order, one upstream exchange at a time', async () => {
    const { s, r } = await rawClient(mallory);
    upstream.maxConcurrentPerSerial = 0;
    const delays = Array.from({ length: 20 }, (_, i) => (i * 7) % 40);
    s.write(delays.map((ms, i) => get(`/slow?ms=${ms}&n=${i}`)).join(''));
    await r.until(() => r.responses.length === 20, 10_000);
    const serial = mallory.serial.toLowerCase();
    expect(r.responses.map((x) => x.body)).toEqual(
      delays.map((ms, i) => `slow /slow?ms=${ms}&n=${i} ${serial}`),
    );
    expect(upstream.maxConcurrentPerSerial).toBe(1);
    s.destroy();
  });

  it('item 3: a request queued behind a slow one never reaches the upstream once its client left', async () => {
    const dave = await pki.client(ca, 'dave');
    for (let run = 0; run < 3; run++) {
      const from = h.audit.length;
      const logged = upstream.log.length;
      const { s } = await rawClient(dave);
      s.write(
        get(`/slow?ms=300&t=item3-${run}`) + `DELETE /admin/x${run} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
      );
      await upstream.waitLogged((e) => e.url === `/slow?ms=300&t=item3-${run}`);
      setTimeout(() => s.destroy(), 20);
      await closed(s);
      await h.waitAudit((e) => e.type === 'gateway.request' && e.details['path'] === '/slow', 5_000, from);
      const seen = upstream.log.slice(logged);
      expect(seen.some((e) => e.method === 'DELETE')).toBe(false);
      const dropped = await h.waitAudit((e) => e.type === 'gateway.request.dropped', 5_000, from);
      expect(dropped.details).toMatchObject({ count: 1 });
      // Every request the upstream saw has exactly one audit record.
      expect((await settledRequests(from, bySerial(dave.serial), seen.length)).length).toBe(seen.length);
    }
    await upstream.idle();
  });

  it('item 4: after a revocation no queued request of the serial is dispatched', async () => {
    const bob = await pki.client(ca, 'bob');
    const serial = bob.serial.toLowerCase();
    const from = h.audit.length;
    const { s, r } = await rawClient(bob);
    s.write(get('/slow?ms=5').repeat(200));
    await r.until(() => r.responses.length >= 3, 5_000);
    h.sup.updateRevocations([bob.serial]);
    await closed(s);
    const answered = r.responses.length;
    await upstream.idle();
    const seen = upstream.log.filter((e) => e.headers['x-client-cert-serial'] === serial);
    // At most the one request in flight when the revocation arrived reached the upstream unanswered.
    expect(seen.length).toBeLessThanOrEqual(answered + 1);
    expect((await settledRequests(from, bySerial(serial), seen.length)).length).toBe(seen.length);
    h.sup.updateRevocations([]);
  });

  it('item 7: a request dispatched after the certificate expired is refused, not sent', async () => {
    // X.509 times have whole seconds: the cert is valid for 2-3 s from now.
    const notAfter = new Date(Math.ceil((Date.now() + 2_000) / 1000) * 1000);
    const carol = await pki.client(ca, 'carol', 'carol', { notAfter });
    const from = h.audit.length;
    const { s, r } = await rawClient(carol);
    const wait = notAfter.getTime() - Date.now() + 400;
    s.write(get(`/slow?ms=${wait}`) + get('/after-expiry'));
    await r.until(() => r.closed, 8_000);
    // Refused at dispatch, or the connection already closed at notAfter: either way, never sent.
    await h.waitAudit(
      (e) =>
        (e.type === 'gateway.request.refused' && e.details['reason'] === 'expired') ||
        (e.type === 'gateway.connection.closed' && e.details['reason'] === 'expired'),
      5_000,
      from,
    );
    expect(upstream.log.some((e) => e.url === '/after-expiry')).toBe(false);
  });

  it('item 5: identity headers in any spelling are stripped before the gateway sets its own', async () => {
    const { s, r } = await rawClient(mallory);
    const spoof = [
      `X_Client_Cert_Serial: ${alice.serial}`,
      'x-client-cert-serial: 01',
      'Client-Cert: :AAAA:',
      'Client_Cert_Chain: :AAAA:',
      'X-SSL-Client-S-DN: CN=alice',
      'X_SSL_Client_Verify: SUCCESS',
      'X-Client-DN: CN=alice',
      'X-Client-Verify: SUCCESS',
      'X-Remote-User: alice',
      'Remote_User: alice',
      'X-Forwarded-User: alice',
      'X-Forwarded-Tls-Client-Cert-Info: Subject="CN=alice"',
      'X-Forwarded-Client-Cert: Hash=00;Subject="CN=alice"',
      'Forwarded: for=10.0.0.1;by=alice',
      'X-Real-IP: 10.0.0.1',
      'X-Forwarded-For: 10.0.0.1',
      'X-Kept: yes',
    ];
    s.write(get('/whoami', spoof.join('\r\n') + '\r\n'));
    await r.until(() => r.responses.length === 1);
    const seen = await upstream.waitLogged((e) => e.url === '/whoami');
    const names = seen.rawHeaders
      .filter((_, i) => i % 2 === 0)
      .map((n) => n.toLowerCase().replace(/_/g, '-'));
    const count = (n: string) => names.filter((x) => x === n).length;
    expect(count('x-client-cert-serial')).toBe(1);
    expect(seen.headers['x-client-cert-serial']).toBe(mallory.serial.toLowerCase());
    expect(seen.headers['x-forwarded-client-cert']).toMatch(/Subject="CN=mallory"$/);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(count('x-forwarded-for')).toBe(1);
    for (const gone of [
      'client-cert',
      'client-cert-chain',
      'x-ssl-client-s-dn',
      'x-ssl-client-verify',
      'x-client-dn',
      'x-client-verify',
      'x-remote-user',
      'remote-user',
      'x-forwarded-user',
      'x-forwarded-tls-client-cert-info',
      'forwarded',
      'x-real-ip',
    ]) {
      expect(count(gone), gone).toBe(0);
    }
    expect(seen.headers['x-kept']).toBe('yes');
    // The gateway's own headers come after everything the client sent.
    expect(names.indexOf('x-client-cert-serial')).toBeGreaterThan(names.indexOf('x-kept'));
    s.destroy();
  });

  it('item 10: only WebSocket upgrades are tunnelled; h2c and tricks get 400 and an audit record', async () => {
    const attempts = [
      'Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n',
      'Upgrade: websocket, h2c\r\nConnection: Upgrade\r\n',
      'Upgrade: h2c\r\nConnection: keep-alive, upgrade\r\n',
      'Upgrade: TLS/1.2\r\nConnection: Upgrade\r\n',
    ];
    for (const extra of attempts) {
      const from = h.audit.length;
      const before = upstream.upgrades.length + upstream.log.length;
      const { s, r } = await rawClient(mallory);
      s.write(
        get('/h2c', extra) +
          `GET /inner HTTP/1.1\r\nHost: x\r\nX-Client-Cert-Serial: ${alice.serial}\r\n\r\n`,
      );
      await r.until(() => r.closed, 5_000);
      expect(r.responses.map((x) => x.status)).toEqual([400]);
      expect(upstream.upgrades.length + upstream.log.length).toBe(before);
      const rec = await h.waitAudit((e) => e.type === 'gateway.request.refused', 5_000, from);
      expect(rec.details).toMatchObject({ reason: 'upgrade_not_allowed', status: 400, path: '/h2c' });
    }
  });

  it('item 12: a hung request is recorded as aborted, not 200', async () => {
    const from = h.audit.length;
    const { s } = await rawClient();
    s.write(get('/hold?t=item12'));
    await upstream.waitLogged((e) => e.url === '/hold?t=item12');
    s.destroy();
    const rec = await h.waitAudit(
      (e) => e.type === 'gateway.request' && e.details['path'] === '/hold',
      5_000,
      from,
    );
    expect(rec.details).toMatchObject({ status: 0, outcome: 'aborted' });
    await upstream.idle();
  });

  it('item 12: 103 Early Hints is relayed as interim; the final 200 reaches the client and the audit', async () => {
    const from = h.audit.length;
    const { s, r } = await rawClient();
    s.write(get('/early'));
    await r.until(() => r.responses.some((x) => x.status === 200));
    expect(r.responses.map((x) => x.status)).toEqual([103, 200]);
    expect(r.responses[0]?.head).toMatch(/link: <\/style.css>; rel=preload; as=style/i);
    expect(r.responses[1]?.body).toBe('final answer');
    const rec = await h.waitAudit(
      (e) => e.type === 'gateway.request' && e.details['path'] === '/early',
      5_000,
      from,
    );
    expect(rec.details).toMatchObject({ status: 200, outcome: 'completed', bytesOut: 12 });
    s.destroy();
  });

  it('idle: a stream silent for longer than the idle timeout is not cut while its request is in flight', async () => {
    const { s, r } = await rawClient();
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.write(get('/quiet?ms=2200', 'Connection: close\r\n'));
    await r.until(() => r.closed, 8_000);
    expect(text).toContain('data: first');
    expect(text).toContain('data: second');
  });

  it('a client that never reads its response is cut after the idle timeout and its upstream socket released', async () => {
    const from = h.audit.length;
    const { s } = await rawClient();
    s.pause();
    s.write(get('/big?bytes=64000000'));
    const rec = await h.waitAudit(
      (e) => e.type === 'gateway.request' && e.details['path'] === '/big',
      8_000,
      from,
    );
    expect(rec.details).toMatchObject({ outcome: 'aborted', reason: 'client_not_reading', status: 200 });
    await upstream.idle();
    s.destroy();
  });
});

/** Item 11: an upstream with a base path; nothing the client writes may reach a path outside it. */
describe('gateway request paths stay under the upstream base path', () => {
  const pki = TestPki.create();
  const upstream = new LoggingUpstream();
  const h = new Harness();
  let ca: Ca;
  let alice: Pair;
  let port: number;

  beforeAll(async () => {
    ca = await pki.ca('Base Path CA');
    const server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    await upstream.listen();
    port = await h.start(Harness.material(ca, server), { upstream: `${upstream.url}/api` });
  });

  afterAll(async () => {
    await h.stop();
    await upstream.close();
    pki.cleanup();
  });

  async function status(target: string): Promise<number> {
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    s.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    await r.until(() => r.closed, 5_000);
    return r.responses[0]?.status ?? 0;
  }

  it('refuses or normalises dot-segments in every encoding', async () => {
    const escapes = [
      '/../admin',
      '/%2e%2e/admin',
      '/%2E%2E/admin',
      '/.%2e/admin',
      '/%2e./admin',
      '/x/../../admin',
      '/..%2fadmin',
      '/%2e%2e%2fadmin',
      '/..%5cadmin',
      '/..;/admin',
      '/%252e%252e/admin',
      '/./../admin',
      'http://evil.example/admin',
    ];
    const from = h.audit.length;
    for (const t of escapes) expect(await status(t), t).toBe(400);
    const refusedNow = () => h.audit.slice(from).filter((e) => e.type === 'gateway.request.refused');
    // Audit entries travel in batches: wait for the last one.
    await h.waitAudit(() => refusedNow().length === escapes.length, 5_000, from);
    const refused = refusedNow();
    expect(refused.every((e) => e.details['reason'] === 'bad_path')).toBe(true);

    expect(await status('/a/./b/../c?q=../x')).toBe(200);
    expect(await status('/files/a%2Fb')).toBe(200);
    expect(await status('/v1.2/file.json')).toBe(200);
    const urls = upstream.log.map((e) => e.url);
    expect(urls).toEqual(['/api/a/c?q=../x', '/api/files/a%2Fb', '/api/v1.2/file.json']);
    expect(urls.every((u) => u.startsWith('/api/'))).toBe(true);
  });
});

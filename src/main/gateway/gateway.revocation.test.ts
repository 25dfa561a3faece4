import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { closed, connect, curl, curlStatus, Harness, request, run, Upstream } from './harness.fixture';

/** DESIGN.md §8: revocation applies to new handshakes, resumed sessions and live connections. */
describe('gateway revocation', () => {
  const pki = TestPki.create();
  const upstream = new Upstream();
  const h = new Harness();
  let ca: Ca;
  let port: number;

  beforeAll(async () => {
    ca = await pki.ca('Revocation Test CA');
    const server = await pki.server(ca);
    await upstream.listen();
    port = await h.start(Harness.material(ca, server), { upstream: upstream.url });
  });

  afterAll(async () => {
    await h.stop();
    await upstream.close();
    pki.cleanup();
  });

  function sClient(client: Pair, sess: 'out' | 'in', sessFile: string) {
    return run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-CAfile',
        ca.certFile,
        '-cert',
        client.certFile,
        '-key',
        client.keyFile,
        `-sess_${sess}`,
        sessFile,
        '-ign_eof',
      ],
      // Connection: close makes the gateway end the stream, so s_client exits after the response.
      { input: 'GET /resume HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' },
    );
  }

  it('refuses new connections of a revoked serial (curl)', async () => {
    const bob = await pki.client(ca, 'bob');
    expect(curlStatus(await curl(port, '/', { ca, client: bob }))).toBe(200);
    h.sup.updateRevocations([bob.serial.toUpperCase()]);
    const from = h.audit.length;
    const seen = upstream.seen.length;
    // The message is asynchronous: the next handshake after it is processed must be refused.
    const r = await curl(port, '/after', { ca, client: bob });
    const entry = await h.waitAudit(
      (e) => e.type === 'gateway.connection.refused' && e.details['serial'] === bob.serial,
      10_000,
      from,
    );
    // The client is told why (issue 8), and the record keeps the reason.
    expect(curlStatus(r)).toBe(400);
    expect(r.stdout).toContain('The SSL certificate has been revoked (revoked)');
    expect(entry.details['reason']).toBe('revoked');
    expect(entry.actor).toEqual({ kind: 'client', cn: 'bob', serial: bob.serial });
    expect(upstream.seen.length).toBe(seen);
  });

  it('refuses a resumed TLS 1.3 session whose ticket predates the revocation (openssl -sess_out/-sess_in)', async () => {
    const carol = await pki.client(ca, 'carol');
    const sess = `${pki.dir}/carol.sess`;
    const first = await sClient(carol, 'out', sess);
    expect(first.stdout).toContain('New, TLSv1.3');
    expect(first.stdout).toContain('HTTP/1.1 200 OK');
    // Before revocation the ticket resumes and is served: resumption itself works.
    const again = await sClient(carol, 'in', sess);
    expect(again.stdout).toContain('Reused, TLSv1.3');
    expect(again.stdout).toContain('HTTP/1.1 200 OK');
    const accepted = await h.waitAudit(
      (e) => e.type === 'gateway.connection.accepted' && e.details['resumed'] === true,
    );
    expect(accepted.actor).toEqual({ kind: 'client', cn: 'carol', serial: carol.serial });

    h.sup.updateRevocations([carol.serial]);
    const from = h.audit.length;
    const seen = upstream.seen.length;
    // Each attempt is a fresh resumption of the old ticket; the first one after the revocation
    // message is processed must be refused (bounded: the message arrives within milliseconds).
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await sClient(carol, 'in', sess);
      expect(r.stdout).toContain('Reused, TLSv1.3');
      refused = !r.stdout.includes('HTTP/1.1 200 OK');
    }
    expect(refused).toBe(true);
    const entry = await h.waitAudit(
      (e) => e.type === 'gateway.connection.refused' && e.details['serial'] === carol.serial,
      10_000,
      from,
    );
    expect(entry.details).toMatchObject({ reason: 'revoked', resumed: true });
    expect(upstream.seen.slice(seen).every((s) => s.headers['x-client-cert-serial'] !== carol.serial)).toBe(
      true,
    );
  });

  it('closes a live keep-alive connection of the serial at once', async () => {
    const dave = await pki.client(ca, 'dave');
    const eve = await pki.client(ca, 'eve');
    const s = await connect(port, ca, dave);
    const other = await connect(port, ca, eve);
    expect((await request(s, '/one')).status).toBe(200);
    expect((await request(other, '/one')).status).toBe(200);
    await h.waitConnections((l) => l.some((c) => c.serial === dave.serial && c.requests === 1));
    const t0 = Date.now();
    h.sup.updateRevocations([dave.serial]);
    await closed(s);
    expect(Date.now() - t0).toBeLessThan(1000);
    const entry = await h.waitAudit(
      (e) =>
        e.type === 'gateway.connection.closed' && e.actor.kind === 'client' && e.actor.serial === dave.serial,
    );
    expect(entry.details).toMatchObject({ reason: 'revoked', requests: 1 });
    // Other clients are untouched.
    expect((await request(other, '/two')).status).toBe(200);
    other.end();
    await closed(other);
    await h.waitConnections((l) => l.length === 0);
  });
});

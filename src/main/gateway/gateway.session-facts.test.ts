import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { closed, connect, Harness, request, Upstream } from './harness.fixture';

/**
 * Issue 10: live connections are told apart by their source port, and show the TLS version and
 * cipher the gateway negotiated, as the client saw them.
 */
describe('live connection details', () => {
  const pki = TestPki.create();
  const upstream = new Upstream();
  let ca: Ca;
  let server: Pair;
  let alice: Pair;

  beforeAll(async () => {
    ca = await pki.ca('Session Facts CA');
    server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    await upstream.listen();
  }, 60_000);

  afterAll(async () => {
    await upstream.close();
    pki.cleanup();
  });

  it('reports source port, TLS version and cipher of each connection', async () => {
    const h = new Harness();
    const port = await h.start(Harness.material(ca, server), { upstream: upstream.url });
    try {
      const a = await connect(port, ca, alice);
      const b = await connect(port, ca, alice);
      // A request makes the gateway publish a snapshot with both connections in it.
      await request(a, '/one');
      await request(b, '/two');
      const list = await h.waitConnections((l) => l.length === 2);
      const byPort = new Map(list.map((c) => [c.remotePort, c]));
      for (const s of [a, b]) {
        const c = byPort.get(s.localPort);
        expect(c, `connection from port ${s.localPort}`).toBeDefined();
        expect(c?.remoteAddress).toMatch(/127\.0\.0\.1$/);
        expect(c?.tlsVersion).toBe(s.getProtocol());
        expect(c?.tlsVersion).toBe('TLSv1.3');
        expect(c?.cipher).toBe(s.getCipher().name);
      }
      a.destroy();
      b.destroy();
      await Promise.all([closed(a), closed(b)]);
    } finally {
      await h.stop();
    }
  }, 30_000);
});

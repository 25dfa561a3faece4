import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { closed, connect, Harness, request, Upstream } from './harness.fixture';

/** DESIGN.md §8: at most N concurrent connections; the next is refused at once and recorded. */
describe('gateway connection limit', () => {
  const pki = TestPki.create();
  const upstream = new Upstream();
  let ca: Ca;
  let server: Pair;
  let alice: Pair;

  beforeAll(async () => {
    ca = await pki.ca('Limit Test CA');
    server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    await upstream.listen();
  });

  afterAll(async () => {
    await upstream.close();
    pki.cleanup();
  });

  async function fillAndOverflow(max: number, config: { maxConnections?: number }): Promise<void> {
    const h = new Harness();
    // One certificate fills every slot here, so its own cap (default 10) is lifted.
    const port = await h.start(Harness.material(ca, server), {
      upstream: upstream.url,
      maxConnectionsPerIdentity: 1000,
      ...config,
    });
    try {
      const held: tls.TLSSocket[] = [];
      for (let i = 0; i < max; i++) held.push(await connect(port, ca, alice));
      await h.waitConnections((l) => l.length === max);
      const from = h.audit.length;
      const t0 = Date.now();
      // The next one completes its handshake (handshakes never take an authenticated slot), is
      // told why and closed, without a byte reaching the upstream.
      const seen = upstream.seen.length;
      const over = await connect(port, ca, alice);
      over.write('GET /over HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const answer = await readToClose(over);
      expect(answer).toMatch(/^HTTP\/1.1 503 /);
      expect(answer).toContain('(limit_reached)');
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(upstream.seen.length).toBe(seen);
      const entry = await h.waitAudit(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'limit_reached',
        10_000,
        from,
      );
      expect(entry.actor).toEqual({ kind: 'client', cn: 'alice', serial: alice.serial });
      // Held connections still work.
      expect((await request(held[0]!, '/still-here')).status).toBe(200);
      // Free two slots; service resumes once their close is processed.
      const closedCount = h.audit.filter((e) => e.type === 'gateway.connection.closed').length;
      for (const s of held.splice(0, 2)) {
        s.end();
        await closed(s);
      }
      await h.waitAudit(
        () => h.audit.filter((e) => e.type === 'gateway.connection.closed').length >= closedCount + 2,
      );
      const again = await connect(port, ca, alice);
      expect((await request(again, '/again')).status).toBe(200);
      for (const s of [...held, again]) s.destroy();
      await h.waitConnections((l) => l.length === 0);
    } finally {
      await h.stop();
    }
  }

  it('refuses the 6th connection with maxConnections 5, and serves again after two close', async () => {
    await fillAndOverflow(5, { maxConnections: 5 });
  });

  it('refuses the 51st connection at the default of 50', async () => {
    await fillAndOverflow(50, {});
  });

  it('closes a client that trickles a request’s headers past the headers timeout', async () => {
    const h = new Harness();
    const port = await h.start(
      Harness.material(ca, server),
      { upstream: upstream.url },
      { headersTimeoutMs: 600 },
    );
    try {
      const slow = await connect(port, ca, alice);
      const seenBefore = upstream.seen.length;
      slow.write('GET /slowloris HTTP/1.1\r\nHost: localhost\r\n');
      // One header byte every 100 ms: never idle, never complete. Bounded: at most 10 s of trickle.
      const trickle = setInterval(() => slow.write('X'), 100);
      try {
        const entry = await h.waitAudit(
          (e) => e.type === 'gateway.connection.closed' && e.details['reason'] === 'headers_timeout',
          10_000,
        );
        expect(entry.actor).toMatchObject({ kind: 'client', cn: 'alice' });
        await closed(slow);
      } finally {
        clearInterval(trickle);
      }
      expect(upstream.seen.length).toBe(seenBefore);
      // A normal keep-alive client on the same gateway is not affected by the timeout between requests.
      const ok = await connect(port, ca, alice);
      expect((await request(ok, '/one')).status).toBe(200);
      await h.waitConnections((l) => l.length === 1);
      expect((await request(ok, '/two')).status).toBe(200);
      ok.destroy();
    } finally {
      await h.stop();
    }
  });
});

/** Everything the peer sent until it closed. */
export function readToClose(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(text));
  });
}

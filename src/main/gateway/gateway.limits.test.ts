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
    const port = await h.start(Harness.material(ca, server), { upstream: upstream.url, ...config });
    try {
      const held: tls.TLSSocket[] = [];
      for (let i = 0; i < max; i++) held.push(await connect(port, ca, alice));
      await h.waitConnections((l) => l.length === max);
      const from = h.audit.length;
      const t0 = Date.now();
      // The next one is dropped at accept time: its handshake cannot even start.
      await expect(connect(port, ca, alice)).rejects.toThrow();
      expect(Date.now() - t0).toBeLessThan(2000);
      const entry = await h.waitAudit(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'limit_reached',
        10_000,
        from,
      );
      expect(entry.actor).toEqual({ kind: 'system' });
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
});

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, TestPki, type Ca, type Pair } from './certs.fixture';
import { closed, connect, curl, curlStatus, Harness, run, Upstream, type Run } from './harness.fixture';

/** Who gets in, who does not, and why: every refusal leaves the upstream untouched. */
describe('gateway admission', () => {
  const pki = TestPki.create();
  const upstream = new Upstream();
  const h = new Harness();
  let ca: Ca;
  let alice: Pair;
  let port: number;

  beforeAll(async () => {
    ca = await pki.ca('Gateway Test CA');
    const server = await pki.server(ca);
    alice = await pki.client(ca, 'alice@operators', 'alice');
    await upstream.listen();
    port = await h.start(Harness.material(ca, server), { upstream: upstream.url, handshakeTimeoutMs: 300 });
  });

  afterAll(async () => {
    await h.stop();
    await upstream.close();
    pki.cleanup();
  });

  it('proxies a valid client (curl) with identity headers, and strips the spoofed ones', async () => {
    const before = upstream.seen.length;
    const r = await curl(port, '/api/v1/health?x=1', {
      ca,
      client: alice,
      args: [
        '-H',
        'X-Forwarded-Client-Cert: Hash=evil;Subject="CN=root"',
        '-H',
        'x-client-cert-serial: 01',
        '-H',
        'X-Forwarded-For: 6.6.6.6',
        '-H',
        'Connection: keep-alive, X-Drop-Me',
        '-H',
        'X-Drop-Me: 1',
        '-H',
        'Proxy-Authorization: Basic Zm9vOmJhcg==',
        '-i',
      ],
    });
    expect(r.stderr).toBe('');
    expect(curlStatus(r)).toBe(200);
    // Hop-by-hop headers of the response (and those it names in Connection) do not reach the client.
    expect(r.stdout.toLowerCase()).not.toContain('x-secret-hop');
    expect(upstream.seen.length).toBe(before + 1);
    const seen = upstream.seen[before]!;
    expect(seen.url).toBe('/api/v1/health?x=1');
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    // Exactly one of each identity header: the gateway's own.
    expect(names.filter((n) => n === 'x-forwarded-client-cert')).toHaveLength(1);
    expect(names.filter((n) => n === 'x-client-cert-serial')).toHaveLength(1);
    expect(names.filter((n) => n === 'x-forwarded-for')).toHaveLength(1);
    const hash = (await import('node:crypto'))
      .createHash('sha256')
      .update(derOf(alice.certPem))
      .digest('hex');
    expect(seen.headers['x-forwarded-client-cert']).toBe(`Hash=${hash};Subject="CN=alice@operators"`);
    expect(seen.headers['x-client-cert-serial']).toBe(alice.serial);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-drop-me']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['host']).toBe(`127.0.0.1:${upstream.port}`);
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${port}`);

    const accepted = await h.waitAudit(
      (e) =>
        e.type === 'gateway.connection.accepted' &&
        e.actor.kind === 'client' &&
        e.actor.serial === alice.serial,
    );
    expect(accepted.actor).toEqual({ kind: 'client', cn: 'alice@operators', serial: alice.serial });
    expect(accepted.details).toMatchObject({ remote: '127.0.0.1', tlsVersion: 'TLSv1.3' });
    expect(typeof accepted.details['cipher']).toBe('string');
    const req = await h.waitAudit(
      (e) => e.type === 'gateway.request' && e.details['path'] === '/api/v1/health',
    );
    expect(req.details).toMatchObject({ method: 'GET', status: 200 });
    const closedEntry = await h.waitAudit(
      (e) => e.type === 'gateway.connection.closed' && e.details['id'] === accepted.details['id'],
    );
    expect(closedEntry.details).toMatchObject({ requests: 1 });
    expect(closedEntry.details['bytesIn']).toBeGreaterThan(0);
    expect(closedEntry.details['bytesOut']).toBeGreaterThan(0);
  });

  /** Runs a refused attempt and checks that nothing reached the upstream. */
  async function refusedWithNothingUpstream(
    attempt: () => Promise<unknown>,
    reason: string,
  ): Promise<Record<string, unknown>> {
    const seen = upstream.seen.length;
    const conns = upstream.connections;
    const from = h.audit.length;
    await attempt();
    const entry = await h.waitAudit(
      (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === reason,
      10_000,
      from,
    );
    expect(upstream.seen.length).toBe(seen);
    expect(upstream.connections).toBe(conns);
    return { ...entry.details, actor: entry.actor };
  }

  it('refuses a client without a certificate (curl)', async () => {
    const d = await refusedWithNothingUpstream(async () => {
      const r = await curl(port, '/', { ca });
      // Told why, as nginx does, instead of curl's "Empty reply from server" (issue 8).
      expect(curlStatus(r)).toBe(400);
      expect(r.stdout).toContain('No required SSL certificate was sent (no_certificate)');
    }, 'no_certificate');
    expect(d['actor']).toEqual({ kind: 'system' });
  });

  it('refuses a same-CN certificate from a foreign CA, without attributing it to alice', async () => {
    const foreignCa = await pki.ca('Foreign CA');
    const fake = await pki.client(foreignCa, 'alice@operators', 'fake-alice');
    const d = await refusedWithNothingUpstream(async () => {
      toldWhy(await curl(port, '/', { ca, client: fake }), 'unknown_ca');
    }, 'unknown_ca');
    expect(d['actor']).toEqual({ kind: 'system' });
    expect(d['cn']).toBe('alice@operators');
  });

  it('refuses an expired certificate', async () => {
    const old = await pki.client(ca, 'old', 'expired', {
      now: new Date(Date.now() - 3 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const d = await refusedWithNothingUpstream(async () => {
      toldWhy(await curl(port, '/', { ca, client: old }), 'expired');
    }, 'expired');
    expect(d['actor']).toEqual({ kind: 'client', cn: 'old', serial: old.serial });
  });

  it('refuses a certificate that is not yet valid', async () => {
    const early = await pki.client(ca, 'early', 'early', { now: new Date(Date.now() + DAY_MS) });
    await refusedWithNothingUpstream(async () => {
      toldWhy(await curl(port, '/', { ca, client: early }), 'not_yet_valid');
    }, 'not_yet_valid');
  });

  it('refuses a certificate whose EKU is serverAuth only', async () => {
    const srv = await pki.server(ca, 'srv-only', ['svc']);
    await refusedWithNothingUpstream(async () => {
      toldWhy(await curl(port, '/', { ca, client: srv }), 'wrong_eku');
    }, 'wrong_eku');
  });

  it('refuses TLS 1.2 (openssl s_client -tls1_2) in the handshake', async () => {
    await refusedWithNothingUpstream(async () => {
      const r = await run(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${port}`,
          '-tls1_2',
          '-CAfile',
          ca.certFile,
          '-cert',
          alice.certFile,
          '-key',
          alice.keyFile,
        ],
        { input: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' },
      );
      expect(r.code).not.toBe(0);
    }, 'protocol_version');
  });

  it('refuses garbage bytes as a bad handshake', async () => {
    await refusedWithNothingUpstream(async () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.end('GET / HTTP/1.1\r\nHost: plain-http\r\n\r\n');
      await closed(s);
    }, 'bad_handshake');
  });

  it('drops a client that never finishes its handshake and frees the slot', async () => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    // Only the first bytes of a TLS record header: the handshake can never complete.
    s.write(Buffer.from([0x16, 0x03, 0x01]));
    const d = await refusedWithNothingUpstream(() => closed(s), 'handshake_timeout');
    expect(d['remote']).toBe('127.0.0.1');
    // The slot is free again: a valid client is served.
    const ok = await connect(port, ca, alice);
    ok.end();
    await closed(ok);
  });
});

describe('a flood of refused connections', () => {
  const pki = TestPki.create();
  const upstream = new Upstream();

  afterAll(async () => {
    await upstream.close();
    pki.cleanup();
  });

  it('records the first 20 per source and reason in full, then one summary of the rest', async () => {
    const ca = await pki.ca('Flood Test CA');
    const server = await pki.server(ca);
    await upstream.listen();
    const h = new Harness();
    const port = await h.start(
      Harness.material(ca, server),
      { upstream: upstream.url },
      { refusalWindowMs: 2000 },
    );
    try {
      for (let i = 0; i < 30; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.end('GET / HTTP/1.1\r\nHost: plain-http\r\n\r\n');
        await closed(s);
      }
      const summary = await h.waitAudit((e) => e.type === 'gateway.connection.refused.suppressed', 10_000);
      expect(summary.details).toMatchObject({ reason: 'bad_handshake', remote: '127.0.0.1', count: 10 });
      const full = h.audit.filter(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'bad_handshake',
      );
      expect(full).toHaveLength(20);
      expect(upstream.seen).toHaveLength(0);
    } finally {
      await h.stop();
    }
  });
});

/** The refused client got a short HTTP answer naming the reason (issue 8). */
function toldWhy(r: Run, reason: string): void {
  expect(curlStatus(r)).toBe(400);
  expect(r.stdout).toContain(`(${reason})`);
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

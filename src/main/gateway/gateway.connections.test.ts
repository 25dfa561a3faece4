import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../shared/model';
import { DAY_MS, TestPki, type Ca, type Pair } from './certs.fixture';
import { longForeignChain, type LongChain } from './chain.fixture';
import { closed, connect, curl, curlStatus, Harness, request, run, Upstream } from './harness.fixture';

/**
 * Issue 8, connection layer, attacked as a client would: items 2 (pre-authentication budget,
 * per-identity cap), 7 (expiry of live connections), 8 (long chains), 9 (refusal log flood),
 * 12 (truthful refusal records), a refused client told why, settings applied live, and the
 * gateway's environment.
 */
describe('gateway connection layer under hostile clients', () => {
  const pki = TestPki.create();
  const upstream = new Upstream();
  let ca: Ca;
  let server: Pair;
  let alice: Pair;
  let bob: Pair;
  let chain180: LongChain;
  let chain6: LongChain;

  beforeAll(async () => {
    ca = await pki.ca('Connections Test CA');
    server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    bob = await pki.client(ca, 'bob');
    [chain180, chain6] = await Promise.all([longForeignChain(pki.dir, 180), longForeignChain(pki.dir, 6)]);
    await upstream.listen();
  }, 60_000);

  afterAll(async () => {
    await upstream.close();
    pki.cleanup();
  });

  async function gateway(
    config: Partial<GatewayConfig> = {},
    options: Parameters<Harness['start']>[2] = {},
  ): Promise<{ h: Harness; port: number }> {
    const h = new Harness();
    const port = await h.start(Harness.material(ca, server), { upstream: upstream.url, ...config }, options);
    return { h, port };
  }

  /** Opens `count` TCP connections from `localAddress` that never send a byte, reopened as they close. */
  function silentFlood(
    port: number,
    localAddress: string,
    count: number,
  ): { connected: Promise<void>; stop(): Promise<void> } {
    const open = new Set<net.Socket>();
    let stopped = false;
    let reopened = 0;
    let pending = count;
    let allConnected: () => void = () => undefined;
    const connected = new Promise<void>((resolve) => (allConnected = resolve));
    const one = (): void => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress });
      s.on('error', () => undefined);
      s.once('connect', () => --pending === 0 && allConnected());
      open.add(s);
      s.once('close', () => {
        open.delete(s);
        // Bounded: at most 10 reopenings per socket of the flood.
        if (!stopped && reopened++ < count * 10) one();
      });
    };
    for (let i = 0; i < count; i++) one();
    return {
      connected,
      async stop() {
        stopped = true;
        const all = [...open];
        for (const s of all) s.destroy();
        await Promise.all(all.map((s) => closed(s)));
      },
    };
  }

  it('item 2: 60 silent TCP connections lock no one out (same source, default limits)', async () => {
    const { h, port } = await gateway();
    const flood = silentFlood(port, '127.0.0.1', 60);
    try {
      // Every silent socket is connected and sits in its handshake, none refused.
      await flood.connected;
      expect(h.refusals()).toHaveLength(0);
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const r = await curl(port, `/legit-${i}`, { ca, client: alice });
        expect(curlStatus(r)).toBe(200);
        expect(Date.now() - t0).toBeLessThan(2_000);
      }
    } finally {
      await flood.stop();
      await h.stop();
    }
  });

  it('item 2: one source cannot hold the whole pre-authentication budget', async () => {
    const { h, port } = await gateway({}, { maxHandshakesPerSource: 10, maxHandshakes: 40 });
    const flood = silentFlood(port, '127.0.0.2', 30);
    try {
      const entry = await h.waitAudit(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'handshake_limit',
      );
      expect(entry.details['remote']).toBe('127.0.0.2');
      expect(String(entry.details['detail'])).toContain('from 127.0.0.2');
      // Another source still has the rest of the budget, and authenticated slots are untouched.
      const r = await curl(port, '/other-source', { ca, client: alice });
      expect(curlStatus(r)).toBe(200);
    } finally {
      await flood.stop();
      await h.stop();
    }
  });

  it('item 2: one certificate cannot hold every slot (per-identity cap, told why, audited)', async () => {
    const { h, port } = await gateway({ maxConnectionsPerIdentity: 3 });
    const held: tls.TLSSocket[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await connect(port, ca, alice));
      await h.waitConnections((l) => l.length === 3);
      const r = await curl(port, '/fourth', { ca, client: alice });
      expect(curlStatus(r)).toBe(429);
      expect(r.stdout).toContain('(identity_limit)');
      const entry = await h.waitAudit(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'identity_limit',
      );
      expect(entry.actor).toEqual({ kind: 'client', cn: 'alice', serial: alice.serial });
      // Another certificate is not affected.
      expect(curlStatus(await curl(port, '/bob', { ca, client: bob }))).toBe(200);
    } finally {
      for (const s of held) s.destroy();
      await h.stop();
    }
  });

  it('item 7: a busy connection is closed at its certificate’s notAfter', async () => {
    // Whole seconds: a certificate's notAfter has no milliseconds.
    const notAfter = new Date(Math.ceil((Date.now() + 2_500) / 1000) * 1000);
    const brief = await pki.client(ca, 'brief', 'brief', { notAfter });
    const { h, port } = await gateway();
    try {
      const s = await connect(port, ca, brief);
      const served: number[] = [];
      // Traffic every 100 ms, so the connection is never idle; bounded to 100 requests (10 s).
      for (let i = 0; i < 100 && !s.destroyed; i++) {
        try {
          await request(s, `/tick-${i}`);
          served.push(Date.now());
        } catch {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await closed(s);
      const entry = await h.waitAudit(
        (e) => e.type === 'gateway.connection.closed' && e.details['reason'] === 'expired',
      );
      expect(entry.actor).toMatchObject({ kind: 'client', cn: 'brief' });
      expect(served.length).toBeGreaterThan(5);
      // The sweep runs every 250 ms: nothing was served past notAfter plus one tick and a request.
      expect(Math.max(...served)).toBeLessThan(notAfter.getTime() + 1_000 + 400);
    } finally {
      await h.stop();
    }
  });

  it('item 8: a 180-certificate chain is refused as too large, and its source is rate-limited', async () => {
    const { h, port } = await gateway();
    try {
      const answer = await tlsAnswer(port, { cert: chain180.chainPem, key: chain180.leafKeyPem });
      expect(answer).toMatch(/^HTTP\/1.1 400 /);
      expect(answer).toContain('(certificate_too_large)');
      const entry = await h.waitAudit(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'certificate_too_large',
      );
      expect(entry.details['remote']).toBe('127.0.0.1');
      // The next attempt from that source within a second never reaches the TLS stack.
      const from = h.audit.length;
      await tlsAnswer(port, { cert: chain180.chainPem, key: chain180.leafKeyPem });
      const limited = await h.waitAudit(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'handshake_limit',
        10_000,
        from,
      );
      expect(String(limited.details['detail'])).toContain('oversized certificate chain');
    } finally {
      await h.stop();
    }
  });

  it('item 8: a chain longer than 4 certificates is refused with its reason', async () => {
    const { h, port } = await gateway();
    try {
      const answer = await tlsAnswer(port, { cert: chain6.chainPem, key: chain6.leafKeyPem });
      expect(answer).toContain('(chain_too_long)');
      await h.waitAudit(
        (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'chain_too_long',
      );
    } finally {
      await h.stop();
    }
  });

  it('item 9: 300 source addresses do not buy 300 times the refusal records', async () => {
    const { h, port } = await gateway({}, { refusalWindowMs: 600_000 });
    const attempts = 300 * 2;
    try {
      const sources = Array.from(
        { length: 300 },
        (_, i) => `127.0.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
      );
      // 30 at a time: two plain-HTTP (garbage) attempts per source address.
      for (let i = 0; i < sources.length; i += 30) {
        await Promise.all(
          sources.slice(i, i + 30).flatMap((localAddress) =>
            [0, 1].map(async () => {
              const s = net.connect({ port, host: '127.0.0.1', localAddress });
              s.on('error', () => undefined);
              s.end('GET / HTTP/1.1\r\nHost: plain\r\n\r\n');
              await closed(s);
            }),
          ),
        );
      }
      await waitUntil(() => refusedCount(h) + 1 > 100, 5_000);
    } finally {
      // Stopping flushes the window's summaries.
      await h.stop();
    }
    const full = h.audit.filter(
      (e) => e.type === 'gateway.connection.refused' && e.details['reason'] === 'bad_handshake',
    );
    const summaries = h.audit.filter((e) => e.type === 'gateway.connection.refused.suppressed');
    expect(full.length).toBe(100);
    const star = summaries.find((e) => e.details['remote'] === '*');
    expect(star?.details['sources']).toBeGreaterThan(200);
    // Every attempt is accounted for, in 100 full records and a handful of summaries.
    const suppressed = summaries.reduce((n, e) => n + Number(e.details['count']), 0);
    expect(full.length + suppressed).toBe(attempts);
    expect(summaries.length).toBeLessThanOrEqual(10);
  }, 60_000);

  it('item 12: foreign certificates are unknown_ca whatever else is wrong with them', async () => {
    const { h, port } = await gateway();
    try {
      const foreign = await pki.ca('Foreign Two');
      const expired = await pki.client(foreign, 'alice', 'foreign-expired', {
        now: new Date(Date.now() - 3 * DAY_MS),
        notAfter: new Date(Date.now() - DAY_MS),
      });
      const serverOnly = await pki.server(foreign, 'foreign-server', ['svc']);
      for (const client of [expired, serverOnly]) {
        const from = h.audit.length;
        const r = await curl(port, '/', { ca, client });
        expect(r.stdout).toContain('(unknown_ca)');
        const entry = await h.waitAudit((e) => e.type === 'gateway.connection.refused', 10_000, from);
        expect(entry.details['reason']).toBe('unknown_ca');
        expect(entry.actor).toEqual({ kind: 'system' });
      }
    } finally {
      await h.stop();
    }
  });

  it('item 12: the refusal record names the peer even when it reset the connection', async () => {
    const { h, port } = await gateway();
    try {
      const from = h.audit.length;
      const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.5' });
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      // The start of a TLS record, then a reset: the handshake fails after the peer is gone.
      s.write(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      s.resetAndDestroy();
      const entry = await h.waitAudit((e) => e.type === 'gateway.connection.refused', 10_000, from);
      expect(entry.details['remote']).toBe('127.0.0.5');
    } finally {
      await h.stop();
    }
  });

  it('a refused client is told why: openssl s_client sees the reason', async () => {
    const { h, port } = await gateway();
    try {
      const r = await run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', ca.certFile, '-quiet'],
        { input: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' },
      );
      expect(r.stdout).toContain('HTTP/1.1 400 Bad Request');
      expect(r.stdout).toContain('No required SSL certificate was sent (no_certificate)');
    } finally {
      await h.stop();
    }
  });

  it('settings saved while running apply at once; a new listen address waits for a restart', async () => {
    const other = new Upstream();
    await other.listen();
    const { h, port } = await gateway();
    try {
      const base: GatewayConfig = {
        ...DEFAULT_GATEWAY_CONFIG,
        listen: '127.0.0.1:0',
        upstream: upstream.url,
      };
      const old = await connect(port, ca, alice);
      // The client's handshake ends before the gateway's: wait until it holds the connection.
      await h.waitConnections((l) => l.length === 1);
      expect(h.sup.reconfigure({ ...base, maxConnectionsPerIdentity: 1, upstream: other.url })).toEqual({
        restartNeeded: [],
      });
      // The message is asynchronous: bounded retries until the new cap is seen.
      let told = '';
      for (let i = 0; i < 20 && !told.includes('(identity_limit)'); i++) {
        told = (await curl(port, '/second', { ca, client: alice })).stdout;
      }
      expect(told).toContain('(identity_limit)');
      // A new connection reaches the new upstream; the open one finishes on the old one.
      const seenOther = other.seen.length;
      expect(curlStatus(await curl(port, '/to-other', { ca, client: bob }))).toBe(200);
      expect(other.seen.slice(seenOther).map((s) => s.url)).toEqual(['/to-other']);
      expect((await request(old, '/still-old')).status).toBe(200);
      expect(upstream.seen.at(-1)?.url).toBe('/still-old');
      old.destroy();
      expect(h.sup.reconfigure({ ...base, listen: '127.0.0.1:1' })).toEqual({ restartNeeded: ['listen'] });
    } finally {
      await h.stop();
      await other.close();
    }
  });

  it('the gateway process does not inherit the passphrase file variable or NODE_OPTIONS', async () => {
    const saved = { file: process.env['MTLS_CONSOLE_PASSPHRASE_FILE'], opts: process.env['NODE_OPTIONS'] };
    process.env['MTLS_CONSOLE_PASSPHRASE_FILE'] = '/secret/passphrase';
    process.env['NODE_OPTIONS'] = '--no-warnings';
    let h: Harness | undefined;
    try {
      ({ h } = await gateway());
      const state = h.sup.state();
      if (state.kind !== 'running') throw new Error('not running');
      const env = readFileSync(`/proc/${state.pid}/environ`, 'utf8').split('\0');
      const names = env.map((kv) => kv.slice(0, kv.indexOf('=')));
      expect(names).not.toContain('MTLS_CONSOLE_PASSPHRASE_FILE');
      expect(names).not.toContain('NODE_OPTIONS');
      expect(names).toContain('PATH');
    } finally {
      restoreEnv('MTLS_CONSOLE_PASSPHRASE_FILE', saved.file);
      restoreEnv('NODE_OPTIONS', saved.opts);
      await h?.stop();
    }
  });

  /** A raw TLS client with the given credentials: everything the gateway answered before closing. */
  function tlsAnswer(port: number, creds: { cert: string; key: string }): Promise<string> {
    return new Promise((resolve) => {
      let text = '';
      const s = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost', ...creds });
      s.on('error', () => undefined);
      s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.once('close', () => resolve(text));
    });
  }
});

function refusedCount(h: Harness): number {
  return h.audit.filter((e) => e.type === 'gateway.connection.refused').length;
}

/** Polls a condition every 20 ms up to `ms`; used only where no event exists to await. */
async function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

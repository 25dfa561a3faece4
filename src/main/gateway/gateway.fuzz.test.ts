import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { connect, Harness } from './harness.fixture';
import { LoggingUpstream, RawReader } from './requests.fixture';

/** A small seeded PRNG (mulberry32): a failing run can be replayed from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sent {
  readonly id: string;
  readonly method: string;
  readonly route: string;
}

const FUZZ_MS = 8_000;
const CLIENTS = 4;

/**
 * Issue 8's fuzz test: several clients send random pipelined and aborted request sequences for a
 * bounded time against a logging upstream. Afterwards every request the upstream saw has exactly
 * one audit record with the right identity, no client got another's response, and a fresh client
 * is served within 1 s.
 */
describe('gateway request fuzz', () => {
  const pki = TestPki.create();
  const upstream = new LoggingUpstream();
  const h = new Harness();
  let ca: Ca;
  let port: number;
  const clients: Pair[] = [];
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000);

  beforeAll(async () => {
    ca = await pki.ca('Fuzz CA');
    const server = await pki.server(ca);
    for (let i = 0; i < CLIENTS; i++) clients.push(await pki.client(ca, `fuzz${i}`));
    await upstream.listen();
    port = await h.start(
      Harness.material(ca, server),
      { upstream: upstream.url },
      { upstreamTimeoutMs: 2_000 },
    );
  });

  afterAll(async () => {
    await h.stop();
    await upstream.close();
    pki.cleanup();
  });

  /** One connection: a random pipelined batch, then read everything, close early, or cut mid-request. */
  async function session(who: Pair, tag: string, rnd: () => number, wrong: string[]): Promise<void> {
    const s: tls.TLSSocket = await connect(port, ca, who);
    const sent: Sent[] = [];
    const serial = who.serial.toLowerCase();
    const n = 1 + Math.floor(rnd() * 8);
    let wire = '';
    for (let i = 0; i < n; i++) {
      const id = `${tag}-${i}`;
      const route = ['echo', 'echo', 'slow', 'big', 'hold'][Math.floor(rnd() * 5)] as string;
      const method = ['GET', 'POST', 'DELETE', 'PUT', 'HEAD'][Math.floor(rnd() * 5)] as string;
      // /hold never answers: only as the last request, so the test can close on it.
      const r2 = route === 'hold' && i < n - 1 ? 'echo' : route;
      const q =
        r2 === 'slow'
          ? `?ms=${Math.floor(rnd() * 120)}`
          : r2 === 'big'
            ? `?bytes=${Math.floor(rnd() * 300_000)}`
            : '';
      const body = method === 'POST' || method === 'PUT' ? 'x'.repeat(Math.floor(rnd() * 5_000)) : '';
      const head = `${method} /fz/${id}/${r2}${q} HTTP/1.1\r\nHost: fuzz\r\n${body ? `Content-Length: ${body.length}\r\n` : ''}\r\n`;
      wire += head + body;
      sent.push({ id, method, route: r2 });
    }
    const r = new RawReader(
      s,
      sent.map((x) => x.method),
    );
    const mode = rnd();
    if (mode < 0.2) {
      // Cut in the middle of the pipeline, possibly mid-request.
      s.write(wire.slice(0, Math.floor(rnd() * wire.length)));
      s.destroy();
      return;
    }
    s.write(wire);
    const expected = sent.filter((x) => x.route !== 'hold').length;
    if (mode < 0.5) {
      await new Promise<void>((resolve) => setTimeout(resolve, Math.floor(rnd() * 80)));
      s.destroy();
    } else {
      await r.until(() => r.responses.filter((x) => x.status >= 200).length >= expected || r.closed, 5_000);
      s.destroy();
    }
    // Responses arrive in order and each names the request and identity it answers.
    const finals = r.responses.filter((x) => x.status >= 200);
    finals.forEach((resp, i) => {
      const want = sent[i];
      if (!want || want.method === 'HEAD' || resp.status !== 200) return;
      if (want.route === 'echo') {
        const got = JSON.parse(resp.body) as { path: string; serial: string };
        if (!got.path.startsWith(`/fz/${want.id}/`) || got.serial !== serial)
          wrong.push(`${want.id}: ${resp.body}`);
      } else if (want.route === 'slow') {
        if (!resp.body.startsWith(`slow /fz/${want.id}/`) || !resp.body.endsWith(serial)) {
          wrong.push(`${want.id}: ${resp.body}`);
        }
      }
    });
  }

  it('every upstream request has exactly one audit record with its identity; nothing crosses clients', async () => {
    const rnd = prng(seed);
    const wrong: string[] = [];
    const deadline = Date.now() + FUZZ_MS;
    let sessions = 0;
    await Promise.all(
      clients.map(async (who, c) => {
        const mine = prng(Math.floor(rnd() * 2 ** 31));
        for (let k = 0; Date.now() < deadline; k++) {
          sessions++;
          await session(who, `c${c}s${k}`, mine, wrong).catch((err: Error) =>
            wrong.push(`c${c}s${k}: ${err.message}`),
          );
        }
      }),
    );
    expect(wrong, `seed ${seed}`).toEqual([]);
    expect(sessions).toBeGreaterThan(20);

    // Settle: every connection closed (its records written), then one more audit batch.
    await h.waitConnections((l) => l.length === 0, 10_000);
    const t0 = Date.now();
    const s = await connect(port, ca, clients[0] as Pair);
    const r = new RawReader(s);
    s.write('GET /fresh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await r.until(() => r.closed, 1_000);
    expect(r.responses[0]?.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(1_000);
    await h.waitAudit((e) => e.type === 'gateway.request' && e.details['path'] === '/fresh');

    const records = new Map<string, { serial: string; count: number; outcome: unknown }>();
    for (const e of h.audit) {
      if (e.type !== 'gateway.request' || e.actor.kind !== 'client') continue;
      const id = /^\/fz\/([^/]+)\//.exec(String(e.details['path']))?.[1];
      if (!id) continue;
      const prev = records.get(id);
      records.set(id, {
        serial: e.actor.serial,
        count: (prev?.count ?? 0) + 1,
        outcome: e.details['outcome'],
      });
    }
    const seen = upstream.log.filter((e) => e.url.startsWith('/fz/'));
    expect(seen.length).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const e of seen) {
      const id = /^\/fz\/([^/]+)\//.exec(e.url)?.[1] ?? '';
      const rec = records.get(id);
      if (!rec) problems.push(`${id}: reached the upstream, no audit record`);
      else if (rec.count !== 1) problems.push(`${id}: ${rec.count} audit records`);
      else if (rec.serial !== e.headers['x-client-cert-serial'])
        problems.push(`${id}: audited as ${rec.serial}`);
    }
    // No request ran on the upstream twice.
    const ids = seen.map((e) => e.url.split('/')[2]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(problems.slice(0, 10), `seed ${seed}`).toEqual([]);
    await upstream.idle(6_000);
  }, 40_000);
});

/**
 * Measures the gateway's CPU per refused handshake (issue 8, item 8): a client without a
 * certificate against one sending a 180-certificate foreign chain, each repeated N times in a row
 * from one source. Run: `npx tsx src/main/gateway/handshake-cost.probe.ts` (N=40 by default).
 */
import tls from 'node:tls';
import { TestPki } from './certs.fixture';
import { longForeignChain } from './chain.fixture';
import { processCpuMs } from './cpu.fixture';
import { Harness, Upstream } from './harness.fixture';

async function main(): Promise<void> {
  const n = Number(process.env['N'] ?? 40);
  const pki = TestPki.create();
  const upstream = new Upstream();
  const h = new Harness();
  try {
    const ca = await pki.ca('Cost CA');
    const server = await pki.server(ca);
    const chain = await longForeignChain(pki.dir, 180);
    await upstream.listen();
    const port = await h.start(Harness.material(ca, server), { upstream: upstream.url });
    const state = h.sup.state();
    if (state.kind !== 'running') throw new Error('gateway not running');
    const attempt = (withChain: boolean): Promise<void> =>
      new Promise((resolve) => {
        const s = tls.connect({
          host: '127.0.0.1',
          port,
          ca: ca.certPem,
          servername: 'localhost',
          ...(withChain ? { cert: chain.chainPem, key: chain.leafKeyPem } : {}),
        });
        s.on('error', () => undefined);
        // Read (and drop) the answer: a paused socket would never see the server's close.
        s.resume();
        s.on('close', () => resolve());
        s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      });
    for (const [label, withChain] of [
      ['no certificate', false],
      ['180-certificate foreign chain', true],
    ] as const) {
      const before = processCpuMs(state.pid);
      const first = Date.now();
      for (let i = 0; i < n; i++) await attempt(withChain);
      const cpu = (processCpuMs(state.pid) - before) / n;
      console.log(
        `${label}: ${cpu.toFixed(2)} ms gateway CPU per attempt (${n} in ${Date.now() - first} ms)`,
      );
    }
    const reasons = new Map<string, number>();
    for (const e of h.refusals()) {
      const r = String(e.details['reason']);
      reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
    console.log('full refusal records by reason:', Object.fromEntries(reasons));
  } finally {
    await h.stop();
    await upstream.close();
    pki.cleanup();
  }
}

void main();

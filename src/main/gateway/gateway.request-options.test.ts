import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_CONFIG } from '../../shared/model';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { Gateway } from './gateway';
import { connect, inProcessGateway } from './harness.fixture';
import type { GatewayAuditEntry } from './protocol';
import { get, LoggingUpstream, RawReader } from './requests.fixture';

/**
 * Header settings and request-layer tuning (GatewayInit.proxy, not on the parent→gateway wire), so
 * the gateway runs in-process here; sockets and TLS are real.
 */
describe('gateway request options', () => {
  const pki = TestPki.create();
  const upstream = new LoggingUpstream();
  let audit: GatewayAuditEntry[] = [];
  let gateway: Gateway;
  let ca: Ca;
  let alice: Pair;
  let port: number;

  beforeAll(async () => {
    ca = await pki.ca('Options CA');
    const server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    await upstream.listen();
    ({ gateway, port, audit } = await inProcessGateway({
      ca,
      server,
      config: {
        upstream: upstream.url,
        stripHeaders: ['X-Tenant', 'X-Internal-*'],
        clientCertHeader: true,
        xfccCert: true,
      },
      proxy: { bodyIdleMs: 800 },
    }));
  });

  afterAll(async () => {
    await gateway.stop(100);
    await upstream.close();
    pki.cleanup();
  });

  it('strips configured names too and sends the certificate when asked (RFC 9440, XFCC Cert=)', async () => {
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    s.write(get('/opts', 'X_Tenant: other\r\nX-Internal-Role: admin\r\nClient-Cert: :AAAA:\r\n'));
    await r.until(() => r.responses.length === 1);
    const seen = await upstream.waitLogged((e) => e.url === '/opts');
    expect(seen.headers['x-tenant']).toBeUndefined();
    expect(seen.rawHeaders.some((n) => /^x[-_]internal/i.test(n) || /^x[-_]tenant/i.test(n))).toBe(false);
    const der = new X509Certificate(alice.certPem).raw;
    expect(seen.headers['client-cert']).toBe(`:${der.toString('base64')}:`);
    const cert = /;Cert="([^"]+)"/.exec(String(seen.headers['x-forwarded-client-cert']))?.[1] ?? '';
    expect(new X509Certificate(decodeURIComponent(cert)).fingerprint256).toBe(
      new X509Certificate(alice.certPem).fingerprint256,
    );
    s.destroy();
  });

  it('header settings saved while running apply to the next request of an open connection', async () => {
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    s.write(get('/live-1', 'X-Team: red\r\n'));
    await r.until(() => r.responses.length === 1);
    const before = await upstream.waitLogged((e) => e.url === '/live-1');
    expect(before.headers['x-team']).toBe('red');
    expect(before.headers['client-cert']).toBeDefined();

    const config = {
      ...DEFAULT_GATEWAY_CONFIG,
      listen: '127.0.0.1:0',
      upstream: upstream.url,
      stripHeaders: ['x_team'],
      clientCertHeader: false,
      xfccCert: false,
    };
    gateway.reconfigure(config);
    s.write(get('/live-2', 'X-Team: red\r\n'));
    await r.until(() => r.responses.length === 2);
    const after = await upstream.waitLogged((e) => e.url === '/live-2');
    expect(after.headers['x-team']).toBeUndefined();
    expect(after.headers['client-cert']).toBeUndefined();
    expect(String(after.headers['x-forwarded-client-cert'])).not.toContain('Cert=');
    s.destroy();
    gateway.reconfigure({
      ...config,
      stripHeaders: ['X-Tenant', 'X-Internal-*'],
      clientCertHeader: true,
      xfccCert: true,
    });
  });

  it('cuts an upstream that goes silent mid-body after the body-idle timeout and releases its socket', async () => {
    const from = audit.length;
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    s.write(get('/stall'));
    await r.until(() => r.closed, 5_000);
    const rec = audit.slice(from).find((e) => e.type === 'gateway.request' && e.details['path'] === '/stall');
    expect(rec?.details).toMatchObject({ status: 200, outcome: 'timeout', bytesOut: 5 });
    expect(audit.slice(from).some((e) => e.type === 'gateway.upstream.error')).toBe(true);
    await upstream.idle();
  });

  it('closes a connection that pipelines more than the queue bound, sending none of the excess', async () => {
    const from = audit.length;
    const logged = upstream.log.length;
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    s.write(get('/slow?ms=200&t=ovf') + get('/ovf').repeat(400));
    await r.until(() => r.closed, 5_000);
    expect(upstream.log.slice(logged).every((e) => !e.url.startsWith('/ovf'))).toBe(true);
    const dropped = audit.slice(from).find((e) => e.type === 'gateway.request.dropped');
    expect(dropped?.details).toMatchObject({ why: 'overflow' });
    expect(Number(dropped?.details['count'])).toBeGreaterThan(256);
  });
});

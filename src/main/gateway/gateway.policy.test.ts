import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../shared/model';
import { accessRulesSchema } from '../../shared/policy';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { Gateway } from './gateway';
import { connect, inProcessGateway } from './harness.fixture';
import type { GatewayAuditEntry } from './protocol';
import { get, LoggingUpstream, RawReader } from './requests.fixture';

/**
 * Access rules at the gateway (issue 11 §2): checked per request after path normalisation and
 * before dispatch, a 403 naming the reason, an audit record naming the rule, live changes.
 */
describe('gateway access policy', () => {
  const pki = TestPki.create();
  const upstream = new LoggingUpstream();
  let audit: GatewayAuditEntry[] = [];
  let gateway: Gateway;
  let ca: Ca;
  let agent: Pair;
  let operator: Pair;
  let port: number;
  let config: GatewayConfig;

  const rules = accessRulesSchema.parse([
    { id: 'agents', group: 'agents', methods: ['GET', 'POST'], paths: ['/status', '/v1/scan'] },
    { id: 'operators', name: 'op-*', methods: ['PATCH'], paths: ['/v1/guardrail/config'] },
  ]);

  beforeAll(async () => {
    ca = await pki.ca('Policy CA');
    const server = await pki.server(ca);
    agent = await pki.client(ca, 'scanner-1', 'scanner-1', { groups: ['agents'] });
    operator = await pki.client(ca, 'op-alice');
    await upstream.listen();
    config = { ...DEFAULT_GATEWAY_CONFIG, listen: '127.0.0.1:0', upstream: upstream.url, accessRules: rules };
    ({ gateway, port, audit } = await inProcessGateway({ ca, server, config }));
  });

  afterAll(async () => {
    await gateway.stop(100);
    await upstream.close();
    pki.cleanup();
  });

  async function statuses(who: Pair, requests: string[]): Promise<number[]> {
    const s = await connect(port, ca, who);
    const methods = requests.map((r) => r.split(' ')[0] ?? 'GET');
    const r = new RawReader(s, methods);
    for (const line of requests) {
      const [method, target] = line.split(' ');
      s.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    }
    await r.until(() => r.responses.filter((x) => x.status >= 200).length === requests.length);
    s.destroy();
    return r.responses.filter((x) => x.status >= 200).map((x) => x.status);
  }

  it('lets each client do only what its rules allow, after path normalisation', async () => {
    const from = audit.length;
    expect(
      await statuses(agent, [
        'GET /status',
        'HEAD /status',
        'POST /v1/scan/7',
        'DELETE /status',
        'GET /status/../admin',
        'GET /v1/scanner',
        'PATCH /v1/guardrail/config',
      ]),
    ).toEqual([200, 200, 200, 403, 403, 403, 403]);
    expect(await statuses(operator, ['PATCH /v1/guardrail/config', 'GET /status'])).toEqual([200, 403]);
    // Nothing denied reached the upstream.
    const urls = upstream.log.map((e) => `${e.method} ${e.url}`);
    expect(urls).not.toContain('DELETE /status');
    expect(urls.some((u) => u.includes('/admin') || u.includes('scanner'))).toBe(false);
    const denied = audit.slice(from).filter((e) => e.type === 'gateway.request.refused');
    expect(denied.map((e) => e.details['reason'])).toEqual(Array(5).fill('policy_denied'));
    expect(denied[0]).toMatchObject({
      actor: { kind: 'client', cn: 'scanner-1' },
      details: { method: 'DELETE', path: '/status', status: 403 },
    });
    expect(String(denied[0]?.details['detail'])).toBe(
      'agents: rule agents does not allow DELETE /status for scanner-1',
    );
    expect(String(denied[1]?.details['detail'])).toContain('/admin');
  });

  it('tells the client why in one line', async () => {
    const s = await connect(port, ca, operator);
    const r = new RawReader(s);
    s.write(get('/v1/scan'));
    await r.until(() => r.responses.length === 1);
    s.destroy();
    expect(r.responses[0]?.status).toBe(403);
    expect(r.responses[0]?.body).toBe('forbidden: rule operators does not allow GET /v1/scan for op-alice\n');
  });

  it('a rule change applies to the next request of an open connection; no rules allow all', async () => {
    const s = await connect(port, ca, operator);
    const r = new RawReader(s);
    s.write(get('/open-1'));
    await r.until(() => r.responses.length === 1);
    gateway.reconfigure({ ...config, accessRules: [] });
    s.write(get('/open-2'));
    await r.until(() => r.responses.length === 2);
    gateway.reconfigure(config);
    s.write(get('/open-3'));
    await r.until(() => r.responses.length === 3);
    s.destroy();
    expect(r.responses.map((x) => x.status)).toEqual([403, 200, 403]);
  });
});

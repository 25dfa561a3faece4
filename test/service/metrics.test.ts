import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkLauncher, type GatewayAuditRow } from '../../src/main/gateway';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { MetricsCollector } from '../../src/main/service/metrics';
import type { AuditRecord } from '../../src/shared/model';
import { makeEnv, REPO, removeEnv, type Env } from '../helpers/cli';
import { KeepAliveClient, startUpstream } from '../helpers/gateway-client';
import { freePort } from '../helpers/peers';
import { Metrics, scrape } from '../helpers/prometheus';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;
const GATEWAY_JS = path.join(REPO, 'out', 'main', 'gateway.js');

/** Resolves with the first appended audit record of `type` (the service's own event, no polling). */
function nextRecord(service: ConsoleService, type: string): Promise<AuditRecord> {
  return new Promise((resolve) => {
    const off = service.on('audit.appended', (records) => {
      const r = records.find((x) => x.type === type);
      if (r) {
        off();
        resolve(r);
      }
    });
  });
}

async function scrapeUntil(url: string, ready: (m: Metrics) => boolean): Promise<Metrics> {
  let last = Metrics.parse('');
  for (let i = 0; i < 100; i++) {
    const r = await scrape(url);
    expect(r.status).toBe(200);
    last = Metrics.parse(r.text);
    if (ready(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}

describe('metrics of the console service with a real gateway', () => {
  let env: Env;
  let service: ConsoleService;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let metricsUrl: string;
  let shift = -80 * DAY_MS;

  beforeAll(async () => {
    await fs.access(GATEWAY_JS); // `npm run build` first: the gateway runs as its own process
    env = await makeEnv('mtls-metrics-svc-');
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    service = new ConsoleService({
      stateDir: env.stateDir,
      vaults,
      // Made 80 days ago; renewal falls due at day 60 of the 90-day server certificate.
      now: () => new Date(Date.now() + shift),
      gatewayLauncher: new ForkLauncher(GATEWAY_JS),
      metricsClientLabels: 1,
    });
    await initCa(service, 'Metrics CA', { hosts: ['localhost', '127.0.0.1'] });
    upstream = await startUpstream();
  });

  afterAll(async () => {
    await service?.close();
    await upstream?.close();
    await removeEnv(env);
  });

  it('folds client names past the cap into (other), and counts a failed and then a good renewal', async () => {
    const issue = (name: string) =>
      service.issueClient({ name, durationMs: 365 * DAY_MS, outDir: path.join(env.tmp, name) });
    const alice = await issue('alice');
    const bob = await issue('bob');
    const listen = `127.0.0.1:${await freePort()}`;
    const saved = await service.configureDistribution({ listen, metrics: true });
    expect(saved).toMatchObject({ listen, metrics: true, restartNeeded: false });
    metricsUrl = `http://${listen}/metrics`;
    shift += 3_600_000; // an hour after issuance: not due yet
    const gw = await service.startGateway({
      listen: '127.0.0.1:0',
      upstream: `http://127.0.0.1:${upstream.port}`,
    });
    if (gw.kind !== 'running') throw new Error(`gateway ${gw.kind}`);
    const port = Number(gw.listen.slice(gw.listen.lastIndexOf(':') + 1));

    const a = await KeepAliveClient.connect(port, alice.files);
    const b = await KeepAliveClient.connect(port, bob.files);
    expect(await a.get('/one')).toBe(200);
    expect(await a.get('/two')).toBe(200);
    expect(await b.get('/three')).toBe(200);
    const m = await scrapeUntil(
      metricsUrl,
      (x) => x.histogram('mtls_gateway_upstream_duration_seconds').count === 3,
    );
    // One label allowed: the first name seen keeps it, bob is folded.
    expect(m.series('mtls_gateway_requests_total')).toEqual({
      'status_class=2xx,client=alice': 2,
      'status_class=2xx,client=(other)': 1,
    });
    expect(m.series('mtls_console_server_renewals_total')).toEqual({
      'result=renewed': 0,
      'result=failed': 0,
    });
    a.close();
    b.close();

    // Due now, with the CA key locked away: the renewal fails and the gauge says so.
    await service.lock();
    shift = 0;
    expect((await service.checkServerRenewal()).kind).toBe('failed');
    const failed = Metrics.parse((await scrape(metricsUrl)).text);
    expect(failed.series('mtls_console_server_renewals_total')).toEqual({
      'result=renewed': 0,
      'result=failed': 1,
    });
    expect(failed.value('mtls_console_server_renewal_failing')).toBe(1);

    // Unlocking retries at once; the renewal is counted and the failure cleared.
    const rotated = nextRecord(service, 'server.rotated');
    await service.handle('vault.unlock', { passphrase: PASSPHRASE });
    await rotated;
    const renewed = await scrapeUntil(
      metricsUrl,
      (x) => x.value('mtls_console_server_renewals_total', { result: 'renewed' }) === 1,
    );
    expect(renewed.series('mtls_console_server_renewals_total')).toEqual({
      'result=renewed': 1,
      'result=failed': 1,
    });
    expect(renewed.value('mtls_console_server_renewal_failing')).toBe(0);
    expect(renewed.value('mtls_console_expiry_seconds', { object: 'server_certificate' })).toBeGreaterThan(
      89 * 86_400,
    );
  });

  it('is gone with the listener when the gateway stops', async () => {
    await service.stopGateway();
    await expect(scrape(metricsUrl)).rejects.toThrow(/ECONNREFUSED/);
  });
});

/** The hot path's reading of record fields, on records shaped as the supervisor hands them over. */
describe('MetricsCollector.onRows', () => {
  const row = (type: string, cn: string | null, details: Record<string, unknown>): GatewayAuditRow => ({
    time: new Date().toISOString(),
    type,
    cn,
    serial: cn === null ? null : 'ab',
    detailsJson: JSON.stringify(details),
    details,
  });

  it('adds suppressed refusals, folds unknown reasons into other, and keeps tunnels out of the latency', async () => {
    const collector = await MetricsCollector.create({
      now: () => Date.now(),
      gatewayRunning: () => false,
      liveConnections: () => 0,
      auditWrites: () => ({ ok: false, queued: 7 }),
      expiries: () => {
        throw new Error('no CA yet');
      },
      renewalFailing: () => false,
    });
    collector.onRows([
      row('gateway.connection.refused', null, { reason: 'revoked' }),
      row('gateway.connection.refused.suppressed', null, { reason: 'revoked', count: 41 }),
      row('gateway.connection.refused', null, { reason: 'something new' }),
      row('gateway.request', 'alice', { status: 101, ms: 90_000, upgrade: true }),
      row('gateway.request', 'alice', { status: 0, ms: 3 }),
      row('gateway.request', 'alice', { status: 204, ms: 12 }),
      row('gateway.request.refused', 'alice', { reason: 'policy_denied', status: 403 }),
      row('gateway.request.held', 'alice', { status: 503 }),
      row('gateway.connection.closed', 'alice', { requests: 3 }),
    ]);
    const m = Metrics.parse((await collector.scrape()).body);
    expect(m.value('mtls_gateway_handshakes_total', { result: 'refused', reason: 'revoked' })).toBe(42);
    expect(m.value('mtls_gateway_handshakes_total', { result: 'refused', reason: 'other' })).toBe(1);
    expect(m.series('mtls_gateway_requests_total')).toEqual({
      'status_class=1xx,client=alice': 1,
      'status_class=0,client=alice': 1,
      'status_class=2xx,client=alice': 1,
    });
    const latency = m.histogram('mtls_gateway_upstream_duration_seconds');
    expect(latency.count).toBe(2);
    expect(latency.sum).toBeCloseTo(0.015, 6);
    expect(m.value('mtls_gateway_requests_refused_total', { reason: 'policy_denied' })).toBe(1);
    expect(m.value('mtls_gateway_requests_refused_total', { reason: 'audit_unavailable' })).toBe(1);
    expect(m.value('mtls_console_audit_queue_records')).toBe(7);
    expect(m.value('mtls_console_audit_writes_ok')).toBe(0);
    // Without a CA there is no expiry figure rather than a wrong one.
    expect(m.family('mtls_console_expiry_seconds').metrics).toEqual([]);
  });
});

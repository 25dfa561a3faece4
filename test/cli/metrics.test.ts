import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import type { IssueResult, StatusInfo } from '../../src/shared/model';
import { cli, initCa, makeEnv, openssl, removeEnv, startServe, type Env } from '../helpers/cli';
import { KeepAliveClient } from '../helpers/gateway-client';
import { freePort } from '../helpers/peers';
import { Metrics, scrape } from '../helpers/prometheus';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

/** An upstream answering the status its path names (`/status/503`), 200 otherwise. */
async function statusUpstream(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const m = /^\/status\/(\d{3})$/.exec(req.url ?? '');
    res.statusCode = m ? Number(m[1]) : 200;
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A TLS client the gateway refuses; resolves once the gateway has closed the connection. */
function refusedHandshake(port: number, client: { cert?: string; key?: string }): Promise<void> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
      ...(client.cert && client.key
        ? { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) }
        : {}),
    });
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.on('close', () => resolve());
  });
}

/** Scrapes until `ready` holds (the gateway's records reach the console over IPC, in batches). */
async function scrapeUntil(url: string, ready: (m: Metrics) => boolean): Promise<Metrics> {
  let last: Metrics | null = null;
  for (let i = 0; i < 100; i++) {
    const r = await scrape(url);
    expect(r.status).toBe(200);
    last = Metrics.parse(r.text);
    if (ready(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last ?? Metrics.parse('');
}

async function stopServe(child: Awaited<ReturnType<typeof startServe>>['child']): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function statusJson(env: Env): Promise<StatusInfo> {
  const r = await cli(env, ['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusInfo;
}

/**
 * Issue 11 §4: `serve --metrics on` answers `/metrics` on the console's loopback listener; a real
 * scrape, parsed as Prometheus parses it, shows what the test did through the gateway.
 */
describe('Prometheus metrics from a real serve', () => {
  let env: Env;
  let upstream: Awaited<ReturnType<typeof statusUpstream>>;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let metricsUrl: string;
  let clients: Record<string, IssueResult>;
  let foreign: { cert: string; key: string };

  beforeAll(async () => {
    env = await makeEnv('mtls-metrics-');
    // Made 70 days ago (the service on a shifted clock): the 90-day server certificate is past 2/3
    // of its life, so serve renews it at start, which the renewal counter must show.
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    const then = () => new Date(Date.now() - 70 * DAY_MS);
    const setup = new ConsoleService({ stateDir: env.stateDir, vaults, now: then });
    try {
      await setup.init({
        algorithm: 'ecdsa-p256',
        caName: 'Metrics CA',
        hosts: ['localhost', '127.0.0.1'],
        serverDays: 90,
        vault: { backend: 'passphrase', passphrase: PASSPHRASE },
      });
      clients = {};
      for (const name of ['alice', 'bob']) {
        clients[name] = await setup.issueClient({
          name,
          durationMs: 365 * DAY_MS,
          outDir: path.join(env.tmp, name),
        });
      }
    } finally {
      await setup.close();
    }
    foreign = { cert: path.join(env.tmp, 'mallory.crt'), key: path.join(env.tmp, 'mallory.key') };
    const made = await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=mallory',
      '-days',
      '1',
      '-keyout',
      foreign.key,
      '-out',
      foreign.cert,
    ]);
    expect(made.code, made.stderr).toBe(0);
    upstream = await statusUpstream();
  });

  afterAll(async () => {
    if (serve) await stopServe(serve.child);
    await upstream?.close();
    await removeEnv(env);
  });

  it('with --metrics on, serves /metrics on the loopback listener and counts what happened', async () => {
    // An ephemeral port: tests never bind the product's default (19822), which a running console may hold.
    const listen = `127.0.0.1:${await freePort()}`;
    serve = await startServe(env, upstream.url, ['--metrics', 'on', '--distribution-listen', listen]);
    const shown = /serving metrics on (http:\/\/\S+\/metrics)/.exec(serve.output());
    expect(shown?.[1]).toBe(`http://${listen}/metrics`);
    metricsUrl = shown![1]!;
    expect((await cli(env, ['distribution', '--json'])).stdout).toContain('"metrics": true');

    const files = (name: string) => {
      const f = clients[name]!.files;
      return { cert: f.cert!, key: f.key!, ca: f.ca };
    };
    const alice = await KeepAliveClient.connect(serve.port, files('alice'));
    const bob = await KeepAliveClient.connect(serve.port, files('bob'));
    for (let i = 0; i < 3; i++) expect(await alice.get('/v1/data')).toBe(200);
    expect(await alice.get('/status/404')).toBe(404);
    expect(await alice.get('/status/503')).toBe(503);
    expect(await bob.get('/')).toBe(200);
    await refusedHandshake(serve.port, {});
    await refusedHandshake(serve.port, foreign);

    const m = await scrapeUntil(
      metricsUrl,
      (x) =>
        x.histogram('mtls_gateway_upstream_duration_seconds').count === 6 &&
        x.value('mtls_gateway_handshakes_total', { result: 'refused', reason: 'unknown_ca' }) === 1 &&
        x.value('mtls_gateway_connections') === 2,
    );
    const handshakes = m.series('mtls_gateway_handshakes_total');
    expect(handshakes).toMatchObject({
      'result=accepted': 2,
      'result=refused,reason=no_certificate': 1,
      'result=refused,reason=unknown_ca': 1,
    });
    // Every other refusal reason is present (so rate() starts from 0) and zero.
    const others = Object.entries(handshakes).filter(
      ([k]) => !/^result=accepted$|reason=(no_certificate|unknown_ca)$/.test(k),
    );
    expect(others.length).toBeGreaterThan(10);
    expect(others.every(([, v]) => v === 0)).toBe(true);

    expect(m.series('mtls_gateway_requests_total')).toEqual({
      'status_class=2xx,client=alice': 3,
      'status_class=4xx,client=alice': 1,
      'status_class=5xx,client=alice': 1,
      'status_class=2xx,client=bob': 1,
    });
    const latency = m.histogram('mtls_gateway_upstream_duration_seconds');
    expect(latency.buckets['+Inf']).toBe(6);
    expect(latency.sum).toBeGreaterThanOrEqual(0);
    expect(latency.sum).toBeLessThan(6 * 10);
    const counts = Object.entries(latency.buckets)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, n]) => n);
    expect(counts).toEqual([...counts].sort((a, b) => a - b)); // cumulative
    expect(m.value('mtls_gateway_connections')).toBe(2);
    expect(m.value('mtls_gateway_up')).toBe(1);

    // The server certificate was renewed at start by this process; nothing failed.
    expect(m.series('mtls_console_server_renewals_total')).toEqual({
      'result=renewed': 1,
      'result=failed': 0,
    });
    expect(m.value('mtls_console_server_renewal_failing')).toBe(0);
    expect(m.value('mtls_console_audit_writes_ok')).toBe(1);
    expect(m.value('mtls_console_audit_queue_records')).toBeGreaterThanOrEqual(0);

    // Expiries agree with what `status` reads from the same database.
    const status = await statusJson(env);
    const secondsTo = (iso: string | undefined) => (Date.parse(iso ?? '') - Date.now()) / 1000;
    const expiry = await scrapeUntil(
      metricsUrl,
      (x) => x.value('mtls_console_expiry_seconds', { object: 'crl' }) > 0,
    );
    expect(
      Math.abs(
        expiry.value('mtls_console_expiry_seconds', { object: 'ca' }) - secondsTo(status.ca?.notAfter),
      ),
    ).toBeLessThan(60);
    const server = expiry.value('mtls_console_expiry_seconds', { object: 'server_certificate' });
    expect(Math.abs(server - secondsTo(status.server?.notAfter))).toBeLessThan(60);
    expect(server).toBeGreaterThan(89 * 86_400); // the renewed certificate, not the 20-day-old one
    const crl = expiry.value('mtls_console_expiry_seconds', { object: 'crl' });
    expect(Math.abs(crl - secondsTo((await statusJson(env)).crl?.nextUpdate))).toBeLessThan(60);

    // A closed connection leaves the gauge; nothing in the scrape names a serial.
    bob.close();
    await scrapeUntil(metricsUrl, (x) => x.value('mtls_gateway_connections') === 1);
    const text = (await scrape(metricsUrl)).text;
    for (const c of Object.values(clients)) expect(text.toLowerCase()).not.toContain(c.serial.toLowerCase());
    alice.close();
  });

  it('is served as the Prometheus text format, and switched off at once by another process', async () => {
    const r = await scrape(metricsUrl);
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const off = await cli(env, ['distribution', '--metrics', 'off']);
    expect(off.code, off.stderr).toBe(0);
    expect((await scrape(metricsUrl)).status).toBe(404);
    expect((await cli(env, ['distribution', '--metrics', 'on'])).code).toBe(0);
    // The counts were kept while hidden: they belong to this process's life.
    const again = Metrics.parse((await scrape(metricsUrl)).text);
    expect(again.value('mtls_gateway_requests_total', { status_class: '2xx', client: 'alice' })).toBe(3);
  });
});

describe('metrics are off by default and stay on loopback', () => {
  let env: Env;
  let upstream: Awaited<ReturnType<typeof statusUpstream>>;

  beforeAll(async () => {
    env = await makeEnv('mtls-metrics-off-');
    await initCa(env);
    upstream = await statusUpstream();
  });

  afterAll(async () => {
    await upstream?.close();
    await removeEnv(env);
  });

  it('serves no /metrics until switched on: no listener for metrics, 404 on the CRL listener', async () => {
    const shown = await cli(env, ['distribution', '--json']);
    expect(JSON.parse(shown.stdout)).toEqual({ url: null, listen: null, metrics: false });
    const port = await freePort();
    const serve = await startServe(env, upstream.url, ['--distribution-listen', `127.0.0.1:${port}`]);
    try {
      expect(serve.output()).not.toContain('serving metrics');
      expect((await scrape(`http://127.0.0.1:${port}/crl`)).status).toBe(200);
      const r = await scrape(`http://127.0.0.1:${port}/metrics`);
      expect(r.status).toBe(404);
      expect(r.text).toContain('metrics are off');
    } finally {
      await stopServe(serve.child);
    }
  });

  it('refuses metrics on an address off loopback unless explicitly allowed, saving nothing', async () => {
    const remote = `0.0.0.0:${await freePort()}`;
    const both = await cli(env, ['distribution', '--listen', remote, '--metrics', 'on']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/not on loopback; pass --allow-remote-listen/);

    // The CRL listener moved off loopback by explicit choice: metrics still need their own.
    expect((await cli(env, ['distribution', '--listen', remote, '--allow-remote-listen'])).code).toBe(0);
    const later = await cli(env, ['distribution', '--metrics', 'on']);
    expect(later.code).toBe(2);
    expect(later.stderr).toMatch(/metrics on 0\.0\.0\.0:\d+ would be reachable from other hosts/);
    const viaServe = await cli(env, [
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      upstream.url,
      '--metrics',
      'on',
    ]);
    expect(viaServe.code).toBe(2);
    expect(viaServe.stdout).not.toContain('serving');
    expect(JSON.parse((await cli(env, ['distribution', '--json'])).stdout)).toMatchObject({ metrics: false });

    // Allowed explicitly: saved, with a warning.
    const allowed = await cli(env, ['distribution', '--metrics', 'on', '--allow-remote-listen']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/metrics are served to other hosts/);
    const audit = await cli(env, [
      'audit',
      '--json',
      '--type',
      'settings.distribution.changed',
      '--limit',
      '1',
    ]);
    expect(JSON.parse(audit.stdout).records[0].details).toEqual({
      changed: { metrics: { from: false, to: true } },
      allowRemoteListen: true,
    });
  });
});

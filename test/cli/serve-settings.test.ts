import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { cli, initCa, issue, makeEnv, removeEnv, startServe, type Env } from '../helpers/cli';
import { KeepAliveClient, startUpstream } from '../helpers/gateway-client';

describe('settings saved by another process apply to a running serve', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  it('a lower connection cap saved from the app refuses the next connection at once', async () => {
    const upstream = await startUpstream();
    const client = await issue(env, 'settings-client');
    const { child: serve, port } = await startServe(env, `http://127.0.0.1:${upstream.port}`);
    const vaults = createVaultResolver();
    vaults.setPassphrase('correct horse battery staple');
    const app = new ConsoleService({ stateDir: env.stateDir, vaults });
    try {
      const first = await KeepAliveClient.connect(port, client.files);
      expect(await first.get('/one')).toBe(200);
      const saved = await app.configureGateway({ maxConnectionsPerIdentity: 1 });
      expect(saved.maxConnectionsPerIdentity).toBe(1);
      // serve notices the commit (data_version poll) and sends the new limit to its gateway.
      let status = 200;
      const deadline = Date.now() + 5_000;
      while (status === 200 && Date.now() < deadline) {
        const c = await KeepAliveClient.connect(port, client.files);
        status = await Promise.race([c.get('/two'), c.closed.then(() => 0)]);
        c.close();
      }
      expect(status).toBe(429);
      expect(await first.get('/still')).toBe(200);
      first.close();
    } finally {
      serve.kill('SIGTERM');
      await app.close();
      await upstream.close();
    }
  });

  it('serve takes header settings; the app changes them and the next request of an open connection follows', async () => {
    const bad = await cli(env, ['serve', '--listen', '127.0.0.1:0', '--strip-headers', 'X Tenant']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--strip-headers');

    const upstream = await startUpstream();
    const client = await issue(env, 'header-client');
    const { child: serve, port } = await startServe(env, `http://127.0.0.1:${upstream.port}`, [
      '--strip-headers',
      'X-Tenant, X-Int-*',
      '--client-cert-header',
      'on',
      '--xfcc-cert',
      'on',
    ]);
    const vaults = createVaultResolver();
    vaults.setPassphrase('correct horse battery staple');
    const app = new ConsoleService({ stateDir: env.stateDir, vaults });
    try {
      const c = await KeepAliveClient.connect(port, client.files);
      expect(await c.get('/h1', 'X_Tenant: blue\r\nX-Int-Role: admin\r\n')).toBe(200);
      const h1 = upstream.requests.find((r) => r[':path'] === '/h1')!;
      expect(Object.keys(h1).filter((k) => /tenant|x-int/i.test(k))).toEqual([]);
      expect(String(h1['client-cert'])).toMatch(/^:[A-Za-z0-9+/=]+:$/);
      expect(String(h1['x-forwarded-client-cert'])).toContain(';Cert="-----BEGIN%20CERTIFICATE');

      await app.configureGateway({ stripHeaders: [], clientCertHeader: false, xfccCert: false });
      // serve notices the commit and hands the new settings to its gateway; same connection.
      let h: Record<string, unknown> | undefined;
      const deadline = Date.now() + 5_000;
      for (let i = 0; Date.now() < deadline; i++) {
        expect(await c.get(`/h2-${i}`, 'X-Tenant: blue\r\n')).toBe(200);
        h = upstream.requests.find((r) => r[':path'] === `/h2-${i}`);
        if (h?.['x-tenant'] === 'blue') break;
      }
      expect(h?.['x-tenant']).toBe('blue');
      expect(h?.['client-cert']).toBeUndefined();
      c.close();
    } finally {
      serve.kill('SIGTERM');
      await app.close();
      await upstream.close();
    }
  });
});

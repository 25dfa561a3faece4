import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { initCa, issue, makeEnv, removeEnv, startServe, type Env } from '../helpers/cli';
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
});

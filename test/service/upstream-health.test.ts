import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcher } from '../../src/main/gateway/harness.fixture';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import type { StatusInfo } from '../../src/shared/model';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { KeepAliveClient } from '../helpers/gateway-client';
import { freePort } from '../helpers/peers';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

/**
 * Issue 10: a dead upstream is visible. The status a running gateway reports carries the last
 * upstream error and the last minute's 5xx count, from the records that flowed through the gateway,
 * and says "down" until the upstream answers again.
 */
describe('upstream health in the status', () => {
  let env: Env;
  let service: ConsoleService;
  let upstreamPort: number;
  let upstream: http.Server | null = null;

  /** The next pushed status that satisfies `pred` (the service's own event, no polling). */
  function nextStatus(pred: (s: StatusInfo) => boolean): Promise<StatusInfo> {
    return new Promise((resolve) => {
      const off = service.on('status.changed', (s) => {
        if (pred(s)) {
          off();
          resolve(s);
        }
      });
    });
  }

  beforeAll(async () => {
    env = await makeEnv('mtls-upstream-health-');
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    service = new ConsoleService({ stateDir: env.stateDir, vaults, gatewayLauncher: launcher() });
    await initCa(service, 'Upstream Health CA', { hosts: ['localhost', '127.0.0.1'] });
    upstreamPort = await freePort();
  });
  afterAll(async () => {
    await service.close();
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
    await removeEnv(env);
  });

  it('shows the upstream down with its error while requests get 502, and up again once it answers', async () => {
    const dir = path.join(env.tmp, 'alice');
    const alice = await service.issueClient({ name: 'alice', durationMs: 30 * DAY_MS, outDir: dir });
    const state = await service.startGateway({
      listen: '127.0.0.1:0',
      upstream: `http://127.0.0.1:${upstreamPort}`,
    });
    if (state.kind !== 'running') throw new Error(`gateway ${state.kind}`);
    const fresh = await service.status();
    expect(fresh.upstreamHealth).toEqual({ lastError: null, requests: 0, errors5xx: 0, down: false });

    const client = await KeepAliveClient.connect(Number(state.listen.split(':').pop()), {
      cert: alice.files.cert,
      key: alice.files.key!,
      ca: alice.files.ca,
    });
    const down = nextStatus((s) => s.upstreamHealth?.down === true);
    expect(await client.get('/one')).toBe(502);
    expect(await client.get('/two')).toBe(502);
    const seen = (await down).upstreamHealth!;
    expect(seen.lastError?.message).toMatch(/ECONNREFUSED/);
    expect(seen.lastError?.status).toBe(502);
    expect(Date.parse(seen.lastError!.at)).toBeLessThanOrEqual(Date.now());
    expect(seen.errors5xx).toBeGreaterThanOrEqual(1);
    // The status read now counts both failed requests of the last minute.
    const now = (await service.status()).upstreamHealth!;
    expect(now).toMatchObject({ requests: 2, errors5xx: 2, down: true });

    upstream = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream!.listen(upstreamPort, '127.0.0.1', r));
    const up = nextStatus((s) => s.upstreamHealth?.down === false);
    expect(await client.get('/three')).toBe(200);
    const back = (await up).upstreamHealth!;
    // The last error stays on show (with its time); the rate is of the last minute.
    expect(back.lastError?.message).toMatch(/ECONNREFUSED/);
    expect(back).toMatchObject({ requests: 3, errors5xx: 2, down: false });
    client.close();
    await service.stopGateway();
  });
});

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcher } from '../../src/main/gateway/harness.fixture';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';

/** Issue 10: a taken listen address is reported in one line that says EADDRINUSE once, not three times. */
describe('a gateway that cannot listen', () => {
  let env: Env;
  let service: ConsoleService;
  const taken = net.createServer();

  beforeAll(async () => {
    env = await makeEnv('mtls-start-error-');
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    service = new ConsoleService({ stateDir: env.stateDir, vaults, gatewayLauncher: launcher() });
    await initCa(service, 'Start Error CA');
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await service.close();
    await new Promise<void>((r) => taken.close(() => r()));
    await removeEnv(env);
  });

  it('says EADDRINUSE once, on one line, and leaves the gateway stopped', async () => {
    const port = (taken.address() as net.AddressInfo).port;
    const failed = await service.startGateway({ listen: `127.0.0.1:${port}` }).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(failed?.code).toBe('GATEWAY');
    const message = failed?.message ?? '';
    expect(message).toMatch(
      new RegExp(`^the gateway did not start: cannot listen on 127\\.0\\.0\\.1:${port}: `),
    );
    expect(message.match(/EADDRINUSE/g)).toHaveLength(1);
    expect(message).not.toContain('\n');
    expect((await service.status()).gateway.state.kind).toBe('stopped');
  });
});

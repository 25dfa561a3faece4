import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcher } from '../../src/main/gateway/harness.fixture';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { describeAutoStart, startOnLaunch, type AutoStartOutcome } from '../../src/main/service/auto-start';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';

/**
 * Issue 10: the gateway starts when the app launches if the operator said so. What the app's entry
 * calls (startOnLaunch), run against the real service and a real gateway process, as a restarted
 * app would: a new service on the same state dir.
 */
describe('auto-start on launch', () => {
  let env: Env;
  const open: ConsoleService[] = [];

  /** A fresh service on the state dir, as after an app restart; `unlocked` holds the passphrase already. */
  function launch(unlocked: boolean): ConsoleService {
    const vaults = createVaultResolver();
    if (unlocked) vaults.setPassphrase(PASSPHRASE);
    const s = new ConsoleService({ stateDir: env.stateDir, vaults, gatewayLauncher: launcher() });
    open.push(s);
    return s;
  }

  beforeAll(async () => {
    env = await makeEnv('mtls-auto-start-');
    const first = launch(true);
    expect(await startOnLaunch(first)).toEqual({ kind: 'not-initialized' });
    await initCa(first, 'Auto Start CA', { gateway: { listen: '127.0.0.1:0' } });
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await removeEnv(env);
  });

  it('leaves the gateway stopped while the setting is off (the default)', async () => {
    const s = launch(true);
    expect(await startOnLaunch(s)).toEqual({ kind: 'off' });
    expect(s.connections()).toEqual([]);
    expect((await s.status()).gateway.state.kind).toBe('stopped');
    await s.close();
  });

  it('starts the gateway when the setting is on', async () => {
    const s = launch(true);
    await s.handle('settings.autoStart', { enabled: true });
    await s.close();
    const again = launch(true);
    const outcome = await startOnLaunch(again);
    expect(outcome.kind).toBe('started');
    expect((await again.status()).gateway.state.kind).toBe('running');
    expect(describeAutoStart(outcome)).toMatch(/^gateway started on launch \(127\.0\.0\.1:\d+\)$/);
    expect(await startOnLaunch(again)).toEqual({ kind: 'already-running' });
    await again.close();
  });

  it('waits for the unlock of a passphrase vault, then starts', async () => {
    const s = launch(false);
    const later = new Promise<AutoStartOutcome>((resolve) => {
      void startOnLaunch(s, resolve).then((first) => expect(first).toEqual({ kind: 'waiting-for-unlock' }));
    });
    expect((await s.status()).gateway.state.kind).toBe('stopped');
    await s.handle('vault.unlock', { passphrase: PASSPHRASE });
    const outcome = await later;
    expect(outcome.kind).toBe('started');
    expect((await s.status()).gateway.state.kind).toBe('running');
    await s.close();
  });
});

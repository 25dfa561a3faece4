import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { AttentionTracker, attentionItems } from '../../src/main/service/attention';
import type { StatusInfo } from '../../src/shared/model';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

/**
 * Issue 10, native notifications: what needs the operator, read from the real status of a state dir
 * whose clock the test moves (the server certificate, the CRL and a failed automatic renewal), each
 * announced once while it holds.
 */
describe('what needs attention', () => {
  let env: Env;
  let shift = 0;
  let service: ConsoleService;
  const now = () => new Date(Date.now() + shift);

  beforeAll(async () => {
    env = await makeEnv('mtls-attention-');
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    const setup = new ConsoleService({ stateDir: env.stateDir, vaults, now });
    await initCa(setup, 'Attention CA', { serverDays: 30 });
    await setup.close();
    // A locked vault: the automatic renewal cannot sign, so it fails.
    service = new ConsoleService({ stateDir: env.stateDir, vaults: createVaultResolver(), now });
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('needs nothing for a fresh state dir', async () => {
    const tracker = new AttentionTracker();
    expect(tracker.update(await service.status(), now())).toEqual({ fresh: [], count: 0 });
  });

  it('announces a CRL running out, an overdue server certificate and a failed renewal once each', async () => {
    const tracker = new AttentionTracker();
    shift = 6 * DAY_MS; // the 7-day CRL has under a third of its validity left
    const crl = tracker.update(await service.status(), now());
    expect(crl.fresh.map((i) => i.subject)).toEqual(['crl']);
    expect(crl.fresh[0]?.title).toBe('The published CRL runs out soon');
    expect(crl.count).toBe(1);
    expect(tracker.update(await service.status(), now()).fresh).toEqual([]);

    shift = 28 * DAY_MS; // past 90 % of the server certificate's 30 days
    const outcome = await service.checkServerRenewal();
    expect(outcome).toMatchObject({ kind: 'failed' });
    const status = await service.status();
    expect(status.serverRenewalFailure?.code).toBe('VAULT_LOCKED');
    const later = tracker.update(status, now());
    expect(later.fresh.map((i) => i.subject).sort()).toEqual(['crl', 'renewal', 'server']);
    expect(later.fresh.find((i) => i.subject === 'server')?.title).toBe(
      'The server certificate was not renewed',
    );
    expect(later.fresh.find((i) => i.subject === 'crl')?.title).toBe('The published CRL has expired');
    expect(later.count).toBe(3);
    // Once each: the same conditions again announce nothing, and the badge still counts them.
    expect(tracker.update(await service.status(), now())).toEqual({ fresh: [], count: 3 });
  });

  it('announces a gateway that stopped unexpectedly once per crash', async () => {
    const tracker = new AttentionTracker();
    shift = 0;
    // The renewal that failed above is still on record; this test is about the gateway alone.
    const ok: StatusInfo = { ...(await service.status()), serverRenewalFailure: null };
    const crashed: StatusInfo = {
      ...ok,
      gateway: {
        ...ok.gateway,
        state: { kind: 'crashed', message: 'the gateway exited with code 1', lastLines: [] },
      },
    };
    expect(attentionItems(ok, now())).toEqual([]);
    expect(tracker.update(crashed, now()).fresh.map((i) => [i.title, i.body])).toEqual([
      ['The gateway stopped unexpectedly', 'the gateway exited with code 1'],
    ]);
    expect(tracker.update(crashed, now()).fresh).toEqual([]);
    expect(tracker.update(ok, now())).toEqual({ fresh: [], count: 0 });
    expect(tracker.update(crashed, now()).fresh).toHaveLength(1);
  });
});

import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ForkLauncher } from '../../src/main/gateway';
import { StateDb } from '../../src/main/db';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { renewServer } from '../../src/main/service/ca-ops';
import type { AuditRecord, StatusInfo } from '../../src/shared/model';
import { makeEnv, REPO, removeEnv, type Env } from '../helpers/cli';
import { KeepAliveClient, servedFingerprint, startUpstream } from '../helpers/gateway-client';
import { initCa, PASSPHRASE, unlockedVaults } from '../helpers/service';

const DAY_MS = 86_400_000;
const GATEWAY_JS = path.join(REPO, 'out', 'main', 'gateway.js');

/** A clock the test moves: the service sees Date.now() + shift. */
function movableClock(shiftMs: number): {
  now: () => Date;
  set: (ms: number) => void;
  add: (ms: number) => void;
} {
  let shift = shiftMs;
  return {
    now: () => new Date(Date.now() + shift),
    set: (ms) => (shift = ms),
    add: (ms) => (shift += ms),
  };
}

async function initAt(env: Env, now: () => Date, serverDays = 90): Promise<void> {
  const setup = new ConsoleService({ stateDir: env.stateDir, vaults: unlockedVaults(), now });
  await initCa(setup, 'Renewal CA', { hosts: ['localhost', '127.0.0.1'], serverDays });
  await setup.close();
}

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

/** Fails with `what` instead of hanging when `p` does not settle in time. */
function within<T>(ms: number, what: string | (() => string), p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    const say = () => (typeof what === 'string' ? what : what());
    timer = setTimeout(() => reject(new Error(`${say()}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Colon hex (what a TLS peer reports) as our lowercase plain hex. */
const plainHex = (fp: string) => fp.replace(/:/g, '').toLowerCase();

describe('automatic server certificate renewal', () => {
  const envs: Env[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    await fs.access(GATEWAY_JS); // `npm run build` first: the gateway runs as its own process
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    for (const e of envs) await removeEnv(e);
  });
  async function env(): Promise<Env> {
    const e = await makeEnv('mtls-renewal-');
    envs.push(e);
    return e;
  }

  it('renews at 2/3 of the lifetime, hot: a live connection keeps working, new handshakes get the new certificate', async () => {
    const e = await env();
    // Created 61 days ago with a 90-day server certificate: renewal falls due 60 days in, i.e. now.
    const clock = movableClock(-61 * DAY_MS);
    await initAt(e, clock.now);
    const service = new ConsoleService({
      stateDir: e.stateDir,
      vaults: unlockedVaults(),
      now: clock.now,
      gatewayLauncher: new ForkLauncher(GATEWAY_JS),
    });
    closers.push(() => service.close());
    const alice = await service.issueClient({
      name: 'alice',
      durationMs: 365 * DAY_MS,
      outDir: path.join(e.tmp, 'alice'),
    });
    const upstream = await startUpstream();
    closers.push(() => upstream.close());

    // Not due yet on the service's clock (an hour after issuance), so starting changes nothing.
    clock.set(-61 * DAY_MS + 3_600_000);
    const before = await service.status();
    expect(before.server?.renewal).toBe('ok');
    const gw = await service.startGateway({
      listen: '127.0.0.1:0',
      upstream: `http://127.0.0.1:${upstream.port}`,
    });
    if (gw.kind !== 'running') throw new Error(`gateway ${gw.kind}`);
    const port = Number(gw.listen.slice(gw.listen.lastIndexOf(':') + 1));
    expect(plainHex(await servedFingerprint(port, alice.files))).toBe(before.server?.fingerprintSha256);
    const live = await KeepAliveClient.connect(port, alice.files);
    expect(await live.get('/before')).toBe(200);
    let liveClosed = false;
    void live.closed.then(() => (liveClosed = true));

    const log: string[] = [];
    const rotated = nextRecord(service, 'server.rotated');
    closers.push(service.startUpkeep((m) => log.push(m), 100));
    expect((await service.status()).serverRenewalFailure).toBeNull();

    // Load through the renewal: clients making fresh handshakes and requests the whole time.
    let loading = true;
    const statuses: number[] = [];
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      // Bounded: stops at the first failure, or when told, or after 2,000 requests.
      for (let i = 0; loading && failures.length === 0 && i < 2_000; i++) {
        // A dropped connection or request counts as a failure instead of hanging the test.
        try {
          const c = await within(10_000, 'load handshake', KeepAliveClient.connect(port, alice.files));
          statuses.push(
            await within(10_000, 'load request', Promise.race([c.get('/load'), c.closed.then(() => 0)])),
          );
          c.close();
          await c.closed;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const load = Promise.all([worker(), worker(), worker()]);
    closers.push(() => {
      loading = false;
      return load.then(() => undefined);
    });

    // Time moves on past 2/3 of the lifetime: the upkeep timer renews without being asked.
    clock.set(0);
    const record = await within(20_000, () => `renewal (log: ${log.join(' | ')})`, rotated);
    expect(record.actor).toEqual({ kind: 'system' });
    expect(record.details).toMatchObject({
      reason: 'auto_renewal',
      previousSerial: before.server?.serial,
      hosts: ['localhost', '127.0.0.1'],
    });
    const after = await service.status();
    expect(after.server?.serial).toBe(record.details['serial']);
    expect(after.server?.renewal).toBe('ok');
    expect(after.server?.sans).toEqual(before.server?.sans);
    // Same lifetime as the certificate it replaces.
    const lifetime = (s: StatusInfo['server']) =>
      Date.parse(s?.notAfter ?? '') - Date.parse(s?.notBefore ?? '');
    expect(lifetime(after.server)).toBe(lifetime(before.server));
    expect(log.some((l) => /renewed automatically \(due\)/.test(l))).toBe(true);

    // The gateway took the new pair hot: new handshakes see it (bounded wait), the old connection lives on.
    const wanted = after.server?.fingerprintSha256;
    let served = '';
    for (let i = 0; i < 50 && served !== wanted; i++)
      served = plainHex(await within(10_000, 'probe handshake', servedFingerprint(port, alice.files)));
    expect(served).toBe(wanted);
    expect(
      await within(10_000, 'live request', Promise.race([live.get('/after'), live.closed.then(() => 0)])),
    ).toBe(200);
    expect(liveClosed).toBe(false);
    loading = false;
    await load;
    expect(statuses.length).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    expect(statuses.filter((x) => x !== 200)).toEqual([]);
    // What new clients are served is the certificate in the state dir's server.crt.
    // (written after the commit: bounded wait)
    const onDisk = async () =>
      plainHex(
        new crypto.X509Certificate(await fs.readFile(service.paths.serverCert, 'utf8')).fingerprint256,
      );
    let file = await onDisk();
    for (let i = 0; i < 50 && file !== wanted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      file = await onDisk();
    }
    expect(file).toBe(wanted);
    live.close();

    // One renewal, not one per timer tick.
    const page = await service.auditQuery({ filter: { type: 'server.rotated' } });
    expect(page.total).toBe(1);
    expect((await service.auditVerify()).ok).toBe(true);
  });

  it('decides inside the write transaction: two processes on one state dir renew once', async () => {
    const e = await env();
    const clock = movableClock(-70 * DAY_MS);
    await initAt(e, clock.now);
    clock.set(0);
    // Two services with their own database connections, as the app and `serve` would be.
    const a = new ConsoleService({ stateDir: e.stateDir, vaults: unlockedVaults(), now: clock.now });
    const b = new ConsoleService({ stateDir: e.stateDir, vaults: unlockedVaults(), now: clock.now });
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const original = (await a.status()).server?.serial ?? '';
    expect((await a.status()).server?.renewal).toBe('due');

    const outcomes = (await Promise.all([a.checkServerRenewal(), b.checkServerRenewal()])).map((o) => o.kind);
    expect(outcomes.filter((k) => k === 'renewed')).toHaveLength(1);
    expect(outcomes.filter((k) => k !== 'renewed')[0]).toMatch(/^(renewed-elsewhere|not-due)$/);
    expect((await a.auditQuery({ filter: { type: 'server.rotated' } })).total).toBe(1);

    // The decision itself: a renewal of a certificate that is no longer current installs nothing.
    const ctx = {
      stateDir: e.stateDir,
      vaults: unlockedVaults(),
      operator: 'test',
      now: clock.now,
      state: (() => {
        let db: StateDb | null = null;
        closers.push(() => db?.close());
        return () => (db ??= StateDb.openExisting(e.stateDir));
      })(),
    };
    const stale = await renewServer(ctx, { replaces: original, hosts: ['localhost'], days: 90 });
    expect(stale).toBeNull();
    expect((await b.auditQuery({ filter: { type: 'server.rotated' } })).total).toBe(1);
    expect((await b.status()).server?.renewal).toBe('ok');
  });

  it('reports a failure (CA key locked) in the status of every process, audits it, retries with backoff, and renews once unlocked', async () => {
    const e = await env();
    const clock = movableClock(-80 * DAY_MS);
    await initAt(e, clock.now);
    clock.set(0);
    // The app at start: a passphrase vault nobody has unlocked yet.
    const app = new ConsoleService({
      stateDir: e.stateDir,
      vaults: createVaultResolver(),
      now: clock.now,
      renewal: { retryBaseMs: 60_000, retryMaxMs: 200_000 },
    });
    // Another process on the state dir (a CLI `status`): it reads what the app recorded.
    const other = new ConsoleService({ stateDir: e.stateDir, vaults: unlockedVaults(), now: clock.now });
    closers.push(
      () => app.close(),
      () => other.close(),
    );
    const serial = (await other.status()).server?.serial;

    const log: string[] = [];
    const firstFailure = nextRecord(app, 'server.renewal.failed');
    closers.push(app.startUpkeep((m) => log.push(m), 50));
    const first = await firstFailure;
    expect(first.actor).toEqual({ kind: 'system' });
    expect(first.details).toMatchObject({ serial, code: 'VAULT_LOCKED', attempts: 1 });

    const shown = (await other.status()).serverRenewalFailure;
    expect(shown).toMatchObject({ code: 'VAULT_LOCKED', serial, attempts: 1 });
    expect(Date.parse(shown?.nextAttemptAt ?? '') - Date.parse(shown?.lastFailedAt ?? '')).toBe(60_000);
    expect((await app.status()).serverRenewalFailure).toEqual(shown);
    expect(log.some((l) => /renewal FAILED \(attempt 1/.test(l))).toBe(true);

    // The timer keeps checking but holds off until the backoff is over…
    // The app's banner hears of each failure through the status event.
    const bannerSees3 = new Promise<StatusInfo>((resolve) => {
      const off = app.on('status.changed', (s) => {
        if (s.serverRenewalFailure?.attempts !== 3) return;
        off();
        resolve(s);
      });
    });
    expect((await app.checkServerRenewal()).kind).toBe('backing-off');
    // …then retries on its own: 1 min, 2 min, then capped (here at 200 s; 1 h by default).
    const delays: number[] = [];
    for (const attempt of [2, 3]) {
      const next = nextRecord(app, 'server.renewal.failed');
      clock.add(61_000 * 2 ** (attempt - 2) + 1_000);
      const r = await next;
      expect(r.details['attempts']).toBe(attempt);
      const f = (await other.status()).serverRenewalFailure;
      delays.push(Date.parse(f?.nextAttemptAt ?? '') - Date.parse(f?.lastFailedAt ?? ''));
      expect(f?.firstFailedAt).toBe(shown?.firstFailedAt);
    }
    expect(delays).toEqual([120_000, 200_000]);
    expect((await bannerSees3).serverRenewalFailure?.code).toBe('VAULT_LOCKED');

    // Unlocking retries at once, whatever the backoff; the renewal clears the failure everywhere.
    const rotated = nextRecord(app, 'server.rotated');
    await app.handle('vault.unlock', { passphrase: PASSPHRASE });
    const record = await rotated;
    expect(record.details).toMatchObject({ reason: 'auto_renewal', previousSerial: serial });
    expect((await app.status()).serverRenewalFailure).toBeNull();
    expect((await other.status()).serverRenewalFailure).toBeNull();
    expect((await other.status()).server?.renewal).toBe('ok');
    expect((await other.auditVerify()).ok).toBe(true);
  });
});

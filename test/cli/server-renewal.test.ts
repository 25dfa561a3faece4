import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import type { IssueResult, StatusInfo } from '../../src/shared/model';
import { cli, makeEnv, removeEnv, run, startServe, type Env } from '../helpers/cli';
import { servedFingerprint, startUpstream } from '../helpers/gateway-client';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

/**
 * A state dir made `daysAgo` days ago (the service run with a shifted clock), so `serve`, on the real
 * clock, starts with a server certificate that is as old as the test needs, with clients issued then.
 */
async function stateMadeDaysAgo(
  env: Env,
  daysAgo: number,
  clients: Readonly<Record<string, number>> = {},
): Promise<Record<string, IssueResult>> {
  const vaults = createVaultResolver();
  vaults.setPassphrase(PASSPHRASE);
  const then = () => new Date(Date.now() - daysAgo * DAY_MS);
  const setup = new ConsoleService({ stateDir: env.stateDir, vaults, now: then });
  try {
    await setup.init({
      algorithm: 'ecdsa-p256',
      caName: 'Renewal CA',
      hosts: ['localhost', '127.0.0.1'],
      serverDays: 90,
      vault: { backend: 'passphrase', passphrase: PASSPHRASE },
    });
    const issued: Record<string, IssueResult> = {};
    for (const [name, days] of Object.entries(clients)) {
      issued[name] = await setup.issueClient({
        name,
        durationMs: days * DAY_MS,
        outDir: path.join(env.tmp, name),
      });
    }
    return issued;
  } finally {
    await setup.close();
  }
}

async function statusJson(env: Env): Promise<StatusInfo> {
  const r = await cli(env, ['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusInfo;
}

async function auditOf(env: Env, type: string) {
  const r = await cli(env, ['audit', '--json', '--type', type, '--limit', '100']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { records: { actor: unknown; details: Record<string, unknown> }[] })
    .records;
}

const plainHex = (fp: string) => fp.replace(/:/g, '').toLowerCase();
const fileFingerprint = async (file: string) =>
  plainHex(new crypto.X509Certificate(await fs.readFile(file, 'utf8')).fingerprint256);

describe('serve renews the server certificate by itself', () => {
  const envs: Env[] = [];
  const stops: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });
  afterAll(async () => {
    for (const e of envs) await removeEnv(e);
  });
  async function env(): Promise<Env> {
    const e = await makeEnv('mtls-cli-renewal-');
    envs.push(e);
    return e;
  }
  async function upstream(): Promise<string> {
    const u = await startUpstream();
    stops.push(() => u.close());
    return `http://127.0.0.1:${u.port}`;
  }
  async function serve(e: Env, up: string) {
    const s = await startServe(e, up);
    stops.push(async () => {
      if (s.child.exitCode !== null) return;
      const exited = new Promise((resolve) => s.child.once('exit', resolve));
      s.child.kill('SIGTERM');
      await exited;
    });
    return s;
  }

  it('list and status judge each certificate by its own lifetime (renewal column)', async () => {
    const e = await env();
    // 100 days ago: a 365-day client is 27 % through, 120-day 83 %, 105-day 95 %, 90-day past.
    await stateMadeDaysAgo(e, 100, { alice: 365, bob: 120, carol: 105, dave: 90 });
    const text = await cli(e, ['list']);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SERIAL\s+NAME\s+NOT AFTER\s+STATUS\s+RENEWAL$/);
    const renewalOf = (name: string) => lines.find((l) => l.split(/\s{2,}/)[1] === name)?.split(/\s{2,}/)[4];
    expect(['alice', 'bob', 'carol', 'dave'].map(renewalOf)).toEqual(['ok', 'due', 'overdue', 'expired']);
    const json = JSON.parse((await cli(e, ['list', '--json'])).stdout) as { name: string; renewal: string }[];
    expect(Object.fromEntries(json.map((c) => [c.name, c.renewal]))).toEqual({
      alice: 'ok',
      bob: 'due',
      carol: 'overdue',
      dave: 'expired',
    });
    // A revoked certificate has nothing to renew.
    const bob = json.find((c) => c.name === 'bob') as { serial?: string } | undefined;
    expect((await cli(e, ['revoke', '--serial', bob?.serial ?? ''])).code).toBe(0);
    const revoked = (
      JSON.parse((await cli(e, ['list', '--json'])).stdout) as { name: string; renewal: unknown }[]
    ).find((c) => c.name === 'bob');
    expect(revoked?.renewal).toBeNull();

    // The 90-day server certificate from 100 days ago, and the 10-year CA, in status.
    const s = await statusJson(e);
    expect(s.server?.renewal).toBe('expired');
    expect(s.ca?.renewal).toBe('ok');
    const status = await cli(e, ['status']);
    expect(status.stdout).toMatch(
      /days left, renewal EXPIRED\)\n +renewed automatically while serve or the app runs; or now: mtls-console rotate-server/,
    );
    expect(status.stdout).toMatch(/CA: .*renewal ok\)/);
  });

  it('renews an expired server certificate at start, before the first handshake, and audits it', async () => {
    const e = await env();
    const { alice } = await stateMadeDaysAgo(e, 100, { alice: 365 });
    if (!alice) throw new Error('no client');
    const old = await statusJson(e);
    expect(old.server?.renewal).toBe('expired');

    const s = await serve(e, await upstream());
    const now = await statusJson(e);
    expect(now.server?.serial).not.toBe(old.server?.serial);
    expect(now.server?.renewal).toBe('ok');
    expect(now.server?.sans).toEqual(old.server?.sans);
    expect(now.serverRenewalFailure).toBeNull();
    // The very first handshake already gets the new certificate; curl, an independent client, agrees.
    expect(plainHex(await servedFingerprint(s.port, alice.files))).toBe(now.server?.fingerprintSha256);
    expect(await fileFingerprint(path.join(e.stateDir, 'server.crt'))).toBe(now.server?.fingerprintSha256);
    const curl = await run('curl', [
      '-sS',
      '--cacert',
      alice.files.ca,
      '--cert',
      alice.files.cert,
      '--key',
      alice.files.key,
      `https://localhost:${s.port}/after-renewal`,
    ]);
    expect(curl.stdout, curl.stderr).toBe('ok');

    const records = await auditOf(e, 'server.rotated');
    expect(records).toHaveLength(1);
    expect(records[0]?.actor).toEqual({ kind: 'system' });
    expect(records[0]?.details).toMatchObject({
      reason: 'auto_renewal',
      previousSerial: old.server?.serial,
      serial: now.server?.serial,
    });
    expect(s.output()).toMatch(/server certificate renewed automatically \(expired\)/);
  });

  it('two serve processes starting together on a due certificate renew it once', async () => {
    const e = await env();
    const { alice } = await stateMadeDaysAgo(e, 70, { alice: 365 });
    if (!alice) throw new Error('no client');
    expect((await statusJson(e)).server?.renewal).toBe('due');
    const up = await upstream();
    const [one, two] = await Promise.all([serve(e, up), serve(e, up)]);
    expect(await auditOf(e, 'server.rotated')).toHaveLength(1);
    const wanted = (await statusJson(e)).server?.fingerprintSha256;
    for (const port of [one.port, two.port]) {
      let served = '';
      for (let i = 0; i < 50 && served !== wanted; i++)
        served = plainHex(await servedFingerprint(port, alice.files));
      expect(served).toBe(wanted);
    }
  });

  it('reports a renewal it cannot do (CA expired) loudly in serve’s log, in status and in the audit log, and retries', async () => {
    const e = await env();
    // A CA made 10 years and a day ago has expired: it can sign no new server certificate.
    await stateMadeDaysAgo(e, 3651);
    const up = await upstream();
    const first = await serve(e, up);
    expect(first.output()).toMatch(
      /server certificate renewal FAILED \(attempt 1, certificate [0-9a-f]+\): the CA certificate expired/,
    );

    const text = await cli(e, ['status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /renewal: +FAILING: the server certificate could not be renewed automatically \(1 attempt since /,
    );
    expect(text.stdout).toMatch(/next attempt at .*mtls-console rotate-server/);
    const s1 = await statusJson(e);
    expect(s1.serverRenewalFailure).toMatchObject({
      code: 'CA_EXPIRED',
      attempts: 1,
      serial: s1.server?.serial,
    });
    const failed = await auditOf(e, 'server.renewal.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.actor).toEqual({ kind: 'system' });

    // A process that starts tries again at once, and the count goes on from what the last one recorded.
    await stops.pop()?.();
    const second = await serve(e, up);
    expect(second.output()).toMatch(/renewal FAILED \(attempt 2,/);
    const s2 = await statusJson(e);
    expect(s2.serverRenewalFailure).toMatchObject({
      code: 'CA_EXPIRED',
      attempts: 2,
      firstFailedAt: s1.serverRenewalFailure?.firstFailedAt,
    });
    expect(await auditOf(e, 'server.renewal.failed')).toHaveLength(2);
    expect((await cli(e, ['audit', '--verify'])).code).toBe(0);
  });
});

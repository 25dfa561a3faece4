import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import type { StatusInfo } from '../../src/shared/model';
import { ForkLauncher } from '../../src/main/gateway';
import { cli, initCa, issue, makeEnv, REPO, removeEnv, snapshot, type Env } from '../helpers/cli';
import { KeepAliveClient, startUpstream } from '../helpers/gateway-client';

/** A small tmpfs holds the state dir, so the test can fill the disk under every operation. */
function mountSmallDisk(dir: string, size: string): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `cannot mount a tmpfs here: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Fills the disk to the last byte with one file; returns a function that frees it again. */
async function fillDisk(dir: string): Promise<() => Promise<void>> {
  const filler = path.join(dir, 'filler');
  const h = await fs.open(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) await h.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  // The last bytes a partial chunk could not take.
  try {
    for (;;) await h.write(Buffer.alloc(512));
  } catch {
    // full
  } finally {
    await h.close();
  }
  return () => fs.rm(filler);
}

const oneLine = (stderr: string) => stderr.trim().split('\n');

describe('a full disk under every operation', () => {
  let env: Env;
  let mount: string;
  let skip: string | null = null;
  beforeAll(async () => {
    env = await makeEnv('mtls-enospc-');
    mount = path.join(env.tmp, 'disk');
    await fs.mkdir(mount);
    skip = mountSmallDisk(mount, '3m');
    if (skip) return;
    env = { ...env, stateDir: path.join(mount, 'state') };
    await initCa(env);
  });
  afterAll(async () => {
    if (!skip) execFileSync('umount', ['-l', mount]);
    await removeEnv(env);
  });

  it('refuses issue, revoke, rotate and CRL refresh with a clear error, changes nothing, and recovers', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const kept = await issue(env, 'before-full');
    const out = path.join(env.tmp, 'bundles');
    // SQLite's own -wal/-shm companions may be left (empty) by a process that could not clean up.
    const state = async () =>
      Object.fromEntries(
        Object.entries(await snapshot(env.stateDir)).filter(([f]) => !/-(wal|shm)$/.test(f)),
      );
    const free = await fillDisk(mount);
    const before = await state();
    const attempts: string[][] = [
      ['issue-client', '--name', 'during-full', '--out-dir', out],
      ['revoke', '--serial', kept.serial],
      ['rotate-server'],
      ['crl', '--refresh'],
    ];
    try {
      for (const args of attempts) {
        const r = await cli(env, args);
        expect({ args, code: r.code }).toEqual({ args, code: 1 });
        expect(oneLine(r.stderr), r.stderr).toHaveLength(1);
        expect(r.stderr).toMatch(/disk full/);
      }
      expect(await state()).toEqual(before);
      // The refused issuance left no bundle file behind, staged or final.
      expect(await fs.readdir(out).catch(() => [])).toEqual([]);
    } finally {
      await free();
    }
    for (const args of attempts) {
      const r = await cli(env, args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({
        args,
        code: 0,
        stderr: args[0] === 'crl' ? expect.any(String) : '',
      });
    }
    const list = JSON.parse((await cli(env, ['list', '--json'])).stdout) as {
      name: string;
      status: string;
    }[];
    expect(list.map((c) => [c.name, c.status])).toEqual([
      ['before-full', 'revoked'],
      ['during-full', 'active'],
    ]);
    expect((await cli(env, ['audit', '--verify'])).code).toBe(0);
  });

  it('stops the gateway taking requests while its records cannot be written, and loses none', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const client = await issue(env, 'gw-client');
    const upstream = await startUpstream();
    const vaults = createVaultResolver();
    vaults.setPassphrase('correct horse battery staple');
    const service = new ConsoleService({
      stateDir: env.stateDir,
      vaults,
      gatewayLauncher: new ForkLauncher(path.join(REPO, 'out', 'main', 'gateway.js')),
    });
    let free: (() => Promise<void>) | null = null;
    try {
      const state = await service.startGateway({
        listen: '127.0.0.1:0',
        upstream: `http://127.0.0.1:${upstream.port}`,
      });
      if (state.kind !== 'running') throw new Error(`gateway ${state.kind}`);
      const port = Number(state.listen.slice(state.listen.lastIndexOf(':') + 1));
      const live = await KeepAliveClient.connect(port, client.files);
      expect(await live.get('/before')).toBe(200);

      free = await fillDisk(mount);
      const failing = new Promise<StatusInfo>((resolve) => {
        const off = service.on('status.changed', (s) => {
          if (!s.auditWrites.ok) {
            off();
            resolve(s);
          }
        });
      });
      // Requests keep arriving until the failed write is noticed; then the gateway answers 503.
      let status = 200;
      const deadline = Date.now() + 10_000;
      while (status === 200 && Date.now() < deadline) status = await live.get('/during');
      expect(status).toBe(503);
      expect((await failing).auditWrites.message).toMatch(/cannot be written/);
      const reached = upstream.requests.length;
      // A new connection is refused after the handshake with a 503 that says why, and nothing reaches the upstream.
      const fresh = await KeepAliveClient.connect(port, client.files).catch(() => null);
      if (fresh)
        expect([0, 503]).toContain(await Promise.race([fresh.get('/new'), fresh.closed.then(() => 0)]));
      expect(upstream.requests.length).toBe(reached);

      const healthy = new Promise<void>((resolve) => {
        const off = service.on('status.changed', (s) => {
          if (s.auditWrites.ok) {
            off();
            resolve();
          }
        });
      });
      await free();
      free = null;
      await healthy;
      const again = await KeepAliveClient.connect(port, client.files);
      expect(await again.get('/after')).toBe(200);
      again.close();
      live.close();
      await service.stopGateway();

      // Every request that reached the upstream has its record, those during the outage included.
      const page = await service.auditQuery({
        filter: { type: 'gateway.request', serial: client.serial },
        limit: 1000,
      });
      const proxied = page.records.filter((r) => r.type === 'gateway.request');
      expect(proxied.length).toBe(upstream.requests.length);
      expect(page.records.some((r) => r.type === 'gateway.request.held')).toBe(true);
      expect((await service.auditVerify()).ok).toBe(true);
    } finally {
      await free?.();
      await service.close();
      await upstream.close();
    }
  });
});

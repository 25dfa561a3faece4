import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateDb } from '../../src/main/db';
import { ConsoleService, createVaultResolver, type VaultResolver } from '../../src/main/service';
import { defaultOperator, unsealCa, type OpContext } from '../../src/main/service/ca-ops';
import { DistributionHost } from '../../src/main/service/distribution';
import { makeEnv, openssl, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';
const DAY_MS = 86_400_000;

/** One HTTP exchange with the listener, as bytes. */
function request(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('the CRL and OCSP listener (DistributionHost)', () => {
  let env: Env;
  let vaults: VaultResolver;
  let state: StateDb;
  let ctx: OpContext;
  let host: DistributionHost;
  let port: number;
  let caFile: string;
  let alice: { serial: string; cert: string };
  const errors: string[] = [];

  beforeAll(async () => {
    env = await makeEnv('mtls-dist-');
    vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    const service = new ConsoleService({ stateDir: env.stateDir, vaults });
    await initCa(service, 'Distribution CA');
    const issued = await service.issueClient({
      name: 'alice',
      durationMs: DAY_MS,
      outDir: path.join(env.tmp, 'alice'),
    });
    alice = { serial: issued.serial, cert: issued.files.cert };
    caFile = issued.files.ca;
    await service.close();

    state = StateDb.openExisting(env.stateDir);
    ctx = {
      stateDir: env.stateDir,
      vaults,
      operator: defaultOperator(),
      now: () => new Date(),
      state: () => state,
    };
    host = new DistributionHost({
      state: () => state,
      unsealCa: () => unsealCa(ctx),
      now: () => new Date(),
      onError: (m) => errors.push(m),
    });
    const started = await host.start('127.0.0.1:0', 'http://127.0.0.1:1/pki');
    if (started.kind !== 'running') throw new Error('not running');
    port = Number(started.listen.split(':').pop());
  });

  afterAll(async () => {
    await host?.stop();
    state?.close();
    await removeEnv(env);
  });

  /** `openssl ocsp` against the listener; its stdout and stderr together. */
  async function ask(at: number): Promise<string> {
    const r = await openssl([
      'ocsp',
      '-issuer',
      caFile,
      '-cert',
      alice.cert,
      '-url',
      `http://127.0.0.1:${at}/ocsp`,
      '-CAfile',
      caFile,
    ]);
    return r.stdout + r.stderr;
  }

  it('answers GET requests (RFC 6960 A.1) with the base64 escaped or not, and under the URL base path', async () => {
    const reqFile = path.join(env.tmp, 'alice.req');
    expect(
      (await openssl(['ocsp', '-issuer', caFile, '-cert', alice.cert, '-no_nonce', '-reqout', reqFile])).code,
    ).toBe(0);
    const b64 = (await fs.readFile(reqFile)).toString('base64');
    for (const p of [
      `/ocsp/${encodeURIComponent(b64)}`,
      `/ocsp/${b64}`,
      `/pki/ocsp/${encodeURIComponent(b64)}`,
    ]) {
      const r = await request(port, { path: p });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/ocsp-response');
      const respFile = path.join(env.tmp, 'get.resp');
      await fs.writeFile(respFile, r.body);
      const checked = await openssl([
        'ocsp',
        '-respin',
        respFile,
        '-issuer',
        caFile,
        '-cert',
        alice.cert,
        '-CAfile',
        caFile,
        '-no_nonce',
      ]);
      expect(checked.stderr).toContain('Response verify OK');
      expect(checked.stdout).toContain(': good');
    }
  });

  it('serves the CRL from the database at /crl and under the base path, GET and HEAD', async () => {
    const crl = state.read(() => state.db.prepare('SELECT der FROM ca_crls WHERE ca_id = 1').get()) as {
      der: Uint8Array;
    };
    for (const p of ['/crl', '/pki/crl']) {
      const r = await request(port, { path: p });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/pkix-crl');
      expect(r.body.equals(Buffer.from(crl.der))).toBe(true);
    }
    const head = await request(port, { method: 'HEAD', path: '/crl' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(crl.der.length);
    expect(head.body.length).toBe(0);
  });

  it('refuses what is not an OCSP or CRL request with an HTTP status, and garbage with malformedRequest', async () => {
    expect((await request(port, { path: '/metrics' })).status).toBe(404);
    expect((await request(port, { method: 'POST', path: '/crl' })).status).toBe(405);
    expect((await request(port, { path: '/ocsp' })).status).toBe(405);
    expect(
      (
        await request(port, {
          method: 'POST',
          path: '/ocsp',
          headers: { 'content-type': 'text/plain' },
          body: Buffer.from('x'),
        })
      ).status,
    ).toBe(415);
    const big = await request(port, {
      method: 'POST',
      path: '/ocsp',
      headers: { 'content-type': 'application/ocsp-request' },
      body: Buffer.alloc(17 * 1024),
    });
    expect(big.status).toBe(413);
    const garbage = await request(port, { path: '/ocsp/not*base64' });
    const file = path.join(env.tmp, 'garbage.resp');
    await fs.writeFile(file, garbage.body);
    const text = await openssl(['ocsp', '-respin', file, '-resp_text', '-noverify']);
    expect(text.stdout + text.stderr).toMatch(/malformedrequest \(1\)/i);
  });

  it('renews its responder certificate at 2/3 of its life, audited; answers tryLater rather than sign with an expired one', async () => {
    // A listener started 21 days ago: its 30-day responder certificate is past 2/3 of its life now.
    let skew = -21 * DAY_MS;
    const aged = new DistributionHost({
      state: () => state,
      unsealCa: () => unsealCa(ctx),
      now: () => new Date(Date.now() + skew),
      onError: (m) => errors.push(m),
    });
    const before = await aged.start('127.0.0.1:0', null);
    if (before.kind !== 'running') throw new Error('not running');
    const agedPort = Number(before.listen.split(':').pop());
    const issued = () =>
      state.db
        .prepare("SELECT details FROM audit WHERE type = 'ocsp.responder.issued' ORDER BY seq DESC LIMIT 1")
        .all()
        .map((r) => JSON.parse((r as { details: string }).details) as Record<string, unknown>)[0];
    try {
      await aged.upkeep(); // not due yet, 21 days ago
      expect(aged.state()).toEqual(before);

      skew = 0;
      await aged.upkeep();
      const after = aged.state();
      if (after.kind !== 'running') throw new Error('not running');
      expect(after.responder.serial).not.toBe(before.responder.serial);
      expect(Date.parse(after.responder.notAfter) - Date.now()).toBeGreaterThan(29 * DAY_MS);
      expect(issued()).toMatchObject({
        serial: after.responder.serial,
        why: 'renewal',
        previousSerial: before.responder.serial,
      });
      const renewed = await ask(agedPort);
      expect(renewed).toContain('Response verify OK');
      expect(renewed).toContain(': good');
      expect(errors).toEqual([]);

      // The CA key cannot be opened (a locked vault) and the certificate runs out meanwhile.
      vaults.clearPassphrase();
      skew = 31 * DAY_MS;
      await aged.upkeep();
      expect(errors.at(-1)).toMatch(/could not be renewed \(retrying\)/);
      expect(await ask(agedPort)).toMatch(/Responder Error: trylater \(3\)/);
      // The next check after the key is back renews it.
      vaults.setPassphrase(PASSPHRASE);
      await aged.upkeep();
      const again = aged.state();
      if (again.kind !== 'running') throw new Error('not running');
      expect(issued()).toMatchObject({
        serial: again.responder.serial,
        previousSerial: after.responder.serial,
      });
    } finally {
      await aged.stop();
    }
  });
});

describe('distribution settings', () => {
  let env: Env;
  let service: ConsoleService;
  beforeAll(async () => {
    env = await makeEnv('mtls-dist-settings-');
    const vaults = createVaultResolver();
    vaults.setPassphrase(PASSPHRASE);
    service = new ConsoleService({ stateDir: env.stateDir, vaults });
    await initCa(service, 'Settings CA');
  });
  afterAll(async () => {
    await service?.close();
    await removeEnv(env);
  });

  it('refuses a URL that is not plain http and a non-loopback listener without the explicit choice, saving nothing', async () => {
    const before = await service.auditQuery({ filter: { type: 'settings.distribution' } });
    await expect(service.configureDistribution({ url: 'https://ca.example.com' })).rejects.toThrow(
      /must be http:\/\//,
    );
    await expect(service.configureDistribution({ url: 'not a url' })).rejects.toThrow(/is not a URL/);
    await expect(service.configureDistribution({ url: 'http://ca.example.com/?x=1' })).rejects.toThrow(
      /no user, query/,
    );
    await expect(service.configureDistribution({ listen: '0.0.0.0:19822' })).rejects.toThrow(
      /reachable from other hosts/,
    );
    expect(await service.distributionSettings()).toEqual({ url: null, listen: null });
    expect((await service.auditQuery({ filter: { type: 'settings.distribution' } })).records).toEqual(
      before.records,
    );
  });

  it('normalises the URL, listens on loopback by default, and records each change', async () => {
    const saved = await service.configureDistribution({ url: 'http://CA.Example.com/pki/' });
    expect(saved).toMatchObject({
      url: 'http://ca.example.com/pki',
      listen: '127.0.0.1:19822',
      restartNeeded: false,
    });
    const remote = await service.configureDistribution(
      { listen: '0.0.0.0:19822' },
      { allowRemoteListen: true },
    );
    expect(remote.listen).toBe('0.0.0.0:19822');
    const off = await service.configureDistribution({ url: null });
    expect(off).toMatchObject({ url: null, listen: '0.0.0.0:19822' });
    const log = await service.auditQuery({ filter: { type: 'settings.distribution.changed' } });
    // Newest first, as the audit query pages.
    expect(log.records.map((r) => r.details['changed'])).toEqual([
      { url: { from: 'http://ca.example.com/pki', to: null } },
      { listen: { from: '127.0.0.1:19822', to: '0.0.0.0:19822' } },
      { url: { from: null, to: 'http://ca.example.com/pki' }, listen: { from: null, to: '127.0.0.1:19822' } },
    ]);
    expect(log.records[1]?.details['allowRemoteListen']).toBe(true);
  });
});

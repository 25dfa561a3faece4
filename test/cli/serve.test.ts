import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  initCa,
  issue,
  makeEnv,
  removeEnv,
  run,
  startServe,
  type Env,
  type IssueJson,
} from '../helpers/cli';
import { KeepAliveClient, servedFingerprint, startUpstream } from '../helpers/gateway-client';

function fingerprintOf(pem: string): string {
  return new crypto.X509Certificate(pem).fingerprint256;
}

describe('npx mtls-console serve', () => {
  let env: Env;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let alice: IssueJson;
  let bob: IssueJson;

  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
    alice = await issue(env, 'alice@operators', ['--out-dir', path.join(env.tmp, 'alice')]);
    bob = await issue(env, 'bob', ['--out-dir', path.join(env.tmp, 'bob')]);
    upstream = await startUpstream();
    serve = await startServe(env, `http://127.0.0.1:${upstream.port}`);
  });

  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await upstream?.close();
    await removeEnv(env);
  });

  it('proxies a valid client with its identity, as curl sees it', async () => {
    const r = await run('curl', [
      '-sS',
      '--cacert',
      alice.files.ca,
      '--cert',
      alice.files.cert,
      '--key',
      alice.files.key,
      '-H',
      'X-Forwarded-Client-Cert: Hash=spoofed;Subject="CN=root"',
      `https://localhost:${serve.port}/health`,
    ]);
    expect(r.stdout).toBe('ok');
    const seen = upstream.requests.at(-1);
    expect(seen?.['x-forwarded-client-cert']).toBe(
      `Hash=${alice.fingerprintSha256};Subject="CN=alice@operators"`,
    );
    expect(seen?.['x-forwarded-proto']).toBe('https');
  });

  it('enforces a revocation from another CLI process within 1 s, on live and new connections', async () => {
    const live = await KeepAliveClient.connect(serve.port, alice.files);
    expect(await live.get('/before')).toBe(200);
    const before = upstream.requests.length;

    const r = await cli(env, ['revoke', '--serial', alice.serial, '--reason', 'keyCompromise']);
    const returnedAt = Date.now();
    expect(r.code).toBe(0);
    const closedAt = await live.closed;
    expect(closedAt - returnedAt).toBeLessThan(1000);

    const again = await run('curl', [
      '-sS',
      '--cacert',
      alice.files.ca,
      '--cert',
      alice.files.cert,
      '--key',
      alice.files.key,
      `https://localhost:${serve.port}/after`,
    ]);
    // Refused, and told why (issue 8) instead of an empty reply.
    expect(again.stdout).toContain('The SSL certificate has been revoked (revoked)');
    expect(upstream.requests.length).toBe(before);
    const audit = JSON.parse(
      (await cli(env, ['audit', '--json', '--type', 'gateway.connection.refused', '--serial', alice.serial]))
        .stdout,
    ) as { records: { type: string; details: { reason?: string } }[] };
    expect(audit.records.some((a) => a.details.reason === 'revoked')).toBe(true);
  });

  it('serves a rotated server certificate on new handshakes without dropping open connections', async () => {
    const live = await KeepAliveClient.connect(serve.port, bob.files);
    expect(await live.get('/one')).toBe(200);
    const oldFp = await servedFingerprint(serve.port, bob.files);

    const r = await cli(env, ['rotate-server', '--days', '30']);
    expect(r.code).toBe(0);
    const newFp = fingerprintOf(await fs.readFile(path.join(env.stateDir, 'server.crt'), 'utf8'));
    expect(newFp).not.toBe(oldFp);
    // The gateway picks the new pair up from the database (poll + unseal); bounded wait for the first new handshake.
    let served = oldFp;
    const deadline = Date.now() + 5_000;
    while (served !== newFp && Date.now() < deadline) served = await servedFingerprint(serve.port, bob.files);
    expect(served).toBe(newFp);
    expect(await live.get('/two')).toBe(200);
    live.close();
  });

  it('stops gracefully on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => serve.child.once('exit', (code) => resolve(code)));
    serve.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(serve.output()).toContain('gateway stopped');
  });

  it('refuses a non-loopback upstream unless explicitly allowed, saving nothing', async () => {
    const config = async () =>
      (JSON.parse((await cli(env, ['status', '--json'])).stdout) as { gateway: { config: unknown } }).gateway
        .config;
    const before = await config();
    const r = await cli(env, ['serve', '--upstream', 'http://192.0.2.10:8080']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not on loopback/);
    expect(await config()).toEqual(before);
  });
});

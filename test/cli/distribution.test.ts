import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  initCa,
  issue,
  makeEnv,
  openssl,
  removeEnv,
  run,
  startServe,
  type Env,
  type IssueJson,
} from '../helpers/cli';
import { startUpstream } from '../helpers/gateway-client';
import { findBinary, freePort, missingPeerNote, startNginx } from '../helpers/peers';

/**
 * Issue 9, distribution: certificates name the CRL and the OCSP responder once the operator sets a
 * URL, and `serve` answers both on its own plain-HTTP listener; openssl, curl and nginx check it.
 */
describe('CRL distribution point, AIA OCSP and the responder, through the CLI', () => {
  let env: Env;
  let port: number;
  let base: string;
  let before: IssueJson;
  let alice: IssueJson;
  let bob: IssueJson;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let serve: Awaited<ReturnType<typeof startServe>>;

  const extensionsOf = async (certFile: string): Promise<string> =>
    (await openssl(['x509', '-in', certFile, '-noout', '-ext', 'crlDistributionPoints,authorityInfoAccess']))
      .stdout;

  /** `openssl ocsp` against the listener, verifying the response with the CA alone. */
  const ocsp = async (target: readonly string[]): Promise<string> => {
    const r = await openssl([
      'ocsp',
      '-issuer',
      alice.files.ca,
      ...target,
      '-url',
      `${base}/ocsp`,
      '-CAfile',
      alice.files.ca,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Response verify OK');
    return r.stdout;
  };

  const lastSeq = async (): Promise<number> => {
    const r = await cli(env, ['audit', '--json', '--limit', '1']);
    return (JSON.parse(r.stdout) as { records: { seq: number }[] }).records[0]?.seq ?? 0;
  };

  beforeAll(async () => {
    env = await makeEnv('mtls-dist-cli-');
    await initCa(env);
    before = await issue(env, 'before', ['--out-dir', path.join(env.tmp, 'before')]);
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const set = await cli(env, ['distribution', '--url', base, '--listen', `127.0.0.1:${port}`]);
    expect(set.code, set.stderr).toBe(0);
    alice = await issue(env, 'alice', ['--out-dir', path.join(env.tmp, 'alice')]);
    bob = await issue(env, 'bob', ['--out-dir', path.join(env.tmp, 'bob')]);
    upstream = await startUpstream();
    serve = await startServe(env, `http://127.0.0.1:${upstream.port}`);
  });

  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await upstream?.close();
    await removeEnv(env);
  });

  it('names the CRL and OCSP URLs in certificates issued after the URL was set, and only those', async () => {
    expect(await extensionsOf(alice.files.cert)).toMatch(
      new RegExp(
        `X509v3 CRL Distribution Points: *\\n +Full Name:\\n +URI:${base}/crl\\n[\\s\\S]*Authority Information Access: *\\n +OCSP - URI:${base}/ocsp`,
      ),
    );
    expect(await extensionsOf(before.files.cert)).toBe('');
    expect(serve.output()).toContain(`serving CRL and OCSP on ${base} (certificates name ${base})`);
  });

  it('answers good, unknown for a serial never issued, and revoked with reason after `revoke`', async () => {
    expect(await ocsp(['-cert', alice.files.cert])).toMatch(
      /alice\.crt: good\n\s+This Update: .*\n\s+Next Update: /,
    );
    expect(await ocsp(['-serial', '0x0123456789abcdef0123456789abcdef'])).toContain(
      '0x0123456789abcdef0123456789abcdef: unknown',
    );
    const r = await cli(env, ['revoke', '--serial', bob.serial, '--reason', 'keyCompromise']);
    expect(r.code, r.stderr).toBe(0);
    // Read from the database per request: the very next question after the CLI returns sees it.
    expect(await ocsp(['-cert', bob.files.cert])).toMatch(
      /bob\.crt: revoked\n[\s\S]*Reason: keyCompromise\n\s+Revocation Time: /,
    );
    expect(await ocsp(['-cert', alice.files.cert])).toContain('alice.crt: good');
  });

  it('serves the current CRL as DER that openssl verifies against ca.crt, with the revoked serial', async () => {
    const file = path.join(env.tmp, 'fetched.crl');
    const r = await run('curl', ['-sS', '-o', file, '-w', '%{http_code} %{content_type}', `${base}/crl`]);
    expect(r.stdout).toBe('200 application/pkix-crl');
    const text = await openssl([
      'crl',
      '-inform',
      'DER',
      '-in',
      file,
      '-CAfile',
      alice.files.ca,
      '-noout',
      '-text',
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toContain('verify OK');
    expect(text.stdout).toContain(`Serial Number: ${bob.serial.toUpperCase()}`);
    expect(text.stdout).toContain('Key Compromise');
  });

  it('writes no audit record per OCSP or CRL request', async () => {
    const seq = await lastSeq();
    for (let i = 0; i < 3; i++) await ocsp(['-cert', alice.files.cert]);
    expect((await run('curl', ['-sS', '-o', '/dev/null', `${base}/crl`])).code).toBe(0);
    expect(await lastSeq()).toBe(seq);
    const started = await cli(env, ['audit', '--json', '--type', 'distribution.started']);
    expect(JSON.parse(started.stdout).records[0].details).toEqual({ listen: `127.0.0.1:${port}`, url: base });
    const responder = await cli(env, ['audit', '--json', '--type', 'ocsp.responder.issued']);
    expect(JSON.parse(responder.stdout).records[0].details.why).toBe('start');
  });

  it('nginx with ssl_ocsp refuses a client revoked in the console on its next handshake, without a reload', async (ctx) => {
    const nginx = findBinary('nginx');
    if (nginx === null) ctx.skip(missingPeerNote('nginx'));
    const carol = await issue(env, 'carol', ['--out-dir', path.join(env.tmp, 'carol')]);
    const dir = await fs.mkdtemp(path.join(env.tmp, 'nginx-'));
    // nginx's own server certificate comes from openssl, so the console only vouches for clients.
    const made = await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      path.join(dir, 'server.key'),
      '-out',
      path.join(dir, 'server.crt'),
    ]);
    expect(made.code, made.stderr).toBe(0);
    const server = await startNginx(
      nginx as string,
      dir,
      [
        `    ssl_certificate ${path.join(dir, 'server.crt')};`,
        `    ssl_certificate_key ${path.join(dir, 'server.key')};`,
        `    ssl_client_certificate ${carol.files.ca};`,
        '    ssl_verify_client on;',
        '    ssl_ocsp on;',
        `    ssl_ocsp_responder ${base}/ocsp;`,
        // No ssl_ocsp_cache: every handshake asks the responder.
        `    location / { proxy_pass http://127.0.0.1:${upstream.port}; }`,
      ].join('\n'),
    );
    try {
      const curl = () =>
        run('curl', [
          '-sS',
          '-k',
          '--cert',
          carol.files.cert,
          '--key',
          carol.files.key,
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `https://127.0.0.1:${server.port}/through-nginx`,
        ]);
      const ok = await curl();
      expect(ok.stdout, ok.stderr + server.log()).toBe('200');
      expect(upstream.requests.at(-1)?.[':path']).toBe('/through-nginx');

      const revoked = await cli(env, ['revoke', '--serial', carol.serial]);
      expect(revoked.code, revoked.stderr).toBe(0);
      const revokedAt = Date.now();
      const refused = await curl();
      const refusedAfterMs = Date.now() - revokedAt;
      expect(refused.stdout).toBe('400');
      expect(server.log()).toMatch(/client SSL certificate verify error: certificate revoked/);
      expect(refusedAfterMs).toBeLessThan(5_000);
    } finally {
      await server.stop();
    }
  });

  it('puts the URLs into the server certificate at its next rotation', async () => {
    const r = await cli(env, ['rotate-server', '--days', '30']);
    expect(r.code, r.stderr).toBe(0);
    expect(await extensionsOf(path.join(env.stateDir, 'server.crt'))).toContain(`OCSP - URI:${base}/ocsp`);
  });

  it('refuses a listener off loopback without --allow-remote-distribution, changing nothing', async () => {
    const saved = (await cli(env, ['distribution', '--json'])).stdout;
    const r = await cli(env, ['serve', '--distribution-listen', `0.0.0.0:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `mtls-console: --distribution-listen 0.0.0.0:${port} is not on loopback; pass --allow-remote-distribution if that is really intended`,
    );
    const bad = await cli(env, ['distribution', '--url', 'https://ca.example.com']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/must be http:\/\//);
    expect((await cli(env, ['distribution', '--json'])).stdout).toBe(saved);
  });

  it('stops the listener with the gateway, and records it', async () => {
    const exited = new Promise<number | null>((resolve) => serve.child.once('exit', (code) => resolve(code)));
    serve.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stopped = await cli(env, ['audit', '--json', '--type', 'distribution.stopped']);
    expect(JSON.parse(stopped.stdout).records).toHaveLength(1);
    const gone = await run('curl', ['-sS', '-o', '/dev/null', `${base}/crl`]);
    expect(gone.code).not.toBe(0);
  });
});

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
import { freePort } from '../helpers/peers';
import type { CaRolloverStatus } from '../../src/shared/model';

/**
 * Issue 9, staged CA rollover through the CLI, against a real `serve` (gateway and CRL/OCSP
 * listener) that was started before the rollover: new CA, cross-signed both ways, servers and
 * clients rolled, old CA retired; checked with openssl and curl.
 */
describe('ca rollover start|status|retire, end to end', () => {
  let env: Env;
  let port: number;
  let base: string;
  let alice: IssueJson; // old CA, kept until retire
  let carol: IssueJson; // old CA, revoked during the rollover
  let bob: IssueJson; // new CA
  let dave: IssueJson; // new CA, revoked
  let frank: IssueJson; // old CA, 90 s: rolls itself over with `mtls-console renew`
  let frankIssuedAt = 0;
  let oldRoot: string;
  let newRoot: string;
  let crossNewByOld: string;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let serve: Awaited<ReturnType<typeof startServe>>;

  const file = (name: string): string => path.join(env.tmp, name);

  const rollover = async (
    args: readonly string[],
  ): Promise<{ code: number; stderr: string; s: CaRolloverStatus | null }> => {
    const r = await cli(env, ['ca', 'rollover', ...args, '--json']);
    return {
      code: r.code,
      stderr: r.stderr,
      s: r.code === 0 ? (JSON.parse(r.stdout) as CaRolloverStatus) : null,
    };
  };

  /** curl through the gateway trusting `cacert`; the body, or curl's complaint. */
  const curl = (who: IssueJson, cacert: string, p = '/ok') =>
    run('curl', [
      '-sS',
      '--cacert',
      cacert,
      '--cert',
      who.files.cert,
      '--key',
      who.files.key,
      `https://localhost:${serve.port}${p}`,
    ]);

  /** The chain the gateway serves, as PEM blocks (leaf first), and openssl's verdict with `cafile` only. */
  const served = async (cafile: string): Promise<{ blocks: string[]; verify: string }> => {
    const r = await run('sh', [
      '-c',
      `openssl s_client -connect 127.0.0.1:${serve.port} -servername localhost -showcerts -CAfile '${cafile}' </dev/null 2>&1`,
    ]);
    const blocks = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return {
      blocks,
      verify: /Verify return code: (\d+ \([^)]*\))/.exec(r.stdout)?.[1] ?? r.stdout.slice(-300),
    };
  };

  const ocsp = async (issuer: string, cert: string): Promise<string> => {
    const r = await openssl([
      'ocsp',
      '-issuer',
      issuer,
      '-cert',
      cert,
      '-url',
      `${base}/ocsp`,
      '-CAfile',
      issuer,
    ]);
    return `${r.stdout}${r.stderr}`;
  };

  /** Bounded retries of a check that the running `serve` catches up with (a ~25 ms database poll). */
  const eventually = async <T>(probe: () => Promise<T>, ok: (v: T) => boolean, tries = 60): Promise<T> => {
    let v = await probe();
    for (let i = 0; i < tries && !ok(v); i++) {
      await new Promise((r) => setTimeout(r, 100));
      v = await probe();
    }
    return v;
  };

  beforeAll(async () => {
    env = await makeEnv('mtls-rollover-cli-');
    await initCa(env, ['--ca-name', 'Rollover Test CA']);
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const set = await cli(env, ['distribution', '--url', base, '--listen', `127.0.0.1:${port}`]);
    expect(set.code, set.stderr).toBe(0);
    alice = await issue(env, 'alice', ['--out-dir', file('alice')]);
    carol = await issue(env, 'carol', ['--out-dir', file('carol')]);
    oldRoot = file('old-root.crt');
    await fs.copyFile(alice.files.ca, oldRoot);
    upstream = await startUpstream();
    serve = await startServe(env, `http://127.0.0.1:${upstream.port}`);
  });

  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await upstream?.close();
    if (env) await removeEnv(env);
  });

  it('shows no rollover before one starts', async () => {
    const { s } = await rollover(['status']);
    expect(s).toMatchObject({ state: 'idle', old: null, phases: [] });
    expect(s?.current.name).toBe('Rollover Test CA');
  });

  it('start: a new CA of the same algorithm, cross-signed both ways; the server moves to it', async () => {
    // Short-lived, so that it may renew soon (half its lifetime); issued just before the start.
    frank = await issue(env, 'frank', ['--duration', '90s', '--out-dir', file('frank')]);
    frankIssuedAt = Date.now();
    // What it serves before: the old leaf (OpenSSL completes the chain from the trusted root, so a
    // block count alone cannot tell the chains apart).
    const before = await served(oldRoot);
    const { code, stderr, s } = await rollover(['start']);
    expect(code, stderr).toBe(0);
    if (!s) throw new Error('no status');
    expect(s.state).toBe('rolling');
    expect(s.current.name).toBe('Rollover Test CA G2');
    expect(s.old?.name).toBe('Rollover Test CA');
    expect(s.phases.map((p) => [p.key, p.done])).toEqual([
      ['created', true],
      ['servers', true],
      ['clients', false],
      ['retired', false],
    ]);
    expect(s.phases[0]?.at).toBe(s.startedAt);
    expect(s.clients).toMatchObject({ onOldCa: 3, total: 3, rolled: 0 });
    newRoot = file('new-root.crt');
    await fs.writeFile(newRoot, s.current.certPem);
    const cross = s.crossCertificates.find((c) => c.subject === 'Rollover Test CA G2');
    expect(cross?.issuer).toBe('Rollover Test CA');
    crossNewByOld = file('cross-new-by-old.crt');
    await fs.writeFile(crossNewByOld, cross?.certPem ?? '');
    const oldByNew = s.crossCertificates.find((c) => c.subject === 'Rollover Test CA');
    expect(oldByNew?.issuer).toBe('Rollover Test CA G2');
    await fs.writeFile(file('cross-old-by-new.crt'), oldByNew?.certPem ?? '');
    // Same algorithm as the old CA.
    const alg = async (f: string) =>
      /Public Key Algorithm: (\S+)/.exec((await openssl(['x509', '-in', f, '-noout', '-text'])).stdout)?.[1];
    expect(await alg(newRoot)).toBe(await alg(oldRoot));

    // The running serve picks up the new chain hot: leaf from the new CA, then the cross certificate.
    const chain = await eventually(
      () => served(oldRoot),
      (c) => c.blocks[0] !== undefined && c.blocks[0] !== before.blocks[0],
    );
    expect(chain.blocks).toHaveLength(2);
    await fs.writeFile(file('served-leaf.crt'), `${chain.blocks[0]}\n`);
    await fs.writeFile(file('served-cross.crt'), `${chain.blocks[1]}\n`);
    const issuer = await openssl(['x509', '-in', file('served-leaf.crt'), '-noout', '-issuer']);
    expect(issuer.stdout).toContain('Rollover Test CA G2');
    // A client that trusts only the old root verifies the new server chain through the cross certificate.
    expect(chain.verify).toBe('0 (ok)');
    expect((await served(newRoot)).verify).toBe('0 (ok)');
  });

  it('openssl verify: old-root-only and new-root-only verifiers both accept the new server chain', async () => {
    const leaf = file('served-leaf.crt');
    const oldOnly = await openssl(['verify', '-CAfile', oldRoot, '-untrusted', crossNewByOld, leaf]);
    expect(oldOnly.stdout + oldOnly.stderr).toContain(': OK');
    const newOnly = await openssl(['verify', '-CAfile', newRoot, leaf]);
    expect(newOnly.stdout + newOnly.stderr).toContain(': OK');
    // Without the cross certificate the old root alone does not reach the new CA's leaf.
    const bare = await openssl(['verify', '-CAfile', oldRoot, leaf]);
    expect(bare.code).not.toBe(0);
    // And the other direction: a new-root-only verifier accepts an old-CA client via old-by-new.
    const back = await openssl([
      'verify',
      '-CAfile',
      newRoot,
      '-untrusted',
      file('cross-old-by-new.crt'),
      alice.files.cert,
    ]);
    expect(back.stdout + back.stderr).toContain(': OK');
  });

  it('export hands another proxy what the gateway serves: both roots, and the server chain with its cross cert', async () => {
    const out = file('export');
    const r = await cli(env, ['export', '--chain', '--server', '--yes-export-server-key', '--out-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    const exported = await fs.readFile(path.join(out, 'server.crt'), 'utf8');
    expect(exported.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    // An old-root-only verifier accepts the exported server file alone: the cross certificate is in it.
    const oldOnly = await openssl([
      'verify',
      '-CAfile',
      oldRoot,
      '-untrusted',
      path.join(out, 'server.crt'),
      path.join(out, 'server.crt'),
    ]);
    expect(oldOnly.stdout + oldOnly.stderr).toContain(': OK');
    const chain = await fs.readFile(path.join(out, 'ca-chain.crt'), 'utf8');
    const roots = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const subjects = await Promise.all(
      roots.map(async (pem, i) => {
        const f = file(`chain-${i}.crt`);
        await fs.writeFile(f, `${pem}\n`);
        return (await openssl(['x509', '-in', f, '-noout', '-subject'])).stdout.trim();
      }),
    );
    expect(subjects).toHaveLength(2);
    expect(subjects.some((s) => s.includes('Rollover Test CA G2'))).toBe(true);
  });

  it('new issuance comes from the new CA; its bundle trusts both roots', async () => {
    bob = await issue(env, 'bob', ['--out-dir', file('bob')]);
    dave = await issue(env, 'dave', ['--out-dir', file('dave')]);
    const issuer = await openssl(['x509', '-in', bob.files.cert, '-noout', '-issuer']);
    expect(issuer.stdout).toContain('Rollover Test CA G2');
    const ca = await fs.readFile(bob.files.ca, 'utf8');
    expect(ca.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const v = await openssl(['verify', '-CAfile', bob.files.ca, bob.files.cert]);
    expect(v.stdout).toContain(': OK');
    // Its CRL distribution point is its own CA's CRL; the OCSP URL is shared by both CAs.
    const ext = async (f: string) =>
      (await openssl(['x509', '-in', f, '-noout', '-ext', 'crlDistributionPoints,authorityInfoAccess']))
        .stdout;
    expect(await ext(bob.files.cert)).toContain(`URI:${base}/crl/2`);
    expect(await ext(bob.files.cert)).toContain(`OCSP - URI:${base}/ocsp`);
    expect(await ext(alice.files.cert)).toMatch(new RegExp(`URI:${base}/crl\\s`));
  });

  it('curl --cacert old-root-only gets through with an old-CA and with a new-CA client certificate', async () => {
    const a = await curl(alice, oldRoot, '/alice');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe('ok');
    const b = await curl(bob, oldRoot, '/bob');
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toBe('ok');
    expect(upstream.requests.at(-1)?.['x-forwarded-client-cert']).toContain('Subject="CN=bob"');
  });

  it('`mtls-console renew` rolls an old-root-only client over: new-CA certificate, new root trusted', async () => {
    // A renewal may happen once half the lifetime (45 s) has passed: a wait on the clock.
    await new Promise((r) => setTimeout(r, Math.max(0, frankIssuedAt + 46_000 - Date.now())));
    expect(await fs.readFile(frank.files.ca, 'utf8')).toBe(await fs.readFile(oldRoot, 'utf8'));
    const r = await cli(null, [
      'renew',
      '--cert',
      frank.files.cert,
      '--key',
      frank.files.key,
      '--ca',
      frank.files.ca,
      '--url',
      `https://127.0.0.1:${serve.port}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const issuer = await openssl(['x509', '-in', frank.files.cert, '-noout', '-issuer']);
    expect(issuer.stdout).toContain('Rollover Test CA G2');
    const ca = await fs.readFile(frank.files.ca, 'utf8');
    expect(ca.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(ca.replace(/\s+/g, '')).toContain((await fs.readFile(newRoot, 'utf8')).replace(/\s+/g, ''));
    const v = await openssl(['verify', '-CAfile', frank.files.ca, frank.files.cert]);
    expect(v.stdout).toContain(': OK');
    const through = await curl(frank, frank.files.ca, '/frank');
    expect(through.stdout, through.stderr).toBe('ok');
    // Out of the counts below: both of frank's certificates go (the predecessor stays valid otherwise).
    const renewedSerial = (await openssl(['x509', '-in', frank.files.cert, '-noout', '-serial'])).stdout
      .trim()
      .replace(/^serial=/, '')
      .toLowerCase();
    for (const serial of [frank.serial, renewedSerial]) {
      const gone = await cli(env, ['revoke', '--serial', serial, '--reason', 'cessationOfOperation']);
      expect(gone.code, gone.stderr).toBe(0);
    }
  }, 120_000);

  it('an old-CA client revoked during the rollover is refused; each CA publishes its own CRL', async () => {
    const r = await cli(env, ['revoke', '--serial', carol.serial, '--reason', 'keyCompromise']);
    expect(r.code, r.stderr).toBe(0);
    const d = await cli(env, ['revoke', '--serial', dave.serial, '--reason', 'superseded']);
    expect(d.code, d.stderr).toBe(0);
    const refused = await eventually(
      () => curl(carol, oldRoot, '/carol'),
      (x) => x.stdout !== 'ok',
    );
    expect(refused.stdout).toContain('revoked');

    // CA 1's CRL at /crl/1, the issuing CA's at /crl (and /crl/2): each verified by its own root only.
    for (const [route, root, listed, absent] of [
      ['/crl/1', oldRoot, carol.serial, dave.serial],
      ['/crl/2', newRoot, dave.serial, carol.serial],
      ['/crl', newRoot, dave.serial, carol.serial],
    ] as const) {
      const der = file(`crl-${route.replace(/\//g, '_')}.der`);
      const got = await run('curl', ['-sS', '-o', der, `${base}${route}`]);
      expect(got.code, got.stderr).toBe(0);
      const check = await openssl(['crl', '-inform', 'DER', '-in', der, '-CAfile', root, '-noout', '-text']);
      expect(check.stderr + check.stdout).toContain('verify OK');
      expect(check.stdout.toUpperCase()).toContain(listed.toUpperCase());
      expect(check.stdout.toUpperCase()).not.toContain(absent.toUpperCase());
      const wrongRoot = root === oldRoot ? newRoot : oldRoot;
      const bad = await openssl(['crl', '-inform', 'DER', '-in', der, '-CAfile', wrongRoot, '-noout']);
      expect(bad.stderr + bad.stdout).not.toContain('verify OK');
    }
    const missing = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${base}/crl/9`]);
    expect(missing.stdout).toBe('404');
    // The same CRLs from the CLI: `crl --ca N`.
    const pem = file('crl-1.pem');
    const one = await cli(env, ['crl', '--ca', '1', '--out', pem]);
    expect(one.code, one.stderr).toBe(0);
    const oneCheck = await openssl(['crl', '-in', pem, '-CAfile', oldRoot, '-noout', '-text']);
    expect(oneCheck.stderr + oneCheck.stdout).toContain('verify OK');
    expect(oneCheck.stdout.toUpperCase()).toContain(carol.serial.toUpperCase());
    const none = await cli(env, ['crl', '--ca', '9']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no CA 9/);
  });

  it('OCSP answers good and revoked for certificates of either CA, each signed by that CA’s responder', async () => {
    const good = await eventually(
      () => ocsp(newRoot, bob.files.cert),
      (t) => t.includes(': good'),
    );
    expect(good).toContain('Response verify OK');
    expect(good).toContain(': good');
    expect(await ocsp(newRoot, dave.files.cert)).toMatch(/: revoked[\s\S]*Reason: superseded|: revoked/);
    const old = await ocsp(oldRoot, alice.files.cert);
    expect(old).toContain('Response verify OK');
    expect(old).toContain(': good');
    const oldRevoked = await ocsp(oldRoot, carol.files.cert);
    expect(oldRevoked).toContain('Response verify OK');
    expect(oldRevoked).toContain(': revoked');
  });

  it('retire is refused while a valid old-CA client remains, naming how many and which; nothing changes', async () => {
    const r = await cli(env, ['ca', 'rollover', 'retire']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('1 valid client certificate');
    expect(r.stderr).toContain(`alice (${alice.serial})`);
    const { s } = await rollover(['status']);
    expect(s?.state).toBe('rolling');
    expect(s?.clients).toMatchObject({ onOldCa: 1, total: 2, rolled: 1 });
    expect((await curl(alice, oldRoot, '/still')).stdout).toBe('ok');
    const st = await cli(env, ['status']);
    expect(st.stdout).toContain('CA rollover: running, 1 of 2 clients rolled');
  });

  it('retire --revoke-remaining: the old root leaves the gateway’s trust and the cross cert the chain', async () => {
    const { code, stderr, s } = await rollover(['retire', '--revoke-remaining']);
    expect(code, stderr).toBe(0);
    expect(s?.state).toBe('done');
    expect(s?.phases.every((p) => p.done && p.at !== null)).toBe(true);
    // The cross certificate is gone from the served chain (OpenSSL may add the new root itself);
    // only the new root verifies it.
    const flat = (pem: string): string => pem.replace(/\s+/g, '');
    const cross = flat(await fs.readFile(crossNewByOld, 'utf8'));
    const chain = await eventually(
      () => served(newRoot),
      (c) => !c.blocks.some((b) => flat(b) === cross),
    );
    expect(chain.blocks.some((b) => flat(b) === cross)).toBe(false);
    expect(chain.verify).toBe('0 (ok)');
    expect((await served(oldRoot)).verify).not.toBe('0 (ok)');
    // An old-CA client is refused at the handshake: its CA is no longer trusted.
    const refused = await curl(alice, newRoot, '/after-retire');
    expect(refused.stdout).not.toBe('ok');
    // Its CA is no longer ours to trust, so the refusal is not attributed to its serial (verify.ts).
    const audit = JSON.parse(
      (await cli(env, ['audit', '--json', '--type', 'gateway.connection.refused', '--limit', '3'])).stdout,
    ) as { records: { serial: string | null; details: { reason?: string } }[] };
    expect(audit.records[0]?.details.reason).toBe('unknown_ca');
    // New-CA clients go on.
    expect((await curl(bob, newRoot, '/bob-after')).stdout).toBe('ok');
    const st = await cli(env, ['status']);
    expect(st.stdout).toContain('CA rollover: done');
    const chainCheck = await cli(env, ['audit', '--verify']);
    expect(chainCheck.code, chainCheck.stderr).toBe(0);
  });
});

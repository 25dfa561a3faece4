import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
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

interface ListRow {
  serial: string;
  name: string;
  status: string;
  supersededBy?: string;
  supersedes?: string;
  renewable: boolean;
  renewUntil?: string;
  reason?: string;
}

async function list(env: Env): Promise<ListRow[]> {
  const r = await cli(env, ['list', '--json']);
  if (r.code !== 0) throw new Error(`list: ${r.stderr}`);
  return JSON.parse(r.stdout) as ListRow[];
}

const serialOf = async (file: string) =>
  new X509Certificate(await fs.readFile(file)).serialNumber.toLowerCase();

describe('issue-client --reissue', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv('mtls-reissue-');
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  it('replaces the bundle of a name without --force; the previous certificate stays valid, shown as superseded', async () => {
    const first = await issue(env, 'alice', ['--group', 'ops']);
    const out = path.join(env.tmp, 'out');
    const again = await cli(env, ['issue-client', '--name', 'alice', '--out-dir', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite/);

    const oldKey = await fs.readFile(first.files.key, 'utf8');
    const r = await cli(env, ['issue-client', '--name', 'alice', '--reissue', '--out-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${first.serial} is superseded: still valid until it expires`);
    const serial = await serialOf(first.files.cert);
    expect(serial).not.toBe(first.serial);
    expect(await fs.readFile(first.files.key, 'utf8')).not.toBe(oldKey); // a new key
    expect((await fs.stat(first.files.key)).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(await fs.readFile(first.files.cert)).subject).toBe('OU=ops\nCN=alice');

    const rows = await list(env);
    expect(rows.find((x) => x.serial === first.serial)).toMatchObject({
      status: 'superseded',
      supersededBy: serial,
    });
    expect(rows.find((x) => x.serial === serial)).toMatchObject({
      status: 'active',
      supersedes: first.serial,
    });
    const text = await cli(env, ['list']);
    expect(text.stdout).toMatch(new RegExp(`${first.serial}\\s+alice\\s+\\S+\\s+superseded`));
  });

  it('--revoke-previous revokes every earlier valid certificate of the name (superseded) with one CRL', async () => {
    const before = (await list(env)).filter((x) => x.name === 'alice' && x.status !== 'revoked');
    expect(before).toHaveLength(2);
    const r = await cli(env, [
      'issue-client',
      '--name',
      'alice',
      '--reissue',
      '--revoke-previous',
      '--out-dir',
      path.join(env.tmp, 'out'),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as IssueJson & { replaced: { serial: string; revoked: boolean }[] };
    expect(result.replaced.map((x) => x.serial).sort()).toEqual(before.map((x) => x.serial).sort());
    expect(result.replaced.every((x) => x.revoked)).toBe(true);
    const rows = await list(env);
    for (const b of before) {
      expect(rows.find((x) => x.serial === b.serial)).toMatchObject({
        status: 'revoked',
        reason: 'superseded',
      });
    }
    expect(rows.find((x) => x.serial === result.serial)?.status).toBe('active');
    const crl = await cli(env, ['crl']);
    const crlFile = path.join(env.tmp, 'crl.pem');
    await fs.writeFile(crlFile, crl.stdout);
    const crlText = await openssl(['crl', '-in', crlFile, '-noout', '-text']);
    for (const b of before) expect(crlText.stdout.toLowerCase()).toContain(b.serial);
    expect(crlText.stdout).toContain('Superseded');
  });

  it('refuses contradictory flags and a name that was never issued', async () => {
    const cases: [string[], number, RegExp][] = [
      [['--name', 'x', '--revoke-previous'], 2, /--revoke-previous goes with --reissue/],
      [['--name', 'x', '--not-renewable', '--renew-max', '30d'], 2, /not renewable/],
      [['--name', 'x', '--renew-max', 'soon'], 2, /--renew-max: invalid duration/],
      [['--name', 'x', '--duration', '30d', '--renew-max', '7d'], 2, /shorter than the certificate/],
      [['--name', 'never', '--reissue'], 1, /no certificate for never was issued/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(env, ['issue-client', ...args, '--out-dir', path.join(env.tmp, 'refused')]);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(message);
    }
    const fixed = await issue(env, 'fixed', ['--not-renewable']);
    const capped = await issue(env, 'capped', ['--renew-max', '30d']);
    const rows = await list(env);
    expect(rows.find((x) => x.serial === fixed.serial)).toMatchObject({ renewable: false });
    expect(rows.find((x) => x.serial === fixed.serial)?.renewUntil).toBeUndefined();
    const until = Date.parse(rows.find((x) => x.serial === capped.serial)?.renewUntil ?? '');
    expect(Math.abs(until - Date.parse(capped.notBefore) - 30 * 86_400_000)).toBeLessThan(120_000);
  });
});

/** Collects a process's output and resolves when a line matching `re` has appeared `times` times. */
function watch(child: ChildProcess) {
  let text = '';
  const waiters: { re: RegExp; times: number; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if ((text.match(new RegExp(w.re.source, `${w.re.flags.replace('g', '')}g`)) ?? []).length >= w.times) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const add = (d: Buffer) => {
    text += d.toString();
    check();
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return {
    output: () => text,
    seen: (re: RegExp, times = 1) =>
      new Promise<void>((resolve) => {
        waiters.push({ re, times, resolve });
        check();
      }),
  };
}

describe('renewal over the gateway: curl, `renew`, `renew --rekey`, `renew --daemon --exec`', () => {
  let env: Env;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let serve: Awaited<ReturnType<typeof startServe>>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    env = await makeEnv('mtls-renew-');
    await initCa(env);
    upstream = await startUpstream();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    serve?.child.kill('SIGTERM');
    await upstream?.close();
    await removeEnv(env);
  });

  it('renews 30-second certificates with the same name and lifetime; refuses too soon, twice, revoked and not renewable', async () => {
    // Short-lived: renewal may happen once half the lifetime (15 s) has passed, the daemon renews at 2/3.
    const made: Record<string, IssueJson> = {};
    for (const name of ['via-curl', 'once', 'rekeyed', 'daemon', 'revoked']) {
      made[name] = await issue(env, name, ['--duration', '30s', '--out-dir', path.join(env.tmp, name)]);
    }
    made['fixed'] = await issue(env, 'fixed', [
      '--duration',
      '30s',
      '--not-renewable',
      '--out-dir',
      path.join(env.tmp, 'fixed'),
    ]);
    const issuedAt = Date.now();
    serve = await startServe(env, `http://127.0.0.1:${upstream.port}`);
    const url = `https://127.0.0.1:${serve.port}`;
    const files = (name: string) => made[name]!.files;
    const renewArgs = (name: string) => [
      'renew',
      '--cert',
      files(name).cert,
      '--key',
      files(name).key,
      '--ca',
      files(name).ca,
      '--url',
      url,
    ];

    const marker = path.join(env.tmp, 'reloads');
    const daemon = spawn(
      process.execPath,
      [
        CLI,
        ...renewArgs('daemon'),
        '--daemon',
        '--exec',
        `echo "$MTLS_CONSOLE_SERIAL" >> '${marker}' && echo reloaded`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(daemon);
    const daemonOut = watch(daemon);
    await daemonOut.seen(/watching /);

    // Too soon: the gateway answers 429 and nothing changes.
    const tooSoon = await cli(null, renewArgs('once'));
    expect(tooSoon.code, tooSoon.stderr).toBe(1);
    expect(tooSoon.stderr).toMatch(/HTTP 429.*try again in \d+ s/);
    expect(await serialOf(files('once').cert)).toBe(made['once']!.serial);

    await cli(env, ['revoke', '--serial', made['revoked']!.serial]);
    // Half the lifetime must pass before the first renewal: a wait on the clock, not on luck.
    await new Promise((r) => setTimeout(r, Math.max(0, issuedAt + 16_000 - Date.now())));

    // 1. The documented curl one-liner.
    const c = files('via-curl');
    const curlOut = path.join(env.tmp, 'via-curl', 'via-curl.crt.new');
    const curl = await run('curl', [
      '-sS',
      '--fail-with-body',
      '--cert',
      c.cert,
      '--key',
      c.key,
      '--cacert',
      c.ca,
      '-X',
      'POST',
      `${url}/.well-known/mtls-console/renew`,
      '-o',
      curlOut,
    ]);
    expect(curl.code, curl.stderr).toBe(0);
    const chain = await fs.readFile(curlOut, 'utf8');
    const leaf = new X509Certificate(chain);
    expect(leaf.subject).toBe('CN=via-curl');
    expect(leaf.serialNumber.toLowerCase()).not.toBe(made['via-curl']!.serial);
    const life = (x: X509Certificate) => Date.parse(x.validTo) - Date.parse(x.validFrom);
    expect(life(leaf)).toBe(life(new X509Certificate(await fs.readFile(c.cert))));
    const verify = await openssl(['verify', '-CAfile', c.ca, curlOut]);
    expect(verify.stdout).toContain(': OK');
    // Asked again with the same certificate (as after a lost answer): the same successor, not a second one.
    const again = await run('curl', [
      '-sS',
      '--fail-with-body',
      '--cert',
      c.cert,
      '--key',
      c.key,
      '--cacert',
      c.ca,
      '-X',
      'POST',
      `${url}/.well-known/mtls-console/renew`,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(new X509Certificate(again.stdout).serialNumber).toBe(leaf.serialNumber);

    // 2. `renew` once: same key, the files replaced in place with the same modes.
    const once = files('once');
    const keyBefore = await fs.readFile(once.key, 'utf8');
    const r1 = await cli(null, [...renewArgs('once'), '--json']);
    expect(r1.code, r1.stderr).toBe(0);
    const renewed = JSON.parse(r1.stdout) as { serial: string; previousSerial: string; rekey: boolean };
    expect(renewed).toMatchObject({ previousSerial: made['once']!.serial, rekey: false });
    expect(await serialOf(once.cert)).toBe(renewed.serial);
    expect(await fs.readFile(once.key, 'utf8')).toBe(keyBefore);
    expect((await fs.stat(once.cert)).mode & 0o777).toBe(0o644);
    expect((await fs.stat(once.key)).mode & 0o777).toBe(0o600);
    const rows = await list(env);
    expect(rows.find((x) => x.serial === made['once']!.serial)).toMatchObject({
      status: 'superseded',
      supersededBy: renewed.serial,
    });
    // The renewed certificate works through the gateway.
    const get = await run('curl', [
      '-sS',
      '--fail',
      '--cert',
      once.cert,
      '--key',
      once.key,
      '--cacert',
      once.ca,
      `${url}/hello`,
    ]);
    expect(get.stdout).toBe('ok');

    // 3. `renew --rekey`: a new key (0600) of the same type, sent as a CSR.
    const rk = files('rekeyed');
    const oldRkKey = await fs.readFile(rk.key, 'utf8');
    const r2 = await cli(null, [...renewArgs('rekeyed'), '--rekey']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(
      /renewed rekeyed\.crt: serial [0-9a-f]+ \(was [0-9a-f]+\), valid until .*, new key/,
    );
    expect(await fs.readFile(rk.key, 'utf8')).not.toBe(oldRkKey);
    expect((await fs.stat(rk.key)).mode & 0o777).toBe(0o600);
    const certPub = await openssl(['x509', '-in', rk.cert, '-noout', '-pubkey']);
    const keyPub = await openssl(['pkey', '-in', rk.key, '-pubout']);
    expect(certPub.stdout).toBe(keyPub.stdout);
    expect(certPub.stdout).toContain('PUBLIC KEY');

    // 4. Refused: revoked (the gateway does not even complete the handshake) and not renewable.
    const rev = await cli(null, renewArgs('revoked'));
    expect(rev.code, rev.stderr).toBe(1);
    expect(await serialOf(files('revoked').cert)).toBe(made['revoked']!.serial);
    const fixed = await cli(null, renewArgs('fixed'));
    expect(fixed.code).toBe(1);
    expect(fixed.stderr).toMatch(/HTTP 403.*not renewable/);

    // 5. The daemon renews at 2/3 of each lifetime and runs --exec after each renewal; SIGTERM ends it.
    // --exec's own output comes through the daemon's stdout once it has run.
    await daemonOut.seen(/renewed daemon\.crt/, 1);
    // With the gateway down at the next renewal, it retries with backoff until the gateway is back.
    const serveExited = new Promise((r) => serve.child.once('exit', r));
    serve.child.kill('SIGTERM');
    await serveExited;
    await daemonOut.seen(/ECONNREFUSED.*retrying in \d+ s/);
    serve = await startServe(env, `http://127.0.0.1:${upstream.port}`, [
      '--listen',
      `127.0.0.1:${serve.port}`,
    ]);
    await daemonOut.seen(/renewed daemon\.crt/, 2);
    await daemonOut.seen(/^reloaded$/m, 2);
    const reloads = (await fs.readFile(marker, 'utf8')).trim().split('\n');
    expect(reloads).toHaveLength(2);
    expect(reloads[1]).toBe(await serialOf(files('daemon').cert));
    const exited = new Promise<number | null>((r) => daemon.once('exit', (code) => r(code)));
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    const d = files('daemon');
    const viaDaemon = await run('curl', [
      '-sS',
      '--fail',
      '--cert',
      d.cert,
      '--key',
      d.key,
      '--cacert',
      d.ca,
      `${url}/after`,
    ]);
    expect(viaDaemon.stdout).toBe('ok');
    const chainRows = (await list(env)).filter((x) => x.name === 'daemon');
    // The first has expired by now (30 s); the second is superseded but valid; the third is current.
    expect(chainRows.map((x) => x.status)).toEqual(['expired', 'superseded', 'active']);
    expect(chainRows[1]?.supersedes).toBe(chainRows[0]?.serial);
    expect(chainRows[2]?.supersedes).toBe(chainRows[1]?.serial);
    expect(chainRows[2]?.serial).toBe(reloads[1]);
  }, 120_000);
});

import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initCa, issue, makeEnv, openssl, removeEnv, run, snapshot, type Env } from '../helpers/cli';
import { findBinary, missingPeerNote, startNginx } from '../helpers/peers';

interface ExportJson {
  dir: string;
  files: { role: string; path: string; mode: string }[];
}

interface AuditJson {
  records: { type: string; serial: string | null; details: Record<string, unknown> }[];
}

const modeOf = async (file: string) => ((await fs.stat(file)).mode & 0o777).toString(8);

describe('mtls-console export: CA, chain, CRL and the confirmed server key, for other verifiers', () => {
  let env: Env;
  let outDir: string;
  beforeAll(async () => {
    env = await makeEnv('mtls-export-');
    await initCa(env);
    outDir = path.join(env.tmp, 'for-nginx');
  });
  afterAll(() => removeEnv(env));

  it('writes ca.crt, ca-chain.crt and the CRL in PEM and DER, each audited', async () => {
    const r = await cli(env, ['export', '--ca', '--chain', '--crl', '--out-dir', outDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as ExportJson;
    expect(result.files.map((f) => path.basename(f.path)).sort()).toEqual([
      'ca-chain.crt',
      'ca.crt',
      'crl.pem',
    ]);
    const ca = await fs.readFile(path.join(outDir, 'ca.crt'), 'utf8');
    expect(ca).toBe(await fs.readFile(path.join(env.stateDir, 'ca.crt'), 'utf8'));
    expect(await fs.readFile(path.join(outDir, 'ca-chain.crt'), 'utf8')).toBe(ca);

    const der = await cli(env, ['export', '--crl', '--der', '--out-dir', outDir]);
    expect(der.code, der.stderr).toBe(0);
    expect(der.stdout).toContain(`wrote ${path.join(outDir, 'crl.der')} (644)`);
    const fromDer = await openssl([
      'crl',
      '-inform',
      'DER',
      '-in',
      path.join(outDir, 'crl.der'),
      '-CAfile',
      path.join(outDir, 'ca.crt'),
      '-noout',
      '-crlnumber',
    ]);
    expect(fromDer.code, fromDer.stderr).toBe(0);
    expect(fromDer.stderr + fromDer.stdout).toMatch(/verify OK/);
    expect(fromDer.stdout).toMatch(/crlNumber=0x[0-9A-F]+/i);
    // The DER and the PEM are the same CRL.
    const asPem = await openssl(['crl', '-inform', 'DER', '-in', path.join(outDir, 'crl.der')]);
    expect(asPem.stdout).toBe(await fs.readFile(path.join(outDir, 'crl.pem'), 'utf8'));

    const log = JSON.parse((await cli(env, ['audit', '--json', '--limit', '10'])).stdout) as AuditJson;
    expect(log.records.filter((x) => x.type === 'ca.exported')).toHaveLength(1);
    expect(log.records.filter((x) => x.type === 'crl.exported').map((x) => x.details['format'])).toEqual([
      'der',
      'pem',
    ]);
  });

  it('refuses the server key without a confirmation, with one line and nothing written or recorded', async () => {
    const before = await snapshot(env.tmp);
    const r = await cli(env, ['export', '--server', '--out-dir', outDir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'mtls-console: --server writes the private key: confirm with --yes-export-server-key',
    ]);
    expect(await snapshot(env.tmp)).toEqual(before);
  });

  it('refuses a folder inside the state dir, and an empty export, changing nothing', async () => {
    const before = await snapshot(env.tmp);
    const inside = await cli(env, [
      'export',
      '--server',
      '--yes-export-server-key',
      '--out-dir',
      path.join(env.stateDir, 'x'),
    ]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/inside the state dir/);
    expect(inside.stderr.trim().split('\n')).toHaveLength(1);
    const nothing = await cli(env, ['export', '--out-dir', outDir]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/nothing to export/);
    expect(await snapshot(env.tmp)).toEqual(before);
  });

  it('nginx serves with the exported server key, trusts the exported CA, and honours the exported CRL', async (ctx) => {
    const nginx = findBinary('nginx');
    if (nginx === null) ctx.skip(missingPeerNote('nginx'));

    const r = await cli(env, [
      'export',
      '--server',
      '--yes-export-server-key',
      '--out-dir',
      outDir,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const serverKey = path.join(outDir, 'server.key');
    const serverCrt = path.join(outDir, 'server.crt');
    expect(await modeOf(serverKey)).toBe('600');
    expect(await modeOf(serverCrt)).toBe('600');
    expect(await fs.readFile(serverKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const status = JSON.parse((await cli(env, ['status', '--json'])).stdout) as {
      server: { serial: string };
    };
    const log = JSON.parse((await cli(env, ['audit', '--json', '--type', 'server.key'])).stdout) as AuditJson;
    expect(log.records).toHaveLength(1);
    expect(log.records[0]?.serial).toBe(status.server.serial);
    expect(log.records[0]?.details['confirmed']).toBe('flag');

    const alice = await issue(env, 'alice@operators', ['--out-dir', path.join(env.tmp, 'alice')]);
    const mallory = await issue(env, 'mallory', ['--out-dir', path.join(env.tmp, 'mallory')]);
    expect((await cli(env, ['revoke', '--serial', mallory.serial])).code).toBe(0);
    expect((await cli(env, ['export', '--crl', '--out-dir', outDir])).code).toBe(0);

    const dir = await fs.mkdtemp(path.join(env.tmp, 'nginx-'));
    const server = await startNginx(
      nginx as string,
      dir,
      [
        `    ssl_certificate ${serverCrt};`,
        `    ssl_certificate_key ${serverKey};`,
        `    ssl_client_certificate ${path.join(outDir, 'ca.crt')};`,
        `    ssl_crl ${path.join(outDir, 'crl.pem')};`,
        '    ssl_verify_client on;',
        '    location / { return 200 "hello $ssl_client_s_dn $ssl_client_serial\\n"; }',
      ].join('\n'),
    );
    try {
      const curl = (files: { cert: string; key: string } | null) =>
        run('curl', [
          '-sS',
          '--cacert',
          path.join(outDir, 'ca.crt'),
          ...(files ? ['--cert', files.cert, '--key', files.key] : []),
          `https://localhost:${server.port}/`,
        ]);
      // curl checks nginx's certificate (the exported one) against the exported CA, by host name.
      const ok = await curl(alice.files);
      expect(ok.code, ok.stderr + server.log()).toBe(0);
      expect(ok.stdout.trim()).toBe(`hello CN=alice@operators ${alice.serial.toUpperCase()}`);
      const none = await curl(null);
      expect(none.stdout).toContain('400 No required SSL certificate was sent');
      const revoked = await curl(mallory.files);
      expect(revoked.stdout).toContain('400 The SSL certificate error');
      expect(server.log()).toMatch(/certificate revoked/);
    } finally {
      await server.stop();
    }
  });
});

import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  initCa,
  makeEnv,
  openssl,
  removeEnv,
  run,
  snapshot,
  startServe,
  type Env,
} from '../helpers/cli';
import { startUpstream } from '../helpers/gateway-client';

interface CsrIssueJson {
  serial: string;
  name: string;
  files: Record<string, string>;
  keyType: string;
}

interface AuditJson {
  records: { type: string; serial: string | null; details: Record<string, unknown> }[];
}

/** A key and a CSR made by openssl on "the operator's machine", asking for far more than it gets. */
async function opensslCsr(
  dir: string,
  name: string,
  keyArgs: readonly string[],
  extra: readonly string[] = [],
): Promise<{ key: string; csr: string }> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const r = await openssl([
    'req',
    '-new',
    ...keyArgs,
    '-nodes',
    '-keyout',
    key,
    '-subj',
    '/CN=admin/O=Evil Corp',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-addext',
    'subjectAltName=DNS:evil.example,IP:10.0.0.1',
    '-out',
    csr,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { key, csr };
}

const EC_P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

describe('issue-client --csr: the console signs a key it never sees', () => {
  let env: Env;
  let keys: string;
  beforeAll(async () => {
    env = await makeEnv('mtls-csr-');
    await initCa(env);
    keys = path.join(env.tmp, 'operator-machine');
    await fs.mkdir(keys);
  });
  afterAll(() => removeEnv(env));

  it('signs an openssl CSR with our name and our extensions only; the bundle has no key; openssl verifies it', async () => {
    const { key, csr } = await opensslCsr(keys, 'bob', EC_P256);
    const outDir = path.join(env.tmp, 'bob');
    const r = await cli(env, ['issue-client', '--name', 'bob', '--csr', csr, '--out-dir', outDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const issued = JSON.parse(r.stdout) as CsrIssueJson;
    expect(issued.keyType).toBe('EC P-256');
    expect(Object.keys(issued.files).sort()).toEqual(['ca', 'cert']);
    expect((await fs.readdir(outDir)).sort()).toEqual(['bob.crt', 'ca.crt']);

    const cert = path.join(outDir, 'bob.crt');
    const verify = await openssl([
      'verify',
      '-purpose',
      'sslclient',
      '-CAfile',
      path.join(outDir, 'ca.crt'),
      cert,
    ]);
    expect(verify.stdout.trim()).toBe(`${cert}: OK`);
    const text = await openssl([
      'x509',
      '-in',
      cert,
      '-noout',
      '-subject',
      '-ext',
      'basicConstraints,keyUsage,subjectAltName',
    ]);
    expect(text.stdout).toContain('subject=CN = bob\n');
    expect(text.stdout).toMatch(/CA:FALSE/);
    expect(text.stdout).toMatch(/Digital Signature/);
    expect(text.stdout).not.toMatch(/Certificate Sign|evil|10\.0\.0\.1|Subject Alternative Name/);
    // The certified key is the CSR's key.
    const certKey = await openssl(['x509', '-in', cert, '-noout', '-pubkey']);
    const ownKey = await openssl(['pkey', '-in', key, '-pubout']);
    expect(certKey.stdout).toBe(ownKey.stdout);

    const log = JSON.parse(
      (await cli(env, ['audit', '--json', '--type', 'client.issued'])).stdout,
    ) as AuditJson;
    const record = log.records.find((x) => x.serial === issued.serial);
    expect(record?.details['csr']).toEqual({ keyType: 'EC P-256', requestedSubject: 'O=Evil Corp,CN=admin' });
    const list = JSON.parse((await cli(env, ['list', '--json'])).stdout) as {
      serial: string;
      status: string;
    }[];
    expect(list.find((x) => x.serial === issued.serial)?.status).toBe('active');

    // And the gateway lets the key's owner in with it.
    const upstream = await startUpstream();
    const serve = await startServe(env, `http://127.0.0.1:${upstream.port}`);
    try {
      const curl = await run('curl', [
        '-sS',
        '--cacert',
        path.join(outDir, 'ca.crt'),
        '--cert',
        cert,
        '--key',
        key,
        `https://localhost:${serve.port}/csr`,
      ]);
      expect(curl.stdout, curl.stderr).toBe('ok');
      expect(upstream.requests.at(-1)?.['x-forwarded-client-cert']).toMatch(/Subject="CN=bob"/);
    } finally {
      serve.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  it('takes RSA 2048 and P-384, in PEM or DER', async () => {
    const rsa = await opensslCsr(keys, 'rsa', ['-newkey', 'rsa:2048']);
    const p384 = await opensslCsr(
      keys,
      'p384',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
      ['-outform', 'DER'],
    );
    for (const [name, csr, type] of [
      ['rsa-client', rsa.csr, 'RSA 2048'],
      ['p384-client', p384.csr, 'EC P-384'],
    ] as const) {
      const outDir = path.join(env.tmp, name);
      const r = await cli(env, ['issue-client', '--name', name, '--csr', csr, '--out-dir', outDir, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as CsrIssueJson).keyType).toBe(type);
      const v = await openssl([
        'verify',
        '-purpose',
        'sslclient',
        '-CAfile',
        path.join(outDir, 'ca.crt'),
        path.join(outDir, `${name}.crt`),
      ]);
      expect(v.stdout).toContain(': OK');
    }
  });

  describe('refuses with one line (exit 2) and changes nothing', () => {
    const refusals: [string, () => Promise<string[]>, RegExp][] = [
      [
        'a CSR whose signature has one byte flipped',
        async () => {
          const { csr } = await opensslCsr(keys, 'flipped', EC_P256, ['-outform', 'DER']);
          const der = await fs.readFile(csr);
          der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
          await fs.writeFile(csr, der);
          return ['--csr', csr];
        },
        /signature does not verify/,
      ],
      [
        'an RSA 1024 key',
        async () => ['--csr', (await opensslCsr(keys, 'rsa1024', ['-newkey', 'rsa:1024'])).csr],
        /1024 bits; RSA keys must have 2048/,
      ],
      [
        'a P-521 key',
        async () => [
          '--csr',
          (await opensslCsr(keys, 'p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'])).csr,
        ],
        /curve secp521r1; EC keys must be P-256 or P-384/,
      ],
      [
        'an Ed25519 key',
        async () => ['--csr', (await opensslCsr(keys, 'ed', ['-newkey', 'ed25519'])).csr],
        /key type ed25519 is not supported/,
      ],
      [
        'a file that is not a CSR',
        async () => {
          const file = path.join(keys, 'not-a.csr');
          await fs.writeFile(
            file,
            '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
          );
          return ['--csr', file];
        },
        /not a PKCS#10 CSR/,
      ],
      [
        'a CSR with a .p12 password',
        async () => {
          const pw = path.join(keys, 'p12pw');
          await fs.writeFile(pw, 'p12 password\n', { mode: 0o600 });
          return ['--csr', (await opensslCsr(keys, 'withp12', EC_P256)).csr, '--p12-password-file', pw];
        },
        /no \.p12 can be made/,
      ],
    ];

    it.each(refusals)('%s', async (_label, args, message) => {
      const extra = await args();
      const before = await snapshot(env.tmp);
      const r = await cli(env, [
        'issue-client',
        '--name',
        'refused',
        '--out-dir',
        path.join(env.tmp, 'refused'),
        ...extra,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(await snapshot(env.tmp)).toEqual(before);
    });
  });
});
